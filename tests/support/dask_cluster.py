# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""The Dask cluster that the dask and table tests publish from (their conftest.py files import
``client`` from here)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUPPORT = str(Path(__file__).resolve().parent)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, s3_server: str) -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (1 thread each) and a client that is the active
    scheduler. Workers inherit the environment: the S3 endpoint and credentials, and the test
    support modules on PYTHONPATH (the processor's functions are imported there)."""
    from distributed import Client, LocalCluster

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [SUPPORT, os.environ.get("PYTHONPATH")])))
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as active,
    ):
        yield active
