"""Alias moves racing: 8 processes each make 50 conditional moves of one alias (read it, move it
with ``expect=``, retry on conflict) on the local disk, the S3 server and azurite. No server, no
lock: the create-only record numbers alone decide. Every successful move must be in the history
exactly once, in order, each record's ``previous`` the version of the record before it, and the
final target the last move's."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_support import SerialMotoServer

import mlops
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from s3_environment import new_bucket, s3_environment
from sample_processors import CsvProcessor

PROCESSES = 8
MOVES = 50
VERSIONS = ("v1", "v2", "v3")
MOVER = Path(__file__).with_name("alias_mover.py")
SUPPORT = Path(__file__).resolve().parents[1] / "support"


@pytest.fixture(autouse=True)
def _quiet_server() -> Iterator[None]:
    """The moto server runs in this process: not logging each of its ~20,000 requests saves CPU."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def _race(root: str, raw: str) -> None:
    for version in VERSIONS:
        VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, version)
    mlops.set_alias(root, "production", "v1", reason="start")
    env = dict(os.environ)  # carries the S3 endpoint / azurite connection string
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(SUPPORT), *sys.path] if p)  # this process' mlops
    movers = [
        subprocess.Popen(
            [sys.executable, str(MOVER), root, "production", str(MOVES), *VERSIONS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for mover in movers:
            assert mover.stdout is not None and mover.stdout.readline().strip() == "ready"
        for mover in movers:  # all start together
            assert mover.stdin is not None
            mover.stdin.write("go\n")
            mover.stdin.flush()
        reports = []
        for mover in movers:
            out, _ = mover.communicate(timeout=1800)  # minutes on a loaded machine
            assert mover.returncode == 0, out
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for mover in movers:
            if mover.poll() is None:
                mover.kill()
                mover.wait()
    _check(root, reports)


def _check(root: str, reports: list[dict[str, Any]]) -> None:
    written = [move for report in reports for move in report["written"]]
    assert len(written) == PROCESSES * MOVES
    history = mlops.alias_history(root, "production")
    assert [event.number for event in history] == list(range(1, len(history) + 1))
    assert len(history) == 1 + PROCESSES * MOVES  # the start, then exactly the successful moves
    by_number = {event.number: event for event in history}
    for move in written:  # each success is in the history, as it was made
        event = by_number[move["number"]]
        assert (event.version, event.previous, event.reason) == (move["version"], move["previous"], move["reason"])
    assert len({move["number"] for move in written}) == len(written)  # never two winners of one number
    for report in reports:  # each process's moves appear in the order it made them
        numbers = [move["number"] for move in report["written"]]
        assert numbers == sorted(numbers)
    for before, after in zip(history, history[1:], strict=False):  # a chain: each move starts from the last
        assert after.previous == before.version
    assert mlops.get_alias(root, "production") == history[-1].version == by_number[max(by_number)].version
    assert sum(report["conflicts"] for report in reports) > 0  # they did race


@pytest.mark.slow
def test_8_processes_racing_on_the_local_disk(tmp_path: Path, raw_dir: str) -> None:
    _race(str(tmp_path / "datasets"), raw_dir)


@pytest.fixture
def atomic_s3_bucket(s3_server: str) -> Iterator[str]:
    """A bucket on a moto server that handles one request at a time, reached by plain ``s3://``
    URLs here and in the movers. moto checks ``If-None-Match: *`` by looking, then writing, so on
    its threaded server two racing create-only PUTs can both pass (seen: two movers told they
    created the same record); S3 decides each conditional write atomically, as serialising gives."""
    server = SerialMotoServer()
    endpoint = server.start()
    try:
        with s3_environment(endpoint):
            yield new_bucket(endpoint, "alias-race")
    finally:
        server.stop()


@pytest.mark.slow
def test_8_processes_racing_on_the_s3_server(atomic_s3_bucket: str, raw_dir: str) -> None:
    _race(f"{atomic_s3_bucket}/datasets", raw_dir)


@pytest.mark.slow
def test_8_processes_racing_on_azurite(azure_store: str, raw_dir: str) -> None:
    _race(azure_store, raw_dir)
