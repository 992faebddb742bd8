"""A framework-free model for tests of the core: :class:`Linear` (predictions are ``features @ w``),
a serializer that saves it without pickle, and a way to register serializers during a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from mlops import hookimpl
from mlops.model.serializer import ModelSerializer
from mlops.plugins import manager as plugins


class Linear:
    """A linear model: predictions are ``features @ w``."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w


class LinearSerializer(ModelSerializer):
    """Saves :class:`Linear` as ``w.npy`` (no pickle, so the files load with any library versions).
    Tests subclass it to store it under another ``name`` or write more files."""

    name = "test-linear"

    def can_save(self, model: Any) -> bool:
        return isinstance(model, Linear)

    def save(self, model: Any, directory: str) -> None:
        np.save(f"{directory}/w.npy", model.w)

    def load(self, directory: str) -> Any:
        return Linear(np.load(f"{directory}/w.npy", allow_pickle=False))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ model.w

    def framework_versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}


class _Plugin:
    def __init__(self, serializers: tuple[ModelSerializer, ...]) -> None:
        self.serializers = serializers

    @hookimpl
    def mlops_register_serializers(self, register: Any) -> None:
        for serializer in self.serializers:
            register(serializer)


@contextmanager
def registered(*serializers: ModelSerializer, name: str | None = None) -> Iterator[None]:
    """Register ``serializers`` (one in-test plugin, named ``name``) for the duration of the block."""
    pm = plugins.get_plugin_manager()
    plugin = _Plugin(serializers)
    pm.register(plugin, name=name)
    try:
        yield
    finally:
        pm.unregister(plugin)
