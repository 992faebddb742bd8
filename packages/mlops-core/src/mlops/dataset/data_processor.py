"""The interface users implement to turn raw data into tensors.

A processor is stored with every dataset it builds (by value, see :mod:`mlops.dataset.by_value`), so data
that arrives years later is processed exactly as the training data was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class DataProcessor(ABC):
    """Turns a raw dataset into named feature and label tensors.

    Subclasses implement the four abstract methods; the two ``get_preprocessed_*`` methods combine
    them and are what mlops calls.
    """

    @abstractmethod
    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Return raw ``(features, labels)`` read from ``dataset_path``, e.g.
        ``({'X_train': ..., 'X_val': ...}, {'y_train': ..., 'y_val': ...})``."""

    @abstractmethod
    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        """Return raw features read from ``dataset_path`` when there are no labels,
        e.g. ``{'X_pred': ...}`` for data to predict on."""

    @abstractmethod
    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        """Return the model-ready version of one raw feature tensor."""

    @abstractmethod
    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        """Return the model-ready version of one raw label tensor."""

    def get_preprocessed_features_and_labels(
        self, dataset_path: str
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Return preprocessed ``(features, labels)``: every raw tensor through its preprocess method."""
        raw_features, raw_labels = self.get_raw_features_and_labels(dataset_path)
        features = {name: self.preprocess_features(t) for name, t in _items(raw_features, "features")}
        labels = {name: self.preprocess_labels(t) for name, t in _items(raw_labels, "labels")}
        return features, labels

    def get_preprocessed_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        """Return preprocessed features of unlabelled data, e.g. new data to predict on."""
        raw_features = self.get_raw_features(dataset_path)
        return {name: self.preprocess_features(t) for name, t in _items(raw_features, "features")}


def _items(tensors: Any, what: str) -> list[tuple[str, Any]]:
    """The items of a processor's dict output, or a clear error when it is not a dict."""
    from mlops.errors import InvalidProcessorOutputError

    if not isinstance(tensors, dict):
        raise InvalidProcessorOutputError(
            f"the processor's raw {what} must be a dict of name -> numpy array, got {type(tensors).__name__}"
        )
    return list(tensors.items())
