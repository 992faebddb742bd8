"""Deleting: every removal (``mlops rm``, ``mlops clean``, a failed publish) removes only what it
identified as mlops' own, file by file, by exact name: never a pattern, never a publication root,
never a folder mlops did not write. After each deleting command every other version is checked
byte for byte (the sha256 of each of its files)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import mlops
from mlops import errors
from mlops.cli import cli
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.store import Location, resolve
from mlops.versions.incomplete import list_incomplete, remove_incomplete
from mlops.versions.writer import VersionWriter
from sample_processors import CsvProcessor, FixedProcessor, write_raw

GLOB_ROOT = "data[1]/ds"
"""A legal folder name and S3 key that fsspec's pattern-expanding calls read as ``data1/ds``."""
LOOKALIKE_ROOT = "data1/ds"


@pytest.fixture(params=["local", "memory", "s3", "azure"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty folder on local disk, memory://, the S3 server and azurite."""
    if request.param == "local":
        return str(tmp_path / "store")
    if request.param == "memory":
        return f"memory://deletion-{uuid.uuid4().hex[:12]}"
    if request.param == "azure":
        return str(request.getfixturevalue("azure_container")) + "/store"
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"{bucket}/store"


@pytest.fixture
def raw(tmp_path: Path) -> Iterator[str]:
    yield write_raw(str(tmp_path / "raw"))


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts]) if "://" in base else os.path.join(base, *parts)


def publish(raw: str, root: str, version: str, seed: int = 0) -> str:
    folder = write_raw(f"{raw}-{seed}", seed=seed) if seed else raw
    return VersionedDatasetBuilder(folder, CsvProcessor()).publish(root, version)


def fingerprint(folder: str) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``folder`` (empty when it does not exist)."""
    loc = resolve(folder)
    if not loc.store.exists(loc):
        return {}
    return {rel: hashlib.sha256(loc.store.read_bytes(loc.child(rel))).hexdigest() for rel in loc.store.list_files(loc)}


def clone_by_hand(root: str, src: str, dest: str) -> str:
    """Copy the version folder ``root/src`` to ``root/dest`` file by file, as a user (or an older
    mlops, which accepted any name) could: ``dest`` need not pass today's name checks."""
    loc = resolve(root)
    for rel in loc.store.list_files(loc.child(src)):
        loc.store.write_stream(loc.child(dest).child(rel), [loc.store.read_bytes(loc.child(src).child(rel))])
    return loc.child(dest).url


def leave_incomplete(
    root: str, version: str, *, host: str = "elsewhere", pid: int = 1, started: str = "2024-01-01T00:00:00"
) -> str:
    """A crashed publish, by hand: a claim and a partial file, no meta.json."""
    loc = resolve(root).child(version)
    claim = {"token": uuid.uuid4().hex, "host": host, "pid": pid, "started_at": started}
    loc.store.write_stream(loc.child(".mlops-publishing"), [json.dumps(claim).encode()])
    loc.store.write_stream(loc.child("X_train.npy"), [b"partial"])
    return loc.url


def write_file(folder: str, rel: str, data: bytes = b"mine") -> None:
    loc = resolve(folder)
    loc.store.write_stream(loc.child(rel), [data])


# --- a failed publish -------------------------------------------------------------------------------------------------


def _failing_commit(*_args: object, **_kwargs: object) -> str:
    raise OSError("the disk is full (injected)")


