"""Aliases: moving them (conditionally, protected or not), their history, the name policy, and the
guarantees around them: an alias never changes a version, and ``_aliases`` is never a version."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import fsspec
import pytest
from cli_support import fails, ok

import mlops
from mlops import errors
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.versions.aliases import split_alias_path
from sample_processors import CsvProcessor


def _snapshot(url: str) -> dict[str, bytes]:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return {name: fs.cat_file(name) for name in fs.find(path)}


def test_set_get_move_and_history_on_every_store(store: str, raw_dir: str) -> None:
    for version in ("v1", "v2"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, version)
    versions_before = {k: v for k, v in _snapshot(store).items() if "/_aliases/" not in k}
    first = mlops.set_alias(store, "production", "v1", reason="first model")
    assert (first.number, first.version, first.previous, first.reason) == (1, "v1", None, "first model")
    assert mlops.get_alias(store, "production") == "v1"
    second = mlops.set_alias(store, "production", "v2", expect="v1")
    assert (second.number, second.previous) == (2, "v1")
    assert mlops.get_alias(store, "production") == "v2"
    assert mlops.list_aliases(store) == {"production": "v2"}
    history = mlops.alias_history(store, "production")
    assert [(e.number, e.version, e.previous) for e in history] == [(1, "v1", None), (2, "v2", "v1")]
    assert all(e.at.tzinfo is not None and "@" in e.who for e in history)
    assert mlops.VersionedDataset(f"{store}@production").version == "v2"
    # listing, du and clean see versions only; no version file changed (meta.json included)
    assert [v.version for v in mlops.list_versions(store)] == ["v2", "v1"]
    assert mlops.list_incomplete(store) == []
    assert {k: v for k, v in _snapshot(store).items() if "/_aliases/" not in k} == versions_before


def test_expect_makes_a_move_conditional(root: str) -> None:
    mlops.set_alias(root, "prod", "v1")
    with pytest.raises(errors.AliasConflictError, match="names v1, not v2") as caught:
        mlops.set_alias(root, "prod", "v3", expect="v2")
    assert caught.value.current == "v1"
    assert mlops.get_alias(root, "prod") == "v1"
    assert len(mlops.alias_history(root, "prod")) == 1  # nothing written


def test_a_protected_alias_moves_or_goes_only_with_force(root: str) -> None:
    mlops.set_alias(root, "prod", "v1", protect=True)
    with pytest.raises(errors.ProtectedAliasError, match="protected"):
        mlops.set_alias(root, "prod", "v2")
    with pytest.raises(errors.ProtectedAliasError):
        mlops.set_alias(root, "prod", "v1", protect=False)  # unprotecting is a force too
    with pytest.raises(errors.ProtectedAliasError):
        mlops.remove_alias(root, "prod")
    mlops.set_alias(root, "prod", "v1", reason="same target, still protected")  # not a move: allowed
    moved = mlops.set_alias(root, "prod", "v2", force=True)
    assert moved.protected  # protection stays unless protect=False
    assert mlops.get_alias(root, "prod") == "v2"
    fails("alias", "rm", root, "prod")
    ok("alias", "rm", root, "prod", "--force", "--reason", "retired")
    with pytest.raises(errors.AliasNotFoundError, match="removed"):
        mlops.get_alias(root, "prod")
    assert mlops.list_aliases(root) == {}
    # after removal the alias starts unprotected
    assert not mlops.set_alias(root, "prod", "v3").protected


def test_an_alias_must_name_an_existing_version_and_a_valid_name(root: str, raw_dir: str) -> None:
    with pytest.raises(errors.VersionNotFoundError):
        mlops.set_alias(root, "prod", "v9")
    for bad in ("", ".hidden", "a/b", "a@b", "x*", "CON"):
        with pytest.raises(errors.InvalidAliasError):
            mlops.set_alias(root, bad, "v1")
    with pytest.raises(errors.InvalidVersionError):
        mlops.set_alias(root, "prod", f"{root}/v1")  # a folder name, not a path
    with pytest.raises(errors.InvalidVersionError, match="_aliases"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(root, "_aliases")
    assert not os.path.exists(os.path.join(root, "_aliases"))  # nothing was written


def test_removing_an_unknown_alias_fails(root: str) -> None:
    with pytest.raises(errors.AliasNotFoundError):
        mlops.remove_alias(root, "prod")
    with pytest.raises(errors.AliasNotFoundError, match="no alias 'prod'"):
        mlops.get_alias(root, "prod")


def test_which_version_an_alias_named_at_a_time(root: str) -> None:
    mlops.set_alias(root, "prod", "v1")
    mlops.set_alias(root, "prod", "v2")
    folder = Path(root, "_aliases", "prod")
    # give the records known times, as if written on 1 and 15 November (their bytes are the history)
    for name, when in (("000001.json", "2026-11-01T10:00:00+00:00"), ("000002.json", "2026-11-15T10:00:00+00:00")):
        record = json.loads((folder / name).read_text())
        record["at"] = when
        (folder / name).write_text(json.dumps(record))
    at = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    assert mlops.get_alias(root, "prod", at=at) == "v1"
    assert mlops.get_alias(root, "prod", at=at + timedelta(days=30)) == "v2"
    with pytest.raises(errors.AliasNotFoundError, match="named no version"):
        mlops.get_alias(root, "prod", at=at - timedelta(days=30))
    assert ok("alias", "log", root, "prod", "--at", "2026-11-01T12:00+00:00").strip() == "v1"
    assert ok("alias", "log", root, "prod", "--at", "2026-12-01T12:00+00:00").strip() == "v2"
    log = json.loads(ok("alias", "log", root, "prod", "--json"))
    assert [(e["number"], e["version"], e["previous"]) for e in log] == [(1, "v1", None), (2, "v2", "v1")]


def test_the_alias_commands(root: str) -> None:
    assert ok("alias", "set", root, "prod", "v1", "--protect").strip() == "prod -> v1"
    assert "protected" in fails("alias", "set", root, "prod", "v2")
    assert "not v3 as expected" in fails("alias", "set", root, "prod", "v2", "--expect", "v3", "--force")
    ok("alias", "set", root, "prod", "v2", "--expect", "v1", "--force", "--reason", "better recall")
    ok("alias", "set", root, "staging", "v3")
    listed = ok("alias", "ls", root)
    assert listed.splitlines()[0].split() == ["ALIAS", "VERSION", "PROTECTED", "SINCE", "BY"]
    rows = [line.split() for line in listed.splitlines()[1:]]
    assert (rows[0][:3], rows[1][:2]) == (["prod", "v2", "yes"], ["staging", "v3"])
    assert json.loads(ok("alias", "ls", root, "--json"))["staging"]["version"] == "v3"
    log = ok("alias", "log", root, "prod")
    assert "-> v2 (was v1) [protected]: better recall" in log
    assert "no alias 'nope'" in fails("alias", "log", root, "nope")


def test_aliases_are_never_versions_for_ls_du_clean_rm(root: str) -> None:
    mlops.set_alias(root, "prod", "v1")
    assert "_aliases" not in ok("ls", root)
    assert "_aliases" not in ok("du", root)
    assert ok("clean", root).startswith("nothing to remove")
    fails("rm", os.path.join(root, "_aliases"))
    assert mlops.get_alias(root, "prod") == "v1"


def test_the_root_at_alias_rule() -> None:
    assert split_alias_path("s3://bucket/models@production") == ("s3://bucket/models", "production")
    assert split_alias_path("/data/models@prod/") == ("/data/models", "prod")
    assert split_alias_path("models@prod") == ("models", "prod")
    assert split_alias_path("/data/team@corp/models@prod") == ("/data/team@corp/models", "prod")
    assert split_alias_path("/data/a@b@prod") == ("/data/a@b", "prod")  # the last '@'
    assert split_alias_path("sftp://user@host") is None  # a URL's host is never a segment
    assert split_alias_path("sftp://user@host/models/v1") is None
    assert split_alias_path("/data/@prod") is None  # no root before the '@'
    assert split_alias_path("/data/models@") is None
    assert split_alias_path("/data/models@.hidden") is None  # not a valid alias name
    assert split_alias_path("/data/models/v1") is None
    assert split_alias_path("s3://bucket@prod") == ("s3://bucket", "prod")  # a root at the top of a bucket
    assert split_alias_path("memory://root@prod") == ("memory://root", "prod")


def test_a_folder_whose_name_holds_an_at_sign_still_opens(tmp_path: Path, raw_dir: str) -> None:
    root = str(tmp_path / "team@corp")
    VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(root, "run@2")  # a version named with '@'
    assert mlops.VersionedDataset(f"{root}/run@2").version == "run@2"  # no alias '2' under run: literal
    with pytest.raises(errors.AliasNotFoundError, match="no alias 'nope'"):
        mlops.VersionedDataset(f"{root}/run@nope")
    mlops.set_alias(root, "2", "run@2")
    assert mlops.VersionedDataset(f"{root}@2").path == f"{root}/run@2"
