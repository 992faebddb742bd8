"""Fixtures of the signing tests: key pairs made by mlops itself, in a test's own folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.trust.keys import generate_key_pair


def _pair(folder: Path, name: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    private, public = generate_key_pair(folder / name)
    return Path(private), Path(public)


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Path, Path]:
    """``(private, public)`` paths of a fresh ECDSA P-256 pair written by ``generate_key_pair``."""
    return _pair(tmp_path / "keys", "team")


@pytest.fixture
def other_key_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A second, unrelated key pair (a key the loader does not trust)."""
    return _pair(tmp_path / "other-keys", "intruder")
