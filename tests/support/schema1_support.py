"""The model class and serializer of the committed schema-1 fixture (tests/fixtures/schema1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from mlops import hookimpl
from mlops.model.serializer import ModelSerializer
from mlops.plugins import manager as plugins


class NpyLinear:
    """A linear model: predictions are ``features @ w``."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w


class NpyLinearSerializer(ModelSerializer):
    """Saves :class:`NpyLinear` as ``w.npy`` (no pickle), so the fixture loads with any library versions."""

    name = "schema1-npy-linear"

    def can_save(self, model: Any) -> bool:
        return isinstance(model, NpyLinear)

    def save(self, model: Any, directory: str) -> None:
        np.save(f"{directory}/w.npy", model.w)

    def load(self, directory: str) -> Any:
        return NpyLinear(np.load(f"{directory}/w.npy", allow_pickle=False))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ model.w

    def framework_versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}


class _Plugin:
    @hookimpl
    def mlops_register_serializers(self, register: Any) -> None:
        register(NpyLinearSerializer())


@contextmanager
def npy_linear_plugin() -> Iterator[None]:
    """Register the fixture's serializer for the duration of the block."""
    pm = plugins.get_plugin_manager()
    plugin = _Plugin()
    pm.register(plugin, name="schema1-fixture")
    try:
        yield
    finally:
        pm.unregister(plugin)
