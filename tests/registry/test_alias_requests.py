"""What aliases cost on S3, in requests counted as s3fs sends them.

Resolving ``ROOT@ALIAS`` takes two: a listing and a read, or, on a machine that read the alias
before (the number it saw is kept in memory and in ``MLOPS_CACHE_DIR``), a read of the record it
saw and of the next number, whatever the history's length. A move takes three on such a machine,
in the same process or a new one (``mlops alias set``): a read of the record it saw, a read of the
target's meta.json (a version that does not exist is refused before anything is written) and the
create-only write of the next number; the first move from a machine that never saw the alias takes
a listing more: four."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from s3_requests import count_s3_requests

import mlops
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import AliasConflictError
from mlops.versions import aliases
from mlops.versions.aliases import locate_version
from sample_processors import CsvProcessor

SUPPORT = Path(__file__).resolve().parents[1] / "support"
CLI_COUNTING = """
import json, sys
from s3_requests import count_s3_requests
from mlops.cli import main
with count_s3_requests() as calls:
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        if exc.code:
            raise
print(json.dumps(dict(calls)))
"""
"""A new process running ``mlops ARGS...`` and printing, last, the S3 requests it sent."""


@pytest.fixture
def root(s3_bucket: str, raw_dir: str) -> str:
    path = f"{s3_bucket}/datasets"
    for version in ("v1", "v2"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(path, version)
    for _ in range(5):  # a longer history costs no more: one listing names up to 1,000 records
        mlops.set_alias(path, "production", "v1")
        mlops.set_alias(path, "production", "v2")
    return path


def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process on this machine: nothing in memory, the numbers kept in the cache."""
    monkeypatch.setattr(aliases, "_HIGHEST_SEEN", {})


def _new_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a machine that never saw the alias: nothing in memory, an empty cache."""
    _new_process(monkeypatch)
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "another-machine"))


def _cli_in_new_process(*args: str) -> Counter[str]:
    env = dict(os.environ)  # carries the S3 endpoint and MLOPS_CACHE_DIR
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(SUPPORT), *sys.path] if p)  # this process' mlops
    done = subprocess.run(
        [sys.executable, "-c", CLI_COUNTING, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return Counter(json.loads(done.stdout.splitlines()[-1]))


def test_resolving_root_at_alias_takes_two_requests(root: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _new_machine(monkeypatch, tmp_path)
    with count_s3_requests() as calls:
        loc = locate_version(f"{root}@production")
    assert loc.url == f"{root}/v2"
    assert dict(calls) == {"list_objects_v2": 1, "get_object": 1}
    with count_s3_requests() as calls:  # seen before: the record it names and the next number, no listing
        assert locate_version(f"{root}@production").url == f"{root}/v2"
    assert dict(calls) == {"get_object": 2}
    _new_process(monkeypatch)
    with count_s3_requests() as calls:  # a new process: the number kept on this machine, still no listing
        assert locate_version(f"{root}@production").url == f"{root}/v2"
    assert dict(calls) == {"get_object": 2}


def test_the_first_move_from_a_machine_that_never_saw_the_alias_takes_four(
    root: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _new_machine(monkeypatch, tmp_path)
    with count_s3_requests() as calls:  # list, read the highest, read v1/meta.json, create the next
        mlops.set_alias(root, "production", "v1", expect="v2")
    assert dict(calls) == {"list_objects_v2": 1, "get_object": 2, "put_object": 1}
    assert mlops.alias_history(root, "production")[-1].number == 11


def test_a_move_takes_three_requests_with_the_check_of_the_target(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _new_process(monkeypatch)
    with count_s3_requests() as calls:
        assert mlops.get_alias(root, "production") == "v2"
    assert dict(calls) == {"get_object": 2}
    with count_s3_requests() as calls:  # read the record seen, read v1/meta.json, create the next number
        event = mlops.set_alias(root, "production", "v1", expect="v2")
    assert dict(calls) == {"get_object": 2, "put_object": 1}
    with count_s3_requests() as calls:  # right after its own move: the same
        mlops.set_alias(root, "production", "v2", expect="v1")
    assert dict(calls) == {"get_object": 2, "put_object": 1}
    history = mlops.alias_history(root, "production")
    assert [(e.number, e.version, e.previous) for e in history[-2:]] == [(11, "v1", "v2"), (12, "v2", "v1")]
    assert event.number == 11


def test_a_move_in_a_new_process_takes_three_requests(root: str) -> None:
    """``mlops alias set`` is a new process each time: it starts from the number this machine kept."""
    assert mlops.get_alias(root, "production") == "v2"  # this process saw record 10
    calls = _cli_in_new_process("alias", "set", root, "production", "v1", "--expect", "v2")
    assert dict(calls) == {"get_object": 2, "put_object": 1}
    calls = _cli_in_new_process("alias", "set", root, "production", "v2", "--expect", "v1")  # after another process
    assert dict(calls) == {"get_object": 2, "put_object": 1}
    # this process still remembers 10 in memory: a move from there finds out, and moves on top
    assert aliases._HIGHEST_SEEN[f"{root}/_aliases/production"] == 10
    with pytest.raises(AliasConflictError, match="names v2, not v1"):
        mlops.set_alias(root, "production", "v2", expect="v1")
    assert mlops.set_alias(root, "production", "v1", expect="v2").number == 13
    history = mlops.alias_history(root, "production")
    assert [(e.number, e.version, e.previous) for e in history[-3:]] == [
        (11, "v1", "v2"),
        (12, "v2", "v1"),
        (13, "v1", "v2"),
    ]


def test_a_stale_hint_costs_a_listing_not_a_wrong_answer(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The number a process saw is only where reading starts: too high (the folder was replaced by
    hand with a shorter history) or too low (others moved the alias since), the answer is right,
    whether the number was in memory or kept on this machine."""
    folder = f"{root}/_aliases/production"
    for hint in (10_000, 1):
        monkeypatch.setattr(aliases, "_HIGHEST_SEEN", {folder: hint})
        assert mlops.get_alias(root, "production") == "v2"
        assert aliases._HIGHEST_SEEN[folder] == 10  # ten moves in the fixture
    for hint in (10_000, 1, 9):
        aliases._store_hint(folder, hint)
        _new_process(monkeypatch)
        with count_s3_requests() as calls:
            assert mlops.get_alias(root, "production") == "v2"
        assert aliases._HIGHEST_SEEN[folder] == aliases._stored_hint(folder) == 10
        # too high: the read misses, a listing and a read; too low by 9: two reads, then a listing and a
        # read rather than nine more reads; too low by 1: the reads of 9, 10 and 11
        expected = {10_000: {"get_object": 2, "list_objects_v2": 1}, 1: {"get_object": 4, "list_objects_v2": 1}}
        assert dict(calls) == expected.get(hint, {"get_object": 3})
