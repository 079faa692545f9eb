"""Import the MLflow model into the local BentoML store (run before `bentoml build`).

``models:/iris-classifier/latest`` is resolved against MLFLOW_TRACKING_URI (the
team's VPN-only server; the local stack's mlflow here). Set IRIS_MODEL_URI to
pin a run instead, e.g. ``runs:/<run_id>/model`` as printed by ../../../train.py.
"""

import os

import bentoml
import mlflow
import pandas as pd

from common import feature_builder, label_formatter

_current_dir = os.path.dirname(os.path.abspath(__file__))
_sample_input_path = os.path.join(_current_dir, "example_input.csv")

_model_uri = os.environ.get("IRIS_MODEL_URI", "models:/iris-classifier/latest")

# Which MLflow run the model comes from, kept in the BentoML model's metadata so that
# mldeploy can label the image with it (`bentoml models get <tag> -o json` reads it back).
_run_id = mlflow.models.get_model_info(_model_uri).run_id

bento_model = bentoml.mlflow.import_model(
    "iris-classifier",
    model_uri=_model_uri,
    metadata={"mlflow_model_uri": _model_uri, "mlflow_run_id": _run_id or ""},
    signatures={"predict": {"batchable": False, "batch_dim": 0}},
    custom_objects={
        "x_builder": feature_builder(),
        "formatter": label_formatter(),
        "sample_input": pd.read_csv(
            _sample_input_path,
        ),
    },
)
"""
Este es el paso donde importamos el modelo de *mlflow* a *bentoml* para su posterior
dockerización
"""
print(f"Imported {_model_uri} as {bento_model.tag}")
