"""Fixtures of the reliability tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from reliability_support import SerialMotoServer

from s3_environment import new_bucket


@pytest.fixture(scope="session")
def serial_s3(s3_server: str) -> Iterator[str]:
    """Endpoint of a one-request-at-a-time moto server (sharing moto's state with ``s3_server``)."""
    server = SerialMotoServer()
    endpoint = server.start()
    yield endpoint
    server.stop()


@pytest.fixture
def serial_bucket(serial_s3: str) -> str:
    """A new, empty bucket, reached through the one-request-at-a-time server."""
    return new_bucket(serial_s3, "race")


@pytest.fixture
def medium_raw(tmp_path: Path) -> str:
    """A raw dataset large enough that publishing it takes a noticeable moment (about 3 MB over 40
    files), so that kills and races land in the middle of publications."""
    from sample_processors import write_raw

    raw = write_raw(str(tmp_path / "raw"), n=20_000)
    rng = np.random.default_rng(1)
    for i in range(40):
        (Path(raw) / "extra" / f"part-{i:02d}.bin").write_bytes(rng.bytes(50_000))
    return raw
