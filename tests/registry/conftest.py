"""Fixtures of the registry tests (aliases, ROOT@ALIAS, gc): small datasets published on each kind
of store, and a framework-free model serializer so models can be published without a framework."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from linear_model import LinearSerializer, registered
from mlops.trust.keys import generate_key_pair


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