def test_a_failed_publish_of_a_version_named_like_a_pattern_removes_only_its_own_files(
    base: str, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen on main: the cleanup of a failed publish of ``v*`` removed every version of the root."""
    root = _join(base, "points")
    for version in ("v1", "v2", "v3"):
        publish(raw, root, version)
    before = {v: fingerprint(_join(root, v)) for v in ("v1", "v2", "v3")}
    monkeypatch.setattr(VersionWriter, "commit", _failing_commit)
    # Refused up front by the name policy, or written and then cleaned up: either way no other version changes.
    with pytest.raises((OSError, errors.InvalidVersionError)):
        publish(raw, root, "v*")
    assert {v: fingerprint(_join(root, v)) for v in ("v1", "v2", "v3")} == before
    assert fingerprint(_join(root, "v*")) == {}


def test_a_failed_publish_into_a_root_named_like_a_pattern_leaves_the_lookalike_root_alone(
    base: str, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookalike, root = _join(base, LOOKALIKE_ROOT), _join(base, GLOB_ROOT)
    publish(raw, lookalike, "v1")
    publish(raw, lookalike, "v2", seed=1)
    publish(raw, root, "v1")
    before = fingerprint(lookalike), fingerprint(_join(root, "v1"))
    monkeypatch.setattr(VersionWriter, "commit", _failing_commit)
    with pytest.raises(OSError, match="injected"):
        publish(raw, root, "v2")
    assert (fingerprint(lookalike), fingerprint(_join(root, "v1"))) == before
    assert fingerprint(_join(root, "v2")) == {}


def test_a_failed_publish_keeps_its_claim_when_something_else_is_in_its_folder(
    tmp_path: Path, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the files it wrote go; what it did not write stays under its claim, so the folder is an
    incomplete version ``mlops clean`` recognises, never an unclaimed folder nobody removes."""
    root = str(tmp_path / "points")
    original = VersionWriter.commit

    def commit_with_a_stranger(self: VersionWriter, *args: object, **kwargs: object) -> str:
        write_file(self.loc.url, "not-written-by-the-publisher.txt")
        raise OSError("the disk is full (injected)")

    monkeypatch.setattr(VersionWriter, "commit", commit_with_a_stranger)
    with pytest.raises(OSError, match="injected"):
        publish(raw, root, "v1")
    assert sorted(os.listdir(os.path.join(root, "v1"))) == [".mlops-publishing", "not-written-by-the-publisher.txt"]
    assert [item.version for item in list_incomplete(root)] == ["v1"]
    monkeypatch.setattr(VersionWriter, "commit", original)
    assert remove_incomplete(root) == [os.path.join(root, "v1")]
    mlops.open_version(publish(raw, root, "v1")).verify()


# --- mlops rm ---------------------------------------------------------------------------------------------------------


def test_rm_of_a_version_named_like_a_pattern_removes_only_it(base: str, raw: str) -> None:
    """Seen on main: ``mlops rm 's3://b/ds/v*'`` said it removed ``v*`` and removed v3 and v4 too."""
    root = _join(base, "ds")
    for version in ("v1", "v3", "v4"):
        publish(raw, root, version)
    star = clone_by_hand(root, "v1", "v*")
    before = {v: fingerprint(_join(root, v)) for v in ("v1", "v3", "v4")}
    result = CliRunner().invoke(cli, ["rm", star])
    assert result.exit_code == 0, result.output
    assert {v: fingerprint(_join(root, v)) for v in ("v1", "v3", "v4")} == before
    assert fingerprint(star) == {}
    assert [info.version for info in mlops.list_versions(root)] == ["v4", "v3", "v1"]


def test_rm_in_a_root_named_like_a_pattern_leaves_the_lookalike_root_alone(base: str, raw: str) -> None:
    lookalike, root = _join(base, LOOKALIKE_ROOT), _join(base, GLOB_ROOT)
    publish(raw, lookalike, "v1")
    v1 = publish(raw, root, "v1")
    v2 = publish(raw, root, "v2", seed=1)
    before = fingerprint(lookalike), fingerprint(v2)
    mlops.remove_version(v1)
    assert (fingerprint(lookalike), fingerprint(v2)) == before
    assert fingerprint(v1) == {}


def test_a_removal_killed_half_way_leaves_an_incomplete_version_clean_removes(
    base: str, raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """meta.json goes first (the version vanishes at once), under a claim made before it: a removal
    killed after that is an incomplete version, never a damaged one nor an unclaimed folder."""
    root = _join(base, "ds")
    v1, v2 = publish(raw, root, "v1"), publish(raw, root, "v2", seed=1)
    before = fingerprint(v2)
    store_class = type(resolve(root).store)
    original = store_class.delete_files
    calls: list[list[str]] = []

    def dying(self: object, locs: list[Location], **kwargs: object) -> None:
        calls.append([loc.name for loc in locs])
        if len(calls) > 1:
            raise KeyboardInterrupt
        original(self, locs, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_class, "delete_files", dying)
    with pytest.raises(KeyboardInterrupt):
        mlops.remove_version(v1)
    monkeypatch.setattr(store_class, "delete_files", original)
    assert calls[0] == ["meta.json"]
    with pytest.raises(errors.IncompleteVersionError):
        mlops.open_version(v1)
    assert [info.version for info in mlops.list_versions(root)] == ["v2"]
    assert [item.version for item in list_incomplete(root)] == ["v1"]
    assert remove_incomplete(root) == [v1]
    assert fingerprint(v1) == {} and fingerprint(v2) == before


def test_rm_deletes_links_and_empty_folders_in_the_version_never_what_links_point_to(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "ds")
    v1 = publish(raw, root, "v1")
    files = len(fingerprint(v1))
    outside = tmp_path / "precious"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "keep.txt").write_text("mine")
    os.symlink(outside, os.path.join(v1, "link-to-a-folder"))
    os.symlink(outside / "sub" / "keep.txt", os.path.join(v1, "link-to-a-file"))
    os.makedirs(os.path.join(v1, "empty", "folders"))
    assert mlops.remove_version(v1).files == files + 2
    assert not os.path.lexists(v1)
    assert (outside / "sub" / "keep.txt").read_text() == "mine"


def test_rm_refuses_what_is_not_a_version(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "ds")
    publish(raw, root, "v1")
    write_file(os.path.join(root, "my_notes"), "notes.txt")
    before = fingerprint(root)
    for target in (root, os.path.join(root, "my_notes"), str(tmp_path)):
        with pytest.raises(errors.MlopsError):
            mlops.remove_version(target)
    assert fingerprint(root) == before


def test_rm_refuses_a_version_that_holds_other_versions(tmp_path: Path, raw: str) -> None:
    """A folder that is a version and also a publication root (something was published under it)
    is never removed whole: the versions inside are not its files."""
    root = str(tmp_path / "ds")
    v1 = publish(raw, root, "v1")
    publish(raw, v1, "inner")
    before = fingerprint(root)
    with pytest.raises(errors.NotAVersionFolderError, match="inner"):
        mlops.remove_version(v1)
    assert fingerprint(root) == before


# --- mlops clean ------------------------------------------------------------------------------------------------------


def test_clean_one_level_above_a_root_says_so_and_removes_nothing(base: str, raw: str) -> None:
    """Seen on main: it printed ``removed .../datasets/points``: the whole root, committed versions included."""
    parent = _join(base, "datasets")
    points = _join(parent, "points")
    publish(raw, points, "v1")
    publish(raw, points, "v2", seed=1)
    leave_incomplete(points, "v3")
    before = fingerprint(parent)
    with pytest.raises(errors.NotAPublicationRootError, match="points"):
        remove_incomplete(parent)
    with pytest.raises(errors.NotAPublicationRootError):
        remove_incomplete(parent, dry_run=True)
    result = CliRunner().invoke(cli, ["clean", parent])
    assert result.exit_code == 1
    assert "not a publication root" in result.output and "points" in result.output and "removed" not in result.output
    assert fingerprint(parent) == before


def test_clean_pointed_at_a_version_or_a_stranger_folder_says_so(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "ds")
    v1 = publish(raw, root, "v1")
    stranger = str(tmp_path / "photos")
    write_file(os.path.join(stranger, "2024"), "beach.jpg")
    before = fingerprint(str(tmp_path))
    with pytest.raises(errors.NotAPublicationRootError, match="is a version"):
        remove_incomplete(v1)
    with pytest.raises(errors.NotAPublicationRootError, match="not a publication root"):
        remove_incomplete(stranger)
    with pytest.raises(errors.RootNotFoundError):
        remove_incomplete(str(tmp_path / "typo"))
    for target in (v1, stranger):
        result = CliRunner().invoke(cli, ["clean", target])
        assert result.exit_code == 1 and "removed" not in result.output, result.output
    assert fingerprint(str(tmp_path)) == before


def test_clean_never_removes_a_folder_without_a_claim(base: str, raw: str) -> None:
    """Seen on main: ``ROOT/my_notes/`` was removed as "no publish claim", even with ``--older-than``."""
    root = _join(base, "ds")
    publish(raw, root, "v1")
    notes = _join(root, "my_notes")
    write_file(notes, "notes.txt")
    write_file(notes, "deeper/more.txt")
    crashed = leave_incomplete(root, "v9")
    kept = fingerprint(_join(root, "v1")), fingerprint(notes)
    assert list_incomplete(root)[0].path == crashed and len(list_incomplete(root)) == 1
    assert remove_incomplete(root, older_than=3600) == [crashed]
    assert remove_incomplete(root) == []
    assert (fingerprint(_join(root, "v1")), fingerprint(notes)) == kept
    result = CliRunner().invoke(cli, ["ls", root])
    assert "incomplete" not in result.output, result.output  # nothing for `mlops clean` to remove: not suggested


def test_clean_never_removes_a_claimed_folder_that_holds_versions(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "ds")
    publish(raw, root, "v1")
    claimed = leave_incomplete(root, "v9")
    publish(raw, claimed, "inner")  # v9 is now a publication root too
    before = fingerprint(root)
    assert remove_incomplete(root, dry_run=True) == [] and remove_incomplete(root) == []
    assert fingerprint(root) == before


def test_ls_suggests_clean_only_for_what_clean_removes(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "ds")
    publish(raw, root, "v1")
    write_file(os.path.join(root, "my_notes"), "notes.txt")
    crashed = leave_incomplete(root, "v9")
    listed = CliRunner().invoke(cli, ["ls", root]).output
    assert "(1 incomplete" in listed, listed
    incomplete = CliRunner().invoke(cli, ["ls", root, "--incomplete"]).output
    assert "v9" in incomplete and "my_notes" not in incomplete, incomplete
    dry = CliRunner().invoke(cli, ["clean", root, "--dry-run"]).output
    assert dry.splitlines() == [f"would remove {crashed}"]


def test_clean_dry_run_lists_exactly_what_a_real_run_removes(base: str, raw: str) -> None:
    root = _join(base, "ds")
    publish(raw, root, "v1")
    removable = [
        leave_incomplete(root, "v7"),
        leave_incomplete(root, "v8", host=socket.gethostname(), pid=2**22 + 7),  # a dead process of this machine
    ]
    leave_incomplete(root, "v9", host=socket.gethostname(), pid=os.getppid())  # a live publisher: kept
    leave_incomplete(
        root, "fresh", started="2999-01-01T00:00:00"
    )  # started "now" by a clock ahead: kept with --older-than
    write_file(_join(root, "my_notes"), "notes.txt")
    write_file(_join(root, ".hidden"), "mine.txt")  # a hidden folder that is no mlops temporary
    removable.append(leave_incomplete(root, ".tmp-dead"))  # a staging folder a killed publisher left
    write_file(_join(root, ".tmp-unclaimed"), "whatever")  # named like one, but unclaimed: not provably mlops'
    everything = fingerprint(root)
    dry = remove_incomplete(root, older_than=60, dry_run=True)
    assert sorted(dry) == sorted(removable)
    assert fingerprint(root) == everything
    assert remove_incomplete(root, older_than=60) == dry
    gone = {rel for rel in everything if rel not in fingerprint(root)}
    prefix = {path[len(resolve(root).url) + 1 :] for path in dry}
    assert gone == {rel for rel in everything if rel.split("/", 1)[0] in prefix}
    assert {rel: h for rel, h in fingerprint(root).items()} == {
        rel: h for rel, h in everything.items() if rel.split("/", 1)[0] not in prefix
    }
    leave_incomplete(root, "v10")
    cli_dry = CliRunner().invoke(cli, ["clean", root, "--older-than", "1m", "--dry-run"]).output.splitlines()
    assert cli_dry == [f"would remove {_join(root, 'v10')}"]
    cli_real = CliRunner().invoke(cli, ["clean", root, "--older-than", "1m"]).output.splitlines()
    assert [line.replace("would remove", "removed") for line in cli_dry] == cli_real


# --- a root whose own name holds glob characters ----------------------------------------------------------------------


def test_a_root_named_like_a_pattern_works_end_to_end(base: str, raw: str) -> None:
    lookalike, root = _join(base, LOOKALIKE_ROOT), _join(base, GLOB_ROOT)
    publish(raw, lookalike, "v1")
    publish(raw, lookalike, "v2", seed=1)
    leave_incomplete(lookalike, "v3")
    untouched = fingerprint(lookalike)

    v1 = publish(raw, root, "v1")
    v2 = publish(raw, root, "v2", seed=1)
    assert v1 == _join(root, "v1")
    assert [info.version for info in mlops.list_versions(root)] == ["v2", "v1"]
    ls = CliRunner().invoke(cli, ["ls", root])
    assert ls.exit_code == 0 and [line.split()[0] for line in ls.output.splitlines()[1:]] == ["v2", "v1"], ls.output
    dataset = mlops.open_version(v1)
    dataset.verify()
    assert dataset.X_train.shape == (9, 2)
    crashed = leave_incomplete(root, "v3")
    assert [item.path for item in list_incomplete(root)] == [crashed]
    assert remove_incomplete(root, dry_run=True) == [crashed]
    assert remove_incomplete(root) == [crashed]
    kept = fingerprint(v2)
    assert mlops.remove_version(v1).version == "v1"
    assert fingerprint(v1) == {} and fingerprint(crashed) == {} and fingerprint(v2) == kept
    assert [info.version for info in mlops.list_versions(root)] == ["v2"]
    assert fingerprint(lookalike) == untouched


# --- no pattern-expanding fsspec call ---------------------------------------------------------------------------------


@pytest.fixture
def no_expansion(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every fsspec call that expands patterns (``rm``, ``copy``, ``mv``, ``cat``, ``get``, ``put``,
    ``du`` go through ``expand_path`` or ``glob``) fails the test if mlops makes it."""
    import fsspec.asyn
    import fsspec.spec
    from fsspec.implementations.memory import MemoryFileSystem
    from s3fs import S3FileSystem

    def refuse(name: str) -> object:
        def call(*args: object, **kwargs: object) -> object:
            raise AssertionError(f"mlops called the pattern-expanding fsspec {name}{args[1:]}")

        return call

    async def refuse_async(*args: object, **kwargs: object) -> object:
        raise AssertionError(f"mlops called a pattern-expanding fsspec coroutine {args[1:]}")

    for cls in (fsspec.spec.AbstractFileSystem, MemoryFileSystem):
        for name in ("expand_path", "glob", "du", "rm", "copy", "mv"):
            monkeypatch.setattr(cls, name, refuse(name))
    for cls in (fsspec.asyn.AsyncFileSystem, S3FileSystem):
        for name in ("_expand_path", "_glob", "_du", "_rm", "_copy", "_cat"):
            if name in vars(cls):
                monkeypatch.setattr(cls, name, refuse_async)
    S3FileSystem.clear_instance_cache()  # instances mirror their coroutines as sync methods when made
    MemoryFileSystem.clear_instance_cache()
    yield
    S3FileSystem.clear_instance_cache()
    MemoryFileSystem.clear_instance_cache()


@pytest.mark.parametrize("kind", ["memory", "s3"])
def test_no_pattern_expanding_fsspec_call_is_made(
    kind: str, raw: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = (
        f"memory://expand-{uuid.uuid4().hex[:12]}" if kind == "memory" else f"{request.getfixturevalue('s3_bucket')}/x"
    )
    request.getfixturevalue("no_expansion")
    root = _join(base, GLOB_ROOT)
    v1 = publish(raw, root, "v1")
    v2 = publish(raw, root, "v2")  # identical content: its files are server-side copies of v1's
    mlops.open_version(v2).verify()
    CliRunner().invoke(cli, ["tag", v2, "--add", "gold"], catch_exceptions=False)
    assert mlops.list_versions(root)[0].tags == ("gold",)
    leave_incomplete(root, "v3")
    assert len(remove_incomplete(root)) == 1
    mlops.remove_version(v1)
    monkeypatch.setattr(VersionWriter, "commit", _failing_commit)
    with pytest.raises(OSError, match="injected"):
        publish(raw, root, "v4")
    assert [info.version for info in mlops.list_versions(root)] == ["v2"]


def _third_block_fails(block: np.ndarray, block_info: dict[object, dict[str, object]] | None = None) -> np.ndarray:
    if block_info is not None and block_info[None]["chunk-location"] == (2, 0):
        raise OSError("the processor failed on the third block (injected)")
    return block


def test_a_failed_publish_removes_the_chunks_its_tasks_wrote(base: str, raw: str) -> None:
    """A chunked tensor's chunks are written by Dask tasks: a failed publish removes those its tasks
    had written (the folder it owned), and the version folder with them."""
    da = pytest.importorskip("dask.array")
    import dask

    root = _join(base, "rows")
    publish(raw, root, "v1")
    before = fingerprint(_join(root, "v1"))
    features = da.from_array(np.arange(40.0).reshape(20, 2), chunks=(5, 2)).map_blocks(_third_block_fails)
    builder = VersionedDatasetBuilder(raw, FixedProcessor({"X_train": features}, {"y_train": np.zeros(20)}))
    with dask.config.set(scheduler="synchronous"), pytest.raises(OSError, match="injected"):
        builder.publish(root, "v2")
    assert fingerprint(_join(root, "v2")) == {}
    assert fingerprint(_join(root, "v1")) == before
    assert list_incomplete(root) == []
