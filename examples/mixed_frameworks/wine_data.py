"""The tabular dataset every model of this example is trained on: scikit-learn's bundled wine data
(178 wines, 13 chemical measurements, 3 cultivars), written as a CSV and read by a processor.

The processor below is stored by value with the dataset, so the leaderboard (or anyone later)
needs none of this code to use the dataset.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from mlops import InvertibleDataProcessor, VersionedDataset, VersionedDatasetBuilder

LABEL_COLUMN = "cultivar"


def write_raw_data(folder: str) -> str:
    """Write ``folder/wine.csv`` (13 measurements and the cultivar per row); return ``folder``."""
    from sklearn.datasets import load_wine

    data = load_wine()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "wine.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*data.feature_names, LABEL_COLUMN])
        for features, target in zip(data.data, data.target, strict=True):
            writer.writerow([f"{v:.6g}" for v in features] + [data.target_names[target]])
    return folder


def stratified_split(labels: np.ndarray, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
    """Row indices of each part, every class split in the same ``fractions`` (a fixed ``seed``
    makes the split reproducible): small test sets then still hold every class fairly."""
    rng = np.random.default_rng(seed)
    bounds = np.cumsum(fractions)[:-1]
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for cls in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        for part, chunk in zip(parts, np.split(rows, np.round(bounds * len(rows)).astype(int)), strict=True):
            part.append(chunk)
    return [rng.permutation(np.concatenate(part)) for part in parts]


class WineProcessor(InvertibleDataProcessor):
    """Reads wine.csv, splits it 60/20/20 into train/val/test
    (stratified, fixed seed), standardises the
    measurements with the training split's statistics, and encodes cultivars as class indices."""

    def __init__(self) -> None:
        self.classes: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _read(self, dataset_path: str) -> tuple[np.ndarray, np.ndarray | None]:
        with open(os.path.join(dataset_path, "wine.csv"), newline="") as f:
            header, *rows = list(csv.reader(f))
        has_labels = header[-1] == LABEL_COLUMN
        width = len(header) - 1 if has_labels else len(header)
        features = np.array([[float(v) for v in row[:width]] for row in rows], dtype=np.float32)
        return features, (np.array([row[-1] for row in rows]) if has_labels else None)

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        x, y = self._read(dataset_path)
        if y is None:
            raise ValueError(f"wine.csv in {dataset_path} has no {LABEL_COLUMN!r} column to train on")
        train, val, test = stratified_split(y, (0.6, 0.2, 0.2), seed=1)
        self.classes = np.unique(y)
        self.mean, self.std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
        features = {"X_train": x[train], "X_val": x[val], "X_test": x[test]}
        return features, {"y_train": y[train], "y_val": y[val], "y_test": y[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": self._read(dataset_path)[0]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return np.asarray((raw_feature_tensor - self.mean) / self.std, dtype=np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        assert self.classes is not None, "the classes are learnt from the training data first"
        return np.asarray(np.searchsorted(self.classes, raw_label_tensor), dtype=np.int64)

    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(feature_tensor) * self.std + self.mean)

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        """Cultivar names for class indices, or for per-class scores (the highest wins)."""
        assert self.classes is not None
        tensor = np.asarray(label_tensor)
        return np.asarray(self.classes[tensor.argmax(axis=-1) if tensor.ndim > 1 else tensor.astype(int)])


def publish_dataset(raw: str, store: str) -> VersionedDataset:
    """Publish the raw wine CSV under ``store/datasets/wine`` (version: the publication time)."""
    path = VersionedDatasetBuilder(raw, WineProcessor()).publish(f"{store}/datasets/wine", tags=["tabular", "wine"])
    dataset = VersionedDataset(path).prefetch()  # every tensor now (from S3: downloaded concurrently)
    print(f"published dataset {dataset.name} {dataset.version}\n  at {dataset.path}\n  hash {dataset.hash}")
    print(f"  tensors: {', '.join(f'{n}{tuple(dataset[n].shape)}' for n in dataset.tensor_names)}")
    return dataset
