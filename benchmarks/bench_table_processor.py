"""The data processor of the tables benchmark (a module of its own: mlops pickles it by value).

It returns the benchmark's pandas table, made once per process and kept by ``bench_tables`` (looked
up when the processor runs, so the pickled processor holds the recipe, never the table)."""

from __future__ import annotations

import json
import os
from typing import Any

from mlops.dataset.data_processor import DataProcessor

PARAMS_FILE = "params.json"


class TableProcessor(DataProcessor):
    """``{"X": the table of params.json's size and extra rows}``."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        import bench_tables

        with open(os.path.join(dataset_path, PARAMS_FILE)) as f:
            params = json.load(f)
        return {"X": bench_tables.frame(params["size_mb"], params["extra"])}, {}

    def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
        return self.get_raw_features_and_labels(dataset_path)[0]

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return raw_label_tensor
