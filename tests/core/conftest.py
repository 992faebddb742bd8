"""Fixtures of the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_processors import write_raw


@pytest.fixture
def raw_dir(tmp_path: Path) -> str:
    """A small raw dataset on local disk (a CSV and a nested binary file)."""
    return write_raw(str(tmp_path / "raw"))
