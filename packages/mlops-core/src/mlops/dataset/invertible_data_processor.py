"""A processor that can also map model-space tensors back to the raw space."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from mlops.dataset.data_processor import DataProcessor


class InvertibleDataProcessor(DataProcessor):
    """A :class:`DataProcessor` whose preprocessing can be undone, e.g. to turn a model's
    one-hot predictions back into class names."""

    @abstractmethod
    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        """Return the raw-space version of a preprocessed feature tensor."""

    @abstractmethod
    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        """Return the raw-space version of a preprocessed label tensor (or of predictions)."""
