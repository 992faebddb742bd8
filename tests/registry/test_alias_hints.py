"""The number of an alias's highest record that a machine keeps (``MLOPS_CACHE_DIR/aliases``), so
that a new process starts reading where the last one left off. It is only a hint: a move decided on
a record that is no longer the highest either fails its create-only write or is re-decided on the
records after it, never refused (``expect=``, protection) on an old record; a cache that cannot be
read or written costs requests, never an error."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

import mlops
from mlops import errors
from mlops.versions import aliases


def _folder(root: str, alias: str = "prod") -> str:
    return f"{root}/_aliases/{alias}"


def _new_process(monkeypatch: pytest.MonkeyPatch, seen: Mapping[str, int | None] | None = None) -> None:
    monkeypatch.setattr(aliases, "_HIGHEST_SEEN", dict(seen or {}))


def _kept(cache: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((cache / "aliases").glob("*.json"))]


def test_the_number_is_kept_in_the_cache_for_the_next_process(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Path(os.environ["MLOPS_CACHE_DIR"])  # a fresh one per test (tests/conftest.py)
    mlops.set_alias(root, "prod", "v1")
    mlops.set_alias(root, "prod", "v2")
    assert _kept(cache) == [{"url": _folder(root), "highest": 2}]
    _new_process(monkeypatch)
    assert mlops.get_alias(root, "prod") == "v2"
    assert aliases._HIGHEST_SEEN == {_folder(root): 2}  # read from the cache
    assert not [p for p in (cache / "aliases").iterdir() if p.name.startswith(".tmp-")]


def test_an_empty_cache_variable_is_unset(root: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLOPS_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    mlops.set_alias(root, "prod", "v1")
    assert _kept(tmp_path / "xdg" / "mlops") == [{"url": _folder(root), "highest": 1}]
    assert not (Path.cwd() / "aliases").exists()


def test_a_damaged_or_foreign_kept_number_is_ignored(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(3):
        mlops.set_alias(root, "prod", "v1")
    path = Path(aliases._hint_path(_folder(root)))
    url = _folder(root)
    for content in (
        "{not json",
        "[3]",
        json.dumps({"url": "s3://elsewhere/_aliases/prod", "highest": 1}),  # another folder's (a hash collision)
        json.dumps({"url": url, "highest": True}),
        json.dumps({"url": url, "highest": -1}),
        json.dumps({"url": url, "highest": "2"}),
    ):
        path.write_text(content)
        _new_process(monkeypatch)
        assert mlops.get_alias(root, "prod") == "v1"
        assert aliases._HIGHEST_SEEN[_folder(root)] == 3
        assert json.loads(path.read_text()) == {"url": _folder(root), "highest": 3}  # rewritten


def test_a_cache_that_cannot_be_written_is_skipped(root: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(blocker))  # every write under it fails (NotADirectoryError)
    assert mlops.set_alias(root, "prod", "v1").number == 1
    assert mlops.set_alias(root, "prod", "v2", expect="v1").number == 2
    _new_process(monkeypatch)
    assert mlops.get_alias(root, "prod") == "v2"
    mlops.remove_alias(root, "prod")
    assert blocker.read_text() == "not a folder"


def test_moves_from_an_old_number_are_decided_on_the_current_record(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another machine moved the alias since this one saw record 1: expect= and protection are
    judged against the current record, not against record 1."""
    mlops.set_alias(root, "prod", "v1")
    mlops.set_alias(root, "prod", "v2", expect="v1")
    stale = {_folder(root): 1}
    _new_process(monkeypatch, stale)
    assert mlops.set_alias(root, "prod", "v3", expect="v2").number == 3  # record 1 names v1: no false conflict
    _new_process(monkeypatch, stale)
    with pytest.raises(errors.AliasConflictError, match="names v3, not v1") as caught:  # record 1 names v1
        mlops.set_alias(root, "prod", "v2", expect="v1")
    assert caught.value.current == "v3"
    _new_process(monkeypatch, stale)
    mlops.remove_alias(root, "prod", expect="v3")  # record 4 names none
    _new_process(monkeypatch, stale)
    with pytest.raises(errors.AliasNotFoundError, match="nothing to remove"):
        mlops.remove_alias(root, "prod")
    # protection: the old record protected, the current one not, then the other way round
    mlops.set_alias(root, "prod", "v1", protect=True)  # 5
    mlops.set_alias(root, "prod", "v2", protect=False, force=True)  # 6
    _new_process(monkeypatch, {_folder(root): 5})
    assert mlops.set_alias(root, "prod", "v3").number == 7
    mlops.set_alias(root, "prod", "v1", protect=True)  # 8
    _new_process(monkeypatch, {_folder(root): 7})
    mlops.set_alias(root, "prod", "v1", protect=True)  # 9: the same version, still protected: allowed
    _new_process(monkeypatch, {_folder(root): 7})
    with pytest.raises(errors.ProtectedAliasError, match="protected"):
        mlops.set_alias(root, "prod", "v2")
    history = mlops.alias_history(root, "prod")
    assert [e.number for e in history] == list(range(1, 10))
    assert all(e.previous == p.version for p, e in zip(history, history[1:], strict=False))


def test_a_move_from_an_old_number_loses_its_write_and_moves_on_top(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("v1", "v2", "v3", "v1"):
        mlops.set_alias(root, "prod", version)
    _new_process(monkeypatch, {_folder(root): 2})  # record 2 names v2, allows the move; 3 already exists
    event = mlops.set_alias(root, "prod", "v2")
    assert (event.number, event.previous) == (5, "v1")
    assert aliases._HIGHEST_SEEN[_folder(root)] == 5
