"""Fixtures of the registry tests (aliases, ROOT@ALIAS, gc): small datasets published on each kind
of store, and a framework-free model serializer so models can be published without a framework."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from linear_model import LinearSerializer, registered
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.trust.keys import generate_key_pair
from sample_processors import CsvProcessor


@pytest.fixture
def linear_plugin() -> Iterator[None]:
    """Registers :class:`LinearSerializer` for the test."""
    with registered(LinearSerializer()):
        yield


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Path, Path]:
    """``(private, public)`` paths of a fresh signing key pair."""
    (tmp_path / "keys").mkdir()
    private, public = generate_key_pair(tmp_path / "keys" / "team")
    return Path(private), Path(public)


@pytest.fixture
def other_key_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A second, untrusted key pair."""
    (tmp_path / "other").mkdir()
    private, public = generate_key_pair(tmp_path / "other" / "intruder")
    return Path(private), Path(public)


@pytest.fixture
def root(tmp_path: Path, raw_dir: str) -> str:
    """A local root holding v1, v2 and v3."""
    path = str(tmp_path / "datasets")
    for version in ("v1", "v2", "v3"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(path, version)
    return path
