"""The primitives of the store layer on every kind of store: what publishing, listing, tagging,
cleaning and the next features (dedup, resume) build on."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mlops import errors
from mlops.store import FileEntry, FsspecStore, LocalStore, Location, S3Store, resolve


def _entry(data: bytes) -> FileEntry:
    return FileEntry(hashlib.sha256(data).hexdigest(), len(data))


@pytest.fixture
def root(store: str) -> Location:
    return resolve(store)


def test_resolve_picks_the_store_once(store: str) -> None:
    loc = resolve(store)
    expected = LocalStore if "://" not in store else S3Store if store.startswith("s3://") else FsspecStore
    assert type(loc.store) is expected
    assert loc.child("a/b.txt").url.replace(os.sep, "/").endswith("/a/b.txt")
    assert loc.child("a/b.txt").parent.child("c").name == "c"
    assert resolve(loc) is loc


def test_write_read_list_replace_remove(root: Location) -> None:
    store = root.store
    written = store.write_stream(root.child("dir/a.bin"), [b"hello ", b"world"])
    assert written == _entry(b"hello world")
    store.write_stream(root.child("dir/sub/b.bin"), [b""])
    store.write_stream(root.child("top.txt"), [b"top"])
    assert store.exists(root.child("dir")) and store.is_dir(root.child("dir"))
    assert not store.is_dir(root.child("top.txt"))
    assert [(e.name, e.is_dir) for e in store.list_dir(root)] == [("dir", True), ("top.txt", False)]
    assert store.list_files(root) == {"dir/a.bin": 11, "dir/sub/b.bin": 0, "top.txt": 3}
    assert store.read_bytes(root.child("dir/a.bin")) == b"hello world"
    found = store.read_many([root.child("top.txt"), root.child("nope.txt"), root.child("dir/a.bin")])
    assert found[0] == b"top" and isinstance(found[1], FileNotFoundError) and found[2] == b"hello world"
    store.replace_file(root.child("top.txt"), b"new")
    assert store.read_bytes(root.child("top.txt")) == b"new"
    assert [e.name for e in store.list_dir(root)] == ["dir", "top.txt"]  # no temporary file left
    store.delete_files([root.child("dir/a.bin"), root.child("dir/sub/b.bin"), root.child("never-there")])
    assert store.list_files(root) == {"top.txt": 3}
    with pytest.raises(FileNotFoundError):
        store.list_dir(root.child("missing"))


def test_delete_files_deletes_exactly_the_names_given(root: Location) -> None:
    """Names are never patterns: ``v*`` and ``d[1]`` are deleted alone, the files a pattern would
    match stay; a folder named is never removed with its content; emptied folders are pruned up
    to the folder given, and only those."""
    store = root.store
    names = ["v*/a.bin", "v*/sub/b.bin", "d[1]/c.bin", "v1/a.bin", "v2/sub/b.bin", "d1/c.bin", "keep/x.bin"]
    for name in names:
        store.write_stream(root.child(name), [name.encode()])
    store.delete_files([root.child("v*/a.bin"), root.child("v*/sub/b.bin")], prune=root.child("v*"))
    store.delete_files([root.child("d[1]/c.bin"), root.child("keep"), root.child("d[1]/never-there")])
    kept = ["d1/c.bin", "keep/x.bin", "v1/a.bin", "v2/sub/b.bin"]
    assert store.list_files(root) == {name: len(name) for name in kept}
    assert not store.exists(root.child("v*")) and store.exists(root.child("v1"))
    with pytest.raises(ValueError, match="not inside"):
        store.delete_files([root.child("v1/a.bin")], prune=root.child("v2"))
    assert store.read_bytes(root.child("v1/a.bin")) == b"v1/a.bin"


@pytest.mark.parametrize("durable", [True, False])
def test_create_exclusive_has_exactly_one_winner(root: Location, durable: bool) -> None:
    target = root.child("v1/.claim")
    barrier = threading.Barrier(8)

    def attempt(i: int) -> bool:
        barrier.wait()
        try:
            root.store.create_exclusive(target, f"racer {i}".encode(), durable=durable)
            return True
        except FileExistsError:
            return False

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    assert root.store.read_bytes(target) == f"racer {winner}".encode()


def test_a_loser_whose_temporary_file_the_winner_cleared_is_told_the_file_exists(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Racing resumers: the one that creates the takeover marker first clears the ``.tmp-*`` files
    in the version (abort_uploads), a slower racer's temporary copy of the same marker among them.
    That racer must get FileExistsError (it lost), not a FileNotFoundError on its temporary file."""
    root = resolve(os.fspath(tmp_path))
    target = root.child("v1/.mlops-takeover-x")
    root.store.write_stream(root.child("v1/part.bin"), [b"left by a killed publisher"])
    real_link = os.link

    def winner_first(src: str, dst: str) -> None:  # the winner acts between our write and our link
        monkeypatch.setattr(os, "link", real_link)
        root.store.create_exclusive(target, b"the winner's claim")
        assert root.store.abort_uploads(root.child("v1")) == 1  # our temporary file
        real_link(src, dst)

    monkeypatch.setattr(os, "link", winner_first)
    with pytest.raises(FileExistsError):
        root.store.create_exclusive(target, b"the loser's claim")
    assert root.store.read_bytes(target) == b"the winner's claim"
    assert sorted(root.store.list_files(root.child("v1"))) == [".mlops-takeover-x", "part.bin"]


