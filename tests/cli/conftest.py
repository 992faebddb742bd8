"""Fixtures of the registry, transfer and command-line tests: small datasets and models to find,
copy, tag and inspect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from linear_model import Linear, LinearSerializer, registered
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model_builder import VersionedModelBuilder
from sample_processors import CsvProcessor, write_raw


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A content cache per test (inherited by the mlops processes tests start): blobs verified
    here must not satisfy later tests that expect a cold cache, e.g. to detect tampering."""
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "mlops-cache"))


class CliLinearSerializer(LinearSerializer):
    name = "cli-test-linear"

    def framework_versions(self) -> dict[str, str]:
        return {}


@pytest.fixture
def linear_plugin() -> Iterator[None]:
    """Registers the ``cli-test-linear`` serializer for the duration of a test."""
    with registered(CliLinearSerializer()):
        yield


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
