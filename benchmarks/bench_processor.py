"""The data processor of the benchmark dataset (a module of its own: mlops pickles it by value,
so it imports nothing but numpy and mlops, and stays small in ``data_processor.pkl``)."""

from __future__ import annotations

import json
import os

import numpy as np

from mlops.dataset.data_processor import DataProcessor

FEATURES = 256
"""float32 values per row: one row is 1 KiB, so ``size_mb`` MB of features is ``size_mb * 1024`` rows."""
SPLITS = {"train": 0.70, "val": 0.15, "test": 0.15}
PARAMS_FILE = "params.json"
_BLOCK = 1 << 20


def make_tensors(size_mb: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``size_mb`` MB of float32 features split 70/15/15 into X_train, X_val, X_test, plus int64
    label vectors y_*. Deterministic for a given ``(size_mb, seed)``; built by tiling one random
    block (shifted per block, so no two blocks are equal) to keep generation at memory speed."""
    rng = np.random.default_rng(seed)
    block = rng.standard_normal(_BLOCK, dtype=np.float32)
    rows = size_mb * 1024
    counts = [int(rows * SPLITS["train"]), int(rows * SPLITS["val"])]
    counts.append(rows - sum(counts))
    features, labels = {}, {}
    offset = 0
    for (split, _), count in zip(SPLITS.items(), counts, strict=True):
        flat = np.empty(count * FEATURES, dtype=np.float32)
        for i, start in enumerate(range(0, flat.size, _BLOCK)):
            stop = min(start + _BLOCK, flat.size)
            np.add(block[: stop - start], np.float32(offset + i), out=flat[start:stop])
        offset += flat.size // _BLOCK + 1
        features[f"X_{split}"] = flat.reshape(count, FEATURES)
        labels[f"y_{split}"] = (np.arange(count, dtype=np.int64) * 7 + seed) % 10
    return features, labels


class BenchProcessor(DataProcessor):
    """Builds the benchmark tensors from ``params.json`` in the raw folder (size and seed)."""

    def _params(self, dataset_path: str) -> dict[str, int]:
        with open(os.path.join(dataset_path, PARAMS_FILE)) as f:
            params: dict[str, int] = json.load(f)
        return params

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        params = self._params(dataset_path)
        return make_tensors(params["size_mb"], params["seed"])

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        features, _ = self.get_raw_features_and_labels(dataset_path)
        return {"X_pred": features["X_test"]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor
