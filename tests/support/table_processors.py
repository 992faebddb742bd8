# mypy: disable-error-code="no-untyped-call"
# (dask ships no type hints)
"""Processors that return tables (pandas, polars, Arrow, dask DataFrames), as users write them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from mlops.dataset.data_processor import DataProcessor


def write_raw(folder: str) -> str:
    """A raw dataset of one small file (the processors here make their tables themselves)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "source.txt"), "w") as f:
        f.write("generated\n")
    return folder


class TablesProcessor(DataProcessor):
    """Returns what ``make()`` returns: ``(features, labels)`` built when the processor runs, so the
    pickled processor holds the recipe, not the data."""

    def __init__(self, make: Callable[[], tuple[dict[str, Any], dict[str, Any]]]) -> None:
        self.make = make

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.make()

    def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
        return self.make()[0]

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return raw_label_tensor


def numeric_frame(rows: int, seed: int = 0) -> Any:
    """A pandas DataFrame of ``rows`` rows whose first N rows are the same for every ``rows >= N``."""
    import pandas as pd

    index = np.arange(rows)
    return pd.DataFrame(
        {
            "a": np.sin(index * 0.001 + seed),
            "b": (index * 7919 % 10007).astype(np.int64),
            "c": np.cos(index * 0.003) * 1000,
            "d": (index % 13 == 0),
            "e": (index * 31 % 1000).astype(np.float32),
        }
    )


PARTITION_ROWS = 250
COMPUTED: list[int] = []
"""The partitions computed in this process: the cluster test checks the client computes none."""


def partition(number: int) -> Any:
    """Partition ``number`` of the dask DataFrame below: computed on a worker (this module is on
    the workers' PYTHONPATH), never on the client."""
    COMPUTED.append(number)
    return _rows(np.arange(number * PARTITION_ROWS, (number + 1) * PARTITION_ROWS))


def _rows(index: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "x": index.astype(np.float64) / 10,
            "label": pd.array(np.where(index % 3 == 0, "yes", "no"), dtype="string[pyarrow]"),
        },
        index=pd.Index(index, name="row"),
    )


def dask_frame(partitions: int = 4) -> Any:
    """A dask DataFrame of ``partitions`` partitions of PARTITION_ROWS rows each, built lazily."""
    import dask.dataframe as dd

    return dd.from_map(partition, range(partitions), meta=_rows(np.arange(0)))


class DaskTableProcessor(DataProcessor):
    """Features: a dask DataFrame of ``partitions`` partitions, each made on a worker."""

    def __init__(self, partitions: int = 4) -> None:
        self.partitions = partitions

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"X_train": dask_frame(self.partitions)}, {}

    def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
        return {"X_train": dask_frame(self.partitions)}

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return raw_label_tensor
