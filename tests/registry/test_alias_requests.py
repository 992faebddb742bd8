"""What aliases cost on S3, in requests counted as s3fs sends them: resolving ``ROOT@ALIAS`` takes
two (a listing and a read; in a process that read the alias before, a read of the record it saw
and of the next number, whatever the history's length); a move those two and one create-only
write, plus one read of the target's meta.json (a version that does not exist is refused before
anything is written)."""

from __future__ import annotations

import pytest
from s3_requests import count_s3_requests

import mlops
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.versions import aliases
from mlops.versions.aliases import locate_version
from sample_processors import CsvProcessor


@pytest.fixture
def root(s3_bucket: str, raw_dir: str) -> str:
    path = f"{s3_bucket}/datasets"
    for version in ("v1", "v2"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(path, version)
    for _ in range(5):  # a longer history costs no more: one listing names up to 1,000 records
        mlops.set_alias(path, "production", "v1")
        mlops.set_alias(path, "production", "v2")
    return path


def test_resolving_root_at_alias_takes_two_requests(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aliases, "_HIGHEST_SEEN", {})  # a fresh process: nothing seen yet
    with count_s3_requests() as calls:
        loc = locate_version(f"{root}@production")
    assert loc.url == f"{root}/v2"
    assert dict(calls) == {"list_objects_v2": 1, "get_object": 1}
    with count_s3_requests() as calls:  # seen before: the record it names and the next number, no listing
        assert locate_version(f"{root}@production").url == f"{root}/v2"
    assert dict(calls) == {"get_object": 2}


def test_a_move_takes_three_requests_and_one_check_of_the_target(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aliases, "_HIGHEST_SEEN", {})
    with count_s3_requests() as calls:
        mlops.set_alias(root, "production", "v1", expect="v2")
    assert dict(calls) == {"get_object": 2, "list_objects_v2": 1, "put_object": 1}
    with count_s3_requests() as calls:
        assert mlops.get_alias(root, "production") == "v1"
    assert sum(calls.values()) == 2
    with count_s3_requests() as calls:  # a move in a process that read the alias: still 3 + the target's check
        mlops.set_alias(root, "production", "v2", expect="v1")
    assert dict(calls) == {"get_object": 3, "put_object": 1}


def test_a_stale_hint_costs_a_listing_not_a_wrong_answer(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The number a process saw is only where reading starts: too high (the folder was replaced by
    hand with a shorter history) or too low (others moved the alias since), the answer is right."""
    folder = f"{root}/_aliases/production"
    for hint in (10_000, 1):
        monkeypatch.setattr(aliases, "_HIGHEST_SEEN", {folder: hint})
        assert mlops.get_alias(root, "production") == "v2"
        assert aliases._HIGHEST_SEEN[folder] == 10  # ten moves in the fixture
