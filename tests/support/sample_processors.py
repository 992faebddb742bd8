"""Processors used by the core tests: a small CSV-reading processor, written as a user would."""

from __future__ import annotations

import os

import numpy as np

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.invertible_data_processor import InvertibleDataProcessor

SCALE = 10.0


def read_csv(path: str) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", ndmin=2)


def write_raw(folder: str, n: int = 12, seed: int = 0) -> str:
    """A raw dataset: ``data.csv`` (2 features and a 0/1 label per row) and a nested binary file."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "extra", "deep"), exist_ok=True)
    rows = np.column_stack([rng.normal(size=(n, 2)).round(3), rng.integers(0, 2, size=n)])
    np.savetxt(os.path.join(folder, "data.csv"), rows, delimiter=",", fmt="%.3f")
    with open(os.path.join(folder, "extra", "deep", "blob.bin"), "wb") as f:
        f.write(rng.bytes(3000))
    return folder


class CsvProcessor(InvertibleDataProcessor):
    """Splits data.csv into train/test features and one-hot labels."""

    def __init__(self, split: float = 0.75) -> None:
        self.split = split

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rows = read_csv(os.path.join(dataset_path, "data.csv"))
        cut = int(len(rows) * self.split)
        x, y = rows[:, :2], rows[:, 2].astype(int)
        return {"X_train": x[:cut], "X_test": x[cut:]}, {"y_train": y[:cut], "y_test": y[cut:]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": read_csv(os.path.join(dataset_path, "data.csv"))[:, :2]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return (raw_feature_tensor * SCALE).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return np.eye(2, dtype=np.float32)[raw_label_tensor]

    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        return feature_tensor / SCALE

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        return np.argmax(label_tensor, axis=-1)


class FixedProcessor(DataProcessor):
    """Returns whatever it was given: lets tests feed arbitrary (also invalid) processor output."""

    def __init__(self, features: object, labels: object) -> None:
        self.features = features
        self.labels = labels

    def get_raw_features_and_labels(self, dataset_path: str):  # type: ignore[no-untyped-def]
        return self.features, self.labels

    def get_raw_features(self, dataset_path: str):  # type: ignore[no-untyped-def]
        return self.features

    def preprocess_features(self, raw_feature_tensor):  # type: ignore[no-untyped-def]
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor):  # type: ignore[no-untyped-def]
        return raw_label_tensor
