"""Tiny published models for the serving tests (Predictor, ``mlops predict``, the MLflow export):
a 3-class dataset whose invertible processor answers class names, and one small model per framework
trained on it, plus the hand-wired pipeline every prediction must equal."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.invertible_data_processor import InvertibleDataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder

CLASSES = np.array(["setosa", "versicolor", "virginica"])
FEATURES = 4


def write_flowers(folder: str | os.PathLike[str], n: int = 60, seed: int = 0) -> str:
    """``folder/flowers.csv``: 4 measurements then a class index (0, 1, 2) per row, 3 separable clusters."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, FEATURES)) + 3.0 * y[:, None]
    os.makedirs(folder, exist_ok=True)
    np.savetxt(os.path.join(folder, "flowers.csv"), np.column_stack([x, y]), delimiter=",", fmt="%.4f")
    return os.fspath(folder)


def _read(folder: str) -> np.ndarray:
    return np.loadtxt(os.path.join(folder, "flowers.csv"), delimiter=",", ndmin=2)


class PlainFlowerProcessor(DataProcessor):
    """Scaled float32 features, one-hot labels; not invertible: predictions stay the model's output."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rows = _read(dataset_path)
        x, y = rows[:, :FEATURES], rows[:, FEATURES].astype(np.int64)
        return {"X_train": x[8:], "X_test": x[:8]}, {"y_train": y[8:], "y_test": y[:8]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": _read(dataset_path)[:, :FEATURES]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return ((np.asarray(raw_feature_tensor, dtype=np.float64) - 3.0) / 3.0).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return np.eye(3, dtype=np.float32)[raw_label_tensor]


class FlowerProcessor(PlainFlowerProcessor, InvertibleDataProcessor):
    """The same, invertible: predictions read back as class names."""

    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        return feature_tensor * 3.0 + 3.0

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        return CLASSES[np.argmax(np.asarray(label_tensor), axis=-1)]


def publish_flowers(
    base: str | os.PathLike[str], *, invertible: bool = True, seed: int = 0
) -> tuple[VersionedDataset, str]:
    """(dataset, raw folder) published under ``base``."""
    raw = write_flowers(Path(base) / "raw", seed=seed)
    processor = FlowerProcessor() if invertible else PlainFlowerProcessor()
    path = VersionedDatasetBuilder(raw, processor).publish(str(Path(base) / "datasets"), "v1")
    return VersionedDataset(path), raw


def train(framework: str, dataset: VersionedDataset) -> Any:
    """A small model of ``framework`` (sklearn, xgboost, keras, torch) fitted on the one-hot labels."""
    x, y = np.asarray(dataset.X_train), np.asarray(dataset.y_train)
    if framework == "sklearn":
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y)
    if framework == "xgboost":
        import xgboost

        return xgboost.XGBRegressor(n_estimators=5, max_depth=2, tree_method="hist", n_jobs=1).fit(x, y)
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(3, activation="softmax")])
        model.compile("adam", loss="categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        return model
    if framework == "torch":
        import torch

        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(FEATURES, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    raise ValueError(framework)


def publish_model(base: str | os.PathLike[str], dataset: VersionedDataset, framework: str) -> str:
    root = f"{os.fspath(base).rstrip('/')}/models"  # a local folder or a URL (s3://...): not a Path
    return VersionedModelBuilder(dataset, train(framework, dataset)).publish(root, framework)


def by_hand(model_path: str, raw: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """The hand-wired pipeline: get_preprocessed_features -> model.predict -> unpreprocess_labels."""
    model = VersionedModel(model_path)
    processor = model.dataset.data_processor
    predictions = model.predict(processor.get_preprocessed_features(os.fspath(raw)))
    if isinstance(processor, InvertibleDataProcessor):
        return predictions, processor.unpreprocess_labels(predictions)
    return predictions, None
