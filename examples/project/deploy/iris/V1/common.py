"""Helpers shared by create_bento_model.py and service.py.

Their instances are stored in the BentoML model's custom objects (as the
template's fun1/fun2 are), so they must stay importable as ``common``: BentoML
copies this folder into the bento, and the service imports from it.
"""

from typing import List

import pandas as pd

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class FeatureBuilder:
    """Turns the request's records into the model's input frame."""

    def __init__(self, columns: List[str]):
        self.columns = list(columns)

    def __call__(self, data: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.columns if c not in data.columns]
        if missing:
            raise ValueError(f"missing columns: {missing}")
        return data[self.columns].astype("float64")


class LabelFormatter:
    """Turns the model's output into plain strings for JSON."""

    def __call__(self, predictions) -> List[str]:
        return [str(p) for p in predictions]


def feature_builder() -> FeatureBuilder:
    return FeatureBuilder(FEATURES)


def label_formatter() -> LabelFormatter:
    return LabelFormatter()
