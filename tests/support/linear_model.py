"""A framework-free model and its serializer, for tests that publish models without a framework
(the registry tests: aliases of models, gc keeping the datasets models were trained on)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.model.serializer import ModelSerializer


class Linear:
    """A model: one weight vector."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w


class LinearSerializer(ModelSerializer):
    name = "test-registry-linear"

    def can_save(self, model: Any) -> bool:
        return isinstance(model, Linear)

    def save(self, model: Any, directory: str) -> None:
        np.save(f"{directory}/w.npy", model.w)

    def load(self, directory: str) -> Any:
        return Linear(np.load(f"{directory}/w.npy"))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ model.w

    def framework_versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}
