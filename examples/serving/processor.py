"""The processor of the example's dataset, written as a user would: it is stored by value with the
dataset, so ``mlops predict``, ``mlops serve`` and the MLflow export run this exact code on new
data, without this file being importable where they run."""

from __future__ import annotations

import os

import numpy as np

from mlops import InvertibleDataProcessor

CLASSES = np.array(["cold", "mild", "hot"])
"""What the model answers, by name."""


def read_readings(folder: str) -> np.ndarray:
    """``readings.csv``: temperature (deg C), humidity (%), wind (km/h), then the class index (or -1 when unknown)."""
    return np.loadtxt(os.path.join(folder, "readings.csv"), delimiter=",", ndmin=2, skiprows=1)


class WeatherProcessor(InvertibleDataProcessor):
    """Standardised readings in; one-hot classes for training; class names back out."""

    MEAN = np.array([15.0, 60.0, 15.0])
    SCALE = np.array([10.0, 20.0, 10.0])

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rows = read_readings(dataset_path)
        x, y = rows[:, :3], rows[:, 3].astype(np.int64)
        test = np.arange(len(rows)) % 5 == 0
        return {"X_train": x[~test], "X_test": x[test]}, {"y_train": y[~test], "y_test": y[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": read_readings(dataset_path)[:, :3]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return ((np.asarray(raw_feature_tensor, dtype=np.float64) - self.MEAN) / self.SCALE).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return np.eye(len(CLASSES), dtype=np.float32)[raw_label_tensor]

    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        return feature_tensor * self.SCALE + self.MEAN

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        return CLASSES[np.argmax(label_tensor, axis=-1)]
