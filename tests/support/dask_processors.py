# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""A processor that returns dask arrays, written as a user with a larger-than-memory dataset would."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mlops.dataset.data_processor import DataProcessor

ROWS, COLS, CHUNK = 100, 3, 25
COMPUTED: list[int] = []
"""One entry per block computed in this process: the tests check nothing runs before publish."""


def write_raw(folder: str, seed: int = 0) -> str:
    """A raw dataset: ``rows.npy``, ROWS x COLS floats."""
    os.makedirs(folder, exist_ok=True)
    rows = np.random.default_rng(seed).normal(size=(ROWS, COLS)).astype(np.float32)
    np.save(os.path.join(folder, "rows.npy"), rows)
    return folder


def expected(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """What the processor's X_train and y_train hold, computed eagerly with numpy."""
    rows = np.load(os.path.join(folder, "rows.npy"))
    return rows * 2, (rows[:, 0] > 0).astype(np.int8)


def _counted(block: np.ndarray, delay: float = 0.0) -> np.ndarray:
    if delay:
        import time

        time.sleep(delay)
    if block.size:  # dask calls it once on an empty block to learn the output's type
        COMPUTED.append(block.shape[0])  # atomic under the GIL
    return block


class DaskProcessor(DataProcessor):
    """Reads rows.npy lazily in CHUNK-row blocks; features and labels are dask arrays, plus one
    small numpy tensor, so both formats meet in one version. ``delay`` slows each block down (for
    tests that kill a process mid-publish)."""

    def __init__(self, delay: float = 0.0, chunk: int = CHUNK) -> None:
        self.delay = delay
        self.chunk = chunk

    def _rows(self, dataset_path: str) -> Any:
        import dask.array as da

        rows = np.load(os.path.join(dataset_path, "rows.npy"), mmap_mode="r")
        return da.from_array(rows, chunks=(self.chunk, COLS)).map_blocks(_counted, self.delay, dtype=rows.dtype)

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        rows = self._rows(dataset_path)
        return {"X_train": rows, "X_small": np.arange(5, dtype=np.int64)}, {"y_train": rows[:, 0]}

    def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
        return {"X_train": self._rows(dataset_path)}

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        return raw_feature_tensor * 2 if raw_feature_tensor.ndim == 2 else raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return (raw_label_tensor > 0).astype(np.int8)
