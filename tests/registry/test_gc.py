"""Retention (``mlops.gc`` and ``mlops gc``): the policy matrix, and what gc never removes: a version
an alias names, a dataset a model was trained on, anything in its grace period, a publish in flight,
the aliases themselves. Bytes freed count shared files once; a dry run reads no manifest."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from cli_support import fails, ok

import mlops
from linear_model import Linear
from mlops import errors
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.versions import layout, writer
from sample_processors import CsvProcessor, write_raw

Publish = Callable[..., str]


@pytest.fixture
def publish(raw_dir: str) -> Publish:
    """``publish(root, version, days_ago, tags=(), raw=raw_dir)``: a dataset version published as if
    ``days_ago`` days ago (its created_at is what gc reads)."""

    def run(root: str, version: str, days_ago: float, tags: tuple[str, ...] = (), raw: str = raw_dir) -> str:
        when = datetime.now() - timedelta(days=days_ago)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(writer, "timestamp", lambda: when.isoformat(timespec="microseconds"))
            return VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, version, tags=list(tags))

    return run


@pytest.fixture
def root(tmp_path: Path, publish: Publish) -> str:
    """v1..v6, published 60, 50, 40, 30, 20 and 10 days ago; v2 tagged gold."""
    path = str(tmp_path / "datasets")
    for n, days in enumerate((60, 50, 40, 30, 20, 10), start=1):
        publish(path, f"v{n}", days, tags=("gold",) if n == 2 else ())
    return path


def _left(root: str) -> list[str]:
    return sorted(v.version for v in mlops.list_versions(root))


@pytest.mark.parametrize(
    ("policy", "left"),
    [
        ({"keep_last": 2}, ["v5", "v6"]),
        ({"keep_last": 0, "keep_days": 0}, []),
        ({"keep_days": 35}, ["v4", "v5", "v6"]),
        ({"keep_tags": ["gold"]}, ["v2"]),
        ({"keep_tags": "gold"}, ["v2"]),
        ({"keep_last": 1, "keep_tags": ["gold"]}, ["v2", "v6"]),
        ({"keep_last": 1, "keep_days": 25}, ["v5", "v6"]),
        ({"keep_last": 10}, ["v1", "v2", "v3", "v4", "v5", "v6"]),
    ],
)
def test_the_policy_matrix(root: str, policy: dict[str, object], left: list[str]) -> None:
    would = mlops.gc(root, grace=0, dry_run=True, **policy)  # type: ignore[arg-type]
    assert (would.dry_run, would.exact) == (True, False)
    assert _left(root) == ["v1", "v2", "v3", "v4", "v5", "v6"]  # a dry run removes nothing
    report = mlops.gc(root, grace=0, **policy)  # type: ignore[arg-type]
    assert _left(root) == left
    assert sorted(r.version for r in report) == sorted(r.version for r in would)
    assert sorted(set(report.kept) | {r.path for r in report}) == sorted(f"{root}/v{n}" for n in range(1, 7))
    assert all(not r.dry_run and r.files > 0 for r in report)


def test_an_alias_keeps_its_version_and_the_aliases_stay(root: str) -> None:
    mlops.set_alias(root, "production", "v1")
    mlops.set_alias(root, "staging", "v3")
    mlops.remove_alias(root, "staging")  # a removed alias keeps nothing
    report = mlops.gc(root, keep_last=1, grace=0)
    assert _left(root) == ["v1", "v6"]
    assert report.kept[f"{root}/v1"] == "alias production"
    assert mlops.get_alias(root, "production") == "v1"
    assert len(mlops.alias_history(root, "staging")) == 2  # gc never touches _aliases
    assert os.path.isdir(os.path.join(root, "_aliases", "staging"))


def test_a_dataset_a_kept_model_was_trained_on_is_kept(
    root: str, tmp_path: Path, publish: Publish, linear_plugin: None
) -> None:
    publish(root, "v0", 70, raw=write_raw(str(tmp_path / "raw-0"), seed=3))  # content of its own
    models = str(tmp_path / "models")
    VersionedModelBuilder(mlops.VersionedDataset(f"{root}/v0"), Linear(np.ones(2))).publish(models, "m1")
    out = ok("gc", root, "--keep-last", "0", "--keep-days", "0", "--models", models, "--grace", "0", "--dry-run")
    assert f"kept {root}/v0: dataset of model {models}/m1" in out
    report = mlops.gc(root, keep_last=1, models=[models], grace=0)
    assert _left(root) == ["v0", "v6"]
    assert report.kept[f"{root}/v0"] == f"dataset of model {models}/m1"


def test_grace_keeps_new_versions_and_a_publish_in_flight_is_never_touched(root: str, publish: Publish) -> None:
    publish(root, "fresh", 0)  # just committed: maybe about to get an alias
    in_flight = Path(root, "v7")
    in_flight.mkdir()
    token, claim = layout.new_claim()
    (in_flight / layout.CLAIM_FILE).write_bytes(claim)  # what a running publish holds before meta.json
    (in_flight / "X_train.npy").write_bytes(b"half-written")
    report = mlops.gc(root, keep_tags=["gold"])  # default grace: one hour
    assert _left(root) == ["fresh", "v2"]
    assert report.kept[f"{root}/fresh"] == "grace"
    assert sorted(os.listdir(in_flight)) == sorted([layout.CLAIM_FILE, "X_train.npy"])  # untouched
    mlops.gc(root, keep_days=0, grace=0)
    assert _left(root) == [] and in_flight.is_dir()


def test_a_grace_of_zero_turns_it_off(root: str, publish: Publish) -> None:
    publish(root, "fresh", 0)
    assert [r.version for r in mlops.gc(root, keep_tags=["gold"], dry_run=True)] == ["v6", "v5", "v4", "v3", "v1"]
    assert "fresh" in [r.version for r in mlops.gc(root, keep_tags=["gold"], grace=0, dry_run=True)]


def test_bytes_freed_count_shared_files_once(tmp_path: Path, publish: Publish, raw_dir: str) -> None:
    root = str(tmp_path / "datasets")
    other_raw = write_raw(str(tmp_path / "raw-b"), seed=7)
    publish(root, "a1", 30)
    publish(root, "a2", 20)  # the same content as a1: deduplicated, shares every file
    publish(root, "b", 10, raw=other_raw)  # other data; the processor's pickle is shared with a1, a2
    files = {v: set(mlops.VersionedDataset(f"{root}/{v}").files.values()) for v in ("a1", "a2", "b")}
    expected = sum(entry.size for entry in (files["a1"] | files["a2"]) - files["b"])
    assert 0 < expected < sum(e.size for e in files["a1"])
    dry = mlops.gc(root, keep_last=1, grace=0, dry_run=True)
    assert dry.bytes_freed == 2 * sum(e.size for e in files["a1"])  # the dry run's upper bound
    report = mlops.gc(root, keep_last=1, grace=0)
    assert (report.bytes_freed, report.exact) == (expected, True)
    assert [r.version for r in report] == ["a2", "a1"]


def test_a_dry_run_reads_no_manifest(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dry run read a manifest")

    monkeypatch.setattr(layout, "read_manifest", refuse)
    assert len(mlops.gc(root, keep_last=2, grace=0, dry_run=True)) == 4


def test_gc_needs_a_rule_and_valid_values(root: str) -> None:
    with pytest.raises(errors.RetentionPolicyError, match="needs a retention rule"):
        mlops.gc(root)
    for bad in ({"keep_last": -1}, {"keep_last": 1.5}, {"keep_days": -2}, {"keep_last": 1, "grace": -1}):
        with pytest.raises(errors.RetentionPolicyError):
            mlops.gc(root, **bad)  # type: ignore[arg-type]
    assert "needs a retention rule" in fails("gc", root)
    assert _left(root) == ["v1", "v2", "v3", "v4", "v5", "v6"]


def test_the_gc_command(root: str) -> None:
    mlops.set_alias(root, "production", "v2")
    out = ok("gc", root, "--keep-last", "2", "--keep-tag", "gold", "--grace", "0", "--dry-run")
    assert "would remove dataset datasets v1" in out and "kept " + f"{root}/v2: tag gold, alias production" in out
    assert "up to" in out.splitlines()[-1]
    report = json.loads(ok("gc", root, "--keep-last", "2", "--grace", "0", "--json"))
    assert sorted(r["version"] for r in report["removed"]) == ["v1", "v3", "v4"]
    assert report["exact"] and not report["dry_run"]


def test_gc_on_every_store(store: str, publish: Publish) -> None:
    for n, days in enumerate((3, 2, 1), start=1):
        publish(store, f"v{n}", days)
    mlops.set_alias(store, "production", "v1")
    report = mlops.gc(store, keep_last=1, grace=0)
    assert [r.version for r in report] == ["v2"]
    assert sorted(v.version for v in mlops.list_versions(store)) == ["v1", "v3"]
    assert mlops.get_alias(store, "production") == "v1"


def test_under_a_trust_policy_any_alias_still_keeps_its_version(
    root: str, key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, public = key_pair
    mlops.set_alias(root, "production", "v1")  # unsigned: refused when read under a policy
    monkeypatch.setenv("MLOPS_TRUSTED_KEYS", str(public))
    with pytest.raises(errors.UntrustedVersionError):
        mlops.get_alias(root, "production")
    mlops.gc(root, keep_last=1, grace=0)  # removing is what must be safe: the alias still counts
    assert _left(root) == ["v1", "v6"]