def test_verified_reads_refuse_changed_bytes(root: Location) -> None:
    store = root.store
    entry = store.write_stream(root.child("f.bin"), [b"x" * 1000])
    assert store.read_verified(root.child("f.bin"), entry, "f.bin") == b"x" * 1000
    with open(store.fetch_verified(root.child("f.bin"), entry, "f.bin"), "rb") as f:
        assert f.read() == b"x" * 1000
    store.replace_file(root.child("f.bin"), b"y" * 1000)
    with pytest.raises(errors.IntegrityError, match="f.bin"):
        store.read_verified(root.child("f.bin"), entry, "f.bin")
    with pytest.raises(errors.IntegrityError, match="f.bin"):
        store.fetch_verified(root.child("f.bin"), entry, "f.bin", use_cache=False)
    with pytest.raises(errors.IntegrityError, match="missing"):  # (remote blobs already cached by hash are reused)
        store.fetch_verified(root.child("gone.bin"), entry, "gone.bin", use_cache=False)


def test_copies_between_stores_are_hashed_on_the_way(root: Location, tmp_path: object) -> None:
    local = resolve(os.path.join(str(tmp_path), "src.bin"))
    local.store.write_stream(local, [b"payload"])
    entry = root.store.copy_from(local, root.child("copied.bin"))
    assert entry == _entry(b"payload") and root.store.read_bytes(root.child("copied.bin")) == b"payload"


def test_a_copy_within_one_store_gives_the_entry_of_the_bytes(root: Location) -> None:
    # S3: CopyObject with the SHA-256 S3 computes; Azure, memory: a server-side copy read back to
    # hash it; local disk: streamed. The same entry whichever way.
    data = os.urandom(300_000)
    root.store.write_stream(root.child("a/src.bin"), [data])
    entry = root.store.copy_from(root.child("a/src.bin"), root.child("b/copy.bin"))
    assert entry == _entry(data)
    assert root.store.read_bytes(root.child("b/copy.bin")) == data


def test_hard_links_server_copies_and_content_checks(root: Location) -> None:
    """Each optional primitive works where the store has it and says False where it does not,
    so callers fall back to writing the bytes."""
    store = root.store
    entry = store.write_stream(root.child("v1/a.bin"), [b"shared content"])
    assert store.content_exists(root.child("v1/a.bin"), entry)
    assert not store.content_exists(root.child("v1/a.bin"), FileEntry(entry.sha256, entry.size + 1))
    assert not store.content_exists(root.child("v1/missing.bin"), entry)
    linked = store.hard_link(root.child("v1/a.bin"), root.child("v2/a.bin"))
    assert linked == isinstance(store, LocalStore)
    if linked:
        assert os.stat(root.child("v1/a.bin").path).st_ino == os.stat(root.child("v2/a.bin").path).st_ino
        store.delete_files([root.child("v1/a.bin")], prune=root.child("v1"))  # never affects another version
        assert store.read_bytes(root.child("v2/a.bin")) == b"shared content"
    copied = store.server_copy(root.child("v2/a.bin" if linked else "v1/a.bin"), root.child("v3/a.bin"))
    assert copied == isinstance(store, FsspecStore)
    if copied:
        assert store.read_bytes(root.child("v3/a.bin")) == b"shared content"
    other = resolve(f"memory://elsewhere-{os.getpid()}")
    assert not store.server_copy(other.child("x"), root.child("v4/x"))  # another store: the caller copies


def test_staging_is_local_and_cleaned_up(root: Location) -> None:
    with root.store.staging(root) as folder:
        assert os.path.isdir(folder)
        open(os.path.join(folder, "f"), "w").close()
    assert not os.path.exists(folder)
