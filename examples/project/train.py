"""Train a tiny iris-like classifier and log it to MLflow.

The data is made here (three Gaussian blobs shaped like the iris species), so
nothing is downloaded. The model goes to the tracking server named by
MLFLOW_TRACKING_URI and is registered as ``iris-classifier``: the deploy target
``deploy/iris/V1`` imports ``models:/iris-classifier/latest``, so a new training
run needs no edit there. The run's own URI (``runs:/<id>/model``) is printed too,
for pinning an exact run the way the template's create_bento_model.py does.

    python train.py            # prints run_id=..., model_uri=..., registered=...
"""

import os
import sys
from importlib.metadata import version

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

REGISTERED_MODEL = "iris-classifier"
EXPERIMENT = "iris"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# Per-species feature means and spreads, close to Fisher's iris data.
SPECIES = {
    "setosa": ([5.0, 3.4, 1.5, 0.25], [0.35, 0.38, 0.17, 0.10]),
    "versicolor": ([5.9, 2.8, 4.3, 1.33], [0.52, 0.31, 0.47, 0.20]),
    "virginica": ([6.6, 3.0, 5.55, 2.03], [0.64, 0.32, 0.55, 0.27]),
}


def make_data(per_class: int = 50, seed: int = 7) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frames, labels = [], []
    for name, (mean, std) in SPECIES.items():
        frames.append(pd.DataFrame(rng.normal(mean, std, size=(per_class, 4)).round(1), columns=FEATURES))
        labels += [name] * per_class
    return pd.concat(frames, ignore_index=True), pd.Series(labels, name="species")


def main() -> int:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        print("MLFLOW_TRACKING_URI is not set (source the stack's env.sh)", file=sys.stderr)
        return 2
    X, y = make_data()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X, y)
    accuracy = float(model.score(X, y))

    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run() as run:
        mlflow.log_params({"model": "logistic_regression", "rows": len(X)})
        mlflow.log_metric("train_accuracy", accuracy)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X, model.predict(X)),
            input_example=X.head(3),
            registered_model_name=REGISTERED_MODEL,
            # Spelled out: inferring them loads the model in a subprocess (~15 s).
            pip_requirements=[
                f"mlflow-skinny=={mlflow.__version__}",
                f"scikit-learn=={sklearn.__version__}",
                f"pandas=={pd.__version__}",
                f"numpy=={np.__version__}",
                # MLflow 3 saves scikit-learn models in skops format by default.
                f"skops=={version('skops')}",
            ],
        )
    print(f"run_id={run.info.run_id}")
    print(f"model_uri=runs:/{run.info.run_id}/model")
    print(f"registered=models:/{REGISTERED_MODEL}/{info.registered_model_version}")
    print(f"train_accuracy={accuracy:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
