"""Servicio API Iris (V1)."""

import json
import os
from importlib.metadata import version
from typing import Annotated, Any, Dict, List

import bentoml
import pandas as pd
from bentoml.models import BentoModel

from common import FEATURES

# No Docker Hub here: the base is the local Debian bookworm image made by
# scripts/setup-system.sh (python3.11 and uv inside, as BentoML's Dockerfile needs).
BASE_IMAGE = os.environ.get("MLDEPLOY_BASE_IMAGE", "localhost/mldeploy-base:bookworm")

image = (
    bentoml.images.Image(base_image=BASE_IMAGE, python_version="3.11", distro="debian")
    # Same versions as the environment that trained/imported the model.
    .python_packages(
        f"mlflow-skinny=={version('mlflow-skinny')}",
        f"scikit-learn=={version('scikit-learn')}",
        f"pandas=={version('pandas')}",
        # pandas 3 stores string labels (the sample input's column names) with
        # pyarrow when it is installed: unpickling them needs it too.
        f"pyarrow=={version('pyarrow')}",
        # MLflow 3 saves scikit-learn models with skops (mlflow-skinny lacks it).
        f"skops=={version('skops')}",
    )
    .run('echo "Python packages installed"')
)

custom_objects = bentoml.mlflow.get("iris-classifier:latest").custom_objects
sample_input = custom_objects["sample_input"]
example = json.dumps(sample_input.to_dict(orient="records"))


class InputDataModel(bentoml.IODescriptor):
    """Modelo de datos para la api de Iris.

    Args:
      data: registros con las columnas de FEATURES
    """

    data: Annotated[
        pd.DataFrame,
        bentoml.validators.DataframeSchema(
            orient="records",
            columns=FEATURES,
        ),
    ] = example


@bentoml.service(image=image)
class IrisV1:
    """IrisV1 API service."""

    model = BentoModel("iris-classifier:latest")

    def __init__(self):
        """Carga el modelo y los helpers guardados junto a él."""
        self.modelV1 = bentoml.mlflow.load_model(self.model)
        self.x_builder = custom_objects["x_builder"]
        self.formatter = custom_objects["formatter"]

    @bentoml.api(
        input_spec=InputDataModel,
        route="/predict",
    )
    def predict(self, **params: Any) -> Dict[str, List[str]]:
        """
        Predict.

        Args:
          data: DataFrame

        Returns:
          {"prediction": [species, ...]}
        """
        X = self.x_builder(params["data"])
        y = self.modelV1.predict(X)
        return {"prediction": self.formatter(y)}
