"""Fixtures of the registry, transfer and command-line tests: small datasets and models to find,
copy, tag and inspect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops import hookimpl
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.serializer import ModelSerializer
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.plugins import manager as plugins
from sample_processors import CsvProcessor, write_raw


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A content cache per test (inherited by the mlops processes tests start): blobs verified
    here must not satisfy later tests that expect a cold cache, e.g. to detect tampering."""
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "mlops-cache"))


class Linear:
    """A framework-free model: predictions are features @ w."""

    def __init__(self, w: np.ndarray) -> None:
        self.w = w


class LinearSerializer(ModelSerializer):
    name = "cli-test-linear"

    def can_save(self, model: Any) -> bool:
        return isinstance(model, Linear)

    def save(self, model: Any, directory: str) -> None:
        np.save(f"{directory}/w.npy", model.w)

    def load(self, directory: str) -> Any:
        return Linear(np.load(f"{directory}/w.npy"))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        return np.asarray(features, dtype=np.float64) @ model.w


class _Plugin:
    @hookimpl
    def mlops_register_serializers(self, register: Any) -> None:
        register(LinearSerializer())


@pytest.fixture
def linear_plugin() -> Iterator[None]:
    """Registers the ``cli-test-linear`` serializer for the duration of a test."""
    pm = plugins.get_plugin_manager()
    plugin = _Plugin()
    pm.register(plugin)
    yield
    pm.unregister(plugin)


PublishDataset = Callable[..., str]
PublishModel = Callable[..., str]


@pytest.fixture
def publish_dataset(tmp_path: Path) -> PublishDataset:
    """``publish(root, version, tags=None, n=12, seed=0)``: a CsvProcessor dataset from ``n``
    generated rows (``seed`` varies the content); returns the version's path."""

    def publish(root: str, version: str, *, tags: list[str] | None = None, n: int = 12, seed: int = 0) -> str:
        raw = write_raw(str(tmp_path / f"raw-{n}-{seed}"), n=n, seed=seed)
        return VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, version, tags=tags)

    return publish


@pytest.fixture
def publish_model(linear_plugin: None) -> PublishModel:
    """``publish(dataset_path, root, version=None, tags=None, history=None)``: a Linear model
    trained on that dataset; returns the version's path."""

    def publish(
        dataset_path: str,
        root: str,
        version: str | None = None,
        *,
        tags: list[str] | None = None,
        history: dict[str, list[float]] | None = None,
    ) -> str:
        config = TrainingConfig(history or {"loss": [0.9, 0.5, 0.3]}, {"epochs": 3})
        return VersionedModelBuilder(dataset_path, Linear(np.array([0.5, -1.0])), config).publish(
            root, version, tags=tags
        )

    return publish
