"""Crash safety: a publish killed at any moment (SIGKILL) leaves no visible version, and nothing
that blocks the user: the leftover is reported clearly and removed by an explicit call."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from reliability_support import Worker, worker_env

from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.versions.incomplete import list_incomplete, remove_incomplete

KILLS = 50


def _crash_many(root: str, raw: str, env: dict[str, str], options: dict[str, str]) -> dict[str, int]:
    rng = random.Random(1234)
    spawn = lambda: Worker(root, raw, env, json.dumps(options))  # noqa: E731
    warm_up = spawn()
    warm_up.wait_ready()
    # Timed as each killed publish runs: beside the next process starting up.
    pending = spawn()
    started = time.monotonic()
    warm_up.send("warm-up")
    assert warm_up.result() == "warm-up ok"
    solo_seconds = time.monotonic() - started
    warm_up.close()
    pending.wait_ready()
    outcomes = {"absent": 0, "incomplete": 0, "complete": 0}
    for i in range(KILLS):
        worker, pending = pending, spawn()  # the next process starts while this one is killed
        version = f"v{i:02d}"
        worker.send(version)
        time.sleep(rng.uniform(0, solo_seconds * 1.2))
        worker.proc.kill()
        worker.close()
        path = f"{root}/{version}"
        try:
            dataset = VersionedDataset(path, storage_options=options)
        except errors.VersionNotFoundError:
            outcomes["absent"] += 1
        except errors.IncompleteVersionError:
            outcomes["incomplete"] += 1
            # The leftover blocks a new publish of that version, with a clear message...
            pending.wait_ready()
            pending.send(version)
            assert pending.result() == f"{version} exists"
            # ...until the explicit cleanup removes it (its publisher is dead: safe to remove).
            assert [item.version for item in list_incomplete(root, storage_options=options)] == [version]
            removed = remove_incomplete(root, storage_options=options)
            # The version, and possibly hidden staging folders of earlier killed publishers.
            assert path in removed and all(r == path or "/.tmp-" in r for r in removed), removed
            pending.send(version)
            assert pending.result() == f"{version} ok"
            VersionedDataset(path, storage_options=options).verify()
            continue
        else:  # visible only if whole: it verifies and loads completely
            dataset.verify()
            assert dataset.X_train.shape == (15_000, 2)
            outcomes["complete"] += 1
        pending.wait_ready()
    pending.close()
    assert list_incomplete(root, storage_options=options) == []
    return outcomes


def _check(outcomes: dict[str, int]) -> None:
    assert sum(outcomes.values()) == KILLS
    # Kills are spread over the whole publish; at least some must land in the middle of one.
    assert outcomes["incomplete"] >= 1, outcomes


@pytest.mark.slow
def test_killed_local_publishes(tmp_path: Path, medium_raw: str) -> None:
    _check(_crash_many(str(tmp_path / "store"), medium_raw, worker_env(), {}))


@pytest.mark.slow
def test_killed_s3_publishes(s3_server: str, s3_bucket: str, medium_raw: str) -> None:
    _check(_crash_many(f"{s3_bucket}/store", medium_raw, worker_env(), {}))


@pytest.mark.slow
def test_killed_azure_publishes(azure_container: str, medium_raw: str) -> None:
    _check(_crash_many(f"{azure_container}/store", medium_raw, worker_env(), {}))


def test_a_running_publish_is_not_removed(tmp_path: Path, medium_raw: str) -> None:
    import os
    import socket

    root = tmp_path / "store"
    (root / "v1").mkdir(parents=True)
    # A live process of this machine (the parent of this test process) holds the claim.
    claim = {"token": "x", "host": socket.gethostname(), "pid": os.getppid(), "started_at": "2026-01-01T00:00:00"}
    (root / "v1" / ".mlops-publishing").write_text(json.dumps(claim))
    (item,) = list_incomplete(str(root))
    assert item.running and item.pid == os.getppid()
    assert remove_incomplete(str(root)) == []
    assert remove_incomplete(str(root), dry_run=True, include_running=True) == [str(root / "v1")]
    assert (root / "v1").exists()
    assert remove_incomplete(str(root), include_running=True) == [str(root / "v1")]
    assert not (root / "v1").exists()


def test_a_publisher_killed_while_creating_its_claim(tmp_path: Path, medium_raw: str) -> None:
    """Killed between writing the claim's temporary file and linking it into place: the folder
    holds only that file. It is an incomplete version, reported and removable like any other."""
    from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
    from sample_processors import CsvProcessor

    root = tmp_path / "store"
    (root / "v1").mkdir(parents=True)
    (root / "v1" / ".tmp-abc123").write_text('{"token": "half-made claim"}')
    with pytest.raises(errors.IncompleteVersionError):
        VersionedDataset(str(root / "v1"))
    builder = VersionedDatasetBuilder(medium_raw, CsvProcessor())
    with pytest.raises(errors.PublicationPathAlreadyExistsError, match="incomplete"):
        builder.publish(str(root), "v1")
    assert remove_incomplete(str(root)) == [str(root / "v1")]
    VersionedDataset(builder.publish(str(root), "v1")).verify()


def test_a_publisher_killed_before_its_version_folder_appeared(tmp_path: Path) -> None:
    """Killed after building its hidden staging folder, before renaming it into place: the version
    never existed; the staging folder is invisible to listings and removed by the cleanup."""
    root = tmp_path / "store"
    (root / ".tmp-dead").mkdir(parents=True)
    claim = {"token": "t", "host": "elsewhere", "pid": 1, "started_at": "2026-01-01T00:00:00"}
    (root / ".tmp-dead" / ".mlops-publishing").write_text(json.dumps(claim))
    assert list_incomplete(str(root)) == []
    assert remove_incomplete(str(root)) == [str(root / ".tmp-dead")]
    assert not (root / ".tmp-dead").exists()
