"""adlfs against azurite, for exactly what a store layer needs from Azure Blob: create-only writes
and their races, streamed block uploads, ranges, listings of prefixes, removal, server-side copies,
content checks, the listings cache, empty blobs and the exceptions callers must map.

Each test states what adlfs does today, so a change in adlfs or azurite shows up here first."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from azurite_support import AzuriteServer, connection_string
from counting_proxy import CountingProxy
from fsspec.asyn import sync

try:
    from adlfs import AzureBlobFileSystem
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
    from azure.storage.blob import BlobBlock, BlobClient, BlobServiceClient
except ImportError:
    if os.environ.get("CI"):  # CI installs it: a skip there would hide a missing install step
        raise
    pytest.skip('adlfs is not installed: pip install "mlops-core[azure]"', allow_module_level=True)

MB = 1024 * 1024
RACERS = 8
OVERHEAD = 16 * 1024  # room for the HTTP headers of a few requests
WORKER = Path(__file__).with_name("azure_create_worker.py")


@pytest.fixture
def fs(azurite_server: AzuriteServer) -> AzureBlobFileSystem:
    """adlfs as users get it: ``fsspec.filesystem("az")`` with nothing but the environment."""
    return fsspec.filesystem("az")


@pytest.fixture
def root(azure_container: str) -> str:
    """The fresh container's name, the root of adlfs paths (``NAME/key``)."""
    return azure_container.removeprefix("az://")


@pytest.fixture
def service(azurite_server: AzuriteServer) -> Iterator[BlobServiceClient]:
    """The Azure SDK's own client, to look under adlfs (block lists, copy conditions)."""
    with BlobServiceClient.from_connection_string(azurite_server.connection_string) as client:
        yield client


@pytest.fixture
def counted_fs(azure_counted: CountingProxy) -> AzureBlobFileSystem:
    """adlfs reaching azurite only through the byte-counting proxy."""
    return AzureBlobFileSystem(connection_string=connection_string(azure_counted.endpoint), skip_instance_cache=True)


def _blob(service: BlobServiceClient, path: str) -> BlobClient:
    container, key = path.split("/", 1)
    return service.get_blob_client(container, key)


def _code(exc: HttpResponseError) -> str | None:
    """The storage error code (``BlobAlreadyExists``...) that azure-storage-blob sets on its errors."""
    code = getattr(exc, "error_code", None)  # a StorageErrorCode member or a plain string
    return None if code is None else str(getattr(code, "value", code))


def _block_sizes(service: BlobServiceClient, path: str) -> tuple[list[int], list[int]]:
    """Sizes of a blob's committed and uncommitted blocks."""
    committed, uncommitted = _blob(service, path).get_block_list("all")
    return [b.size for b in committed], [b.size for b in uncommitted]


# --- how the account reaches adlfs ---------------------------------------------------------------


def test_the_environment_alone_reaches_azurite_here_and_in_subprocesses(
    azurite_server: AzuriteServer, azure_container: str
) -> None:
    assert os.environ["AZURE_STORAGE_CONNECTION_STRING"] == azurite_server.connection_string
    assert f"BlobEndpoint=http://127.0.0.1:{azurite_server.port}/devstoreaccount1" in azurite_server.connection_string
    with fsspec.open(f"{azure_container}/hello.txt", "wb") as f:  # a plain URL, no storage_options
        f.write(b"from the parent")
    code = (
        "import fsspec, sys\n"
        f"sys.stdout.write(fsspec.open({azure_container + '/hello.txt'!r}, 'rb').open().read().decode())\n"
        f"fsspec.filesystem('az').pipe_file({azure_container + '/child.txt'!r}, b'from the child')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout == "from the parent"
    with fsspec.open(f"{azure_container}/child.txt", "rb") as f:
        assert f.read() == b"from the child"


def test_storage_options_reach_azurite_without_the_environment(
    azurite_server: AzuriteServer, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    fs, path = fsspec.url_to_fs(f"az://{root}/x", skip_instance_cache=True, **azurite_server.storage_options)
    fs.pipe_file(path, b"1")
    assert fs.cat_file(path) == b"1"


# --- create-only writes ----------------------------------------------------------------------------


def test_pipe_file_and_put_file_create_only_refuse_an_existing_blob(
    fs: AzureBlobFileSystem, root: str, tmp_path: Path
) -> None:
    path = f"{root}/claim"
    fs.pipe_file(path, b"first", overwrite=False)  # one Put Blob with If-None-Match: *
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"second", overwrite=False)
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"third", mode="create")  # fsspec's spelling of the same
    (tmp_path / "local").write_bytes(b"from disk")
    with pytest.raises(FileExistsError):
        fs.put_file(str(tmp_path / "local"), path, overwrite=False)
    assert fs.cat_file(path) == b"first"
    fs.pipe_file(path, b"fourth")  # the default overwrites
    assert fs.cat_file(path) == b"fourth"


def test_open_xb_refuses_an_existing_blob_at_commit(fs: AzureBlobFileSystem, root: str) -> None:
    path = f"{root}/claim"
    with fs.open(path, "xb") as f:  # blocks staged, then Put Block List with If-None-Match: *
        f.write(b"first")
    with pytest.raises(FileExistsError), fs.open(path, "xb") as f:
        f.write(b"second")
    assert fs.cat_file(path) == b"first"


def test_a_create_only_write_that_loses_has_uploaded_its_bytes_first(
    fs: AzureBlobFileSystem, counted_fs: AzureBlobFileSystem, azure_counted: CountingProxy, root: str
) -> None:
    """The condition is checked when the blocks are committed, after they were sent: claim a name
    with a small create-only write before streaming large files under it."""
    fs.pipe_file(f"{root}/taken", b"winner")
    counted_fs.ls(root)
    azure_counted.reset()
    with pytest.raises(FileExistsError), counted_fs.open(f"{root}/taken", "xb", block_size=MB) as f:
        f.write(b"l" * (2 * MB))
    assert azure_counted.counts().upstream >= 2 * MB
    assert fs.cat_file(f"{root}/taken") == b"winner"


def test_azurite_answers_a_conditional_commit_on_an_existing_blob_with_409(
    fs: AzureBlobFileSystem, service: BlobServiceClient, root: str
) -> None:
    """adlfs maps only ResourceExistsError (409 BlobAlreadyExists) to FileExistsError in "xb" mode.
    azurite answers 409; a service answering 412 ConditionNotMet would surface as RuntimeError."""
    fs.pipe_file(f"{root}/claim", b"first")
    blob = _blob(service, f"{root}/claim")
    blob.stage_block("YmxvY2stMQ==", b"second")
    with pytest.raises(ResourceExistsError) as info:
        blob.commit_block_list([BlobBlock("YmxvY2stMQ==")], headers={"If-None-Match": "*"})
    assert (info.value.status_code, _code(info.value)) == (409, "BlobAlreadyExists")
    assert fs.cat_file(f"{root}/claim") == b"first"


def _race_threads(write: Callable[[str, bytes], None], path: str) -> list[str]:
    """RACERS threads write ``path`` create-only at once; returns each one's outcome."""
    barrier = threading.Barrier(RACERS)
    outcomes = [""] * RACERS

    def racer(i: int) -> None:
        barrier.wait()
        try:
            write(path, bytes([65 + i]) * 3000)
            outcomes[i] = "won"
        except FileExistsError:
            outcomes[i] = "lost"
        except Exception as exc:  # the assertion below shows it
            outcomes[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("mode", ["pipe", "xb"])
def test_a_create_only_race_of_8_threads_has_exactly_one_winner(
    fs: AzureBlobFileSystem, service: BlobServiceClient, root: str, mode: str
) -> None:
    def write(path: str, data: bytes) -> None:
        if mode == "pipe":
            fs.pipe_file(path, data, overwrite=False)
        else:
            with fs.open(path, "xb", block_size=1000) as f:  # 3 blocks each, staged before the commit
                f.write(data)

    for round_ in range(10):
        path = f"{root}/race-{round_}"
        outcomes = _race_threads(write, path)
        assert sorted(outcomes) == ["lost"] * (RACERS - 1) + ["won"], outcomes
        winner = outcomes.index("won")
        assert fs.cat_file(path) == bytes([65 + winner]) * 3000
        committed, _ = _block_sizes(service, path)
        assert committed == ([] if mode == "pipe" else [1000, 1000, 1000])  # Put Blob has no blocks


@pytest.mark.slow
def test_a_create_only_race_of_8_processes_has_exactly_one_winner(azure_container: str, root: str) -> None:
    env = dict(os.environ)  # carries AZURE_STORAGE_CONNECTION_STRING
    racers = [
        subprocess.Popen(
            [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(RACERS)
    ]
    fs = fsspec.filesystem("az")
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        for round_ in range(10):
            mode = "pipe" if round_ % 2 else "xb"
            path = f"{root}/race-{round_}"
            for racer in racers:  # each waits on its stdin: they start together
                assert racer.stdin is not None
                racer.stdin.write(f"{mode} {path}\n")
                racer.stdin.flush()
            answers = [racer.stdout.readline().split(" ", 1) for racer in racers if racer.stdout is not None]
            outcomes = sorted(answer.strip() for _, answer in answers)
            assert outcomes == ["lost"] * (RACERS - 1) + ["won"], (mode, answers)
            winner = next(pid for pid, answer in answers if answer.strip() == "won")
            assert fs.cat_file(path) == winner.encode() * 1000
    finally:
        for racer in racers:
            if racer.stdin is not None:
                racer.stdin.close()
        for racer in racers:
            racer.wait(timeout=60)
            if racer.stdout is not None:
                racer.stdout.close()


# --- streamed writes ---------------------------------------------------------------------------


def test_a_streamed_write_over_4_mb_is_committed_as_blocks_with_nothing_left_over(
    fs: AzureBlobFileSystem, service: BlobServiceClient, root: str
) -> None:
    path = f"{root}/big.bin"
    data = os.urandom(9 * MB + 123)
    with fs.open(path, "wb", block_size=4 * MB) as f:  # a block is staged each time 4 MB are buffered
        for start in range(0, len(data), MB):
            f.write(data[start : start + MB])
    assert fs.info(path)["size"] == len(data)
    assert fs.cat_file(path) == data
    assert _block_sizes(service, path) == ([4 * MB, 4 * MB, MB + 123], [])


def test_an_exception_inside_with_commits_what_was_written(fs: AzureBlobFileSystem, root: str) -> None:
    """fsspec's __exit__ closes, and close commits: a failed streamed write leaves a truncated blob."""
    path = f"{root}/partial.bin"
    with pytest.raises(ValueError), fs.open(path, "wb", block_size=MB) as f:
        f.write(b"a" * (2 * MB))
        raise ValueError("the producer failed half-way")
    assert fs.info(path)["size"] == 2 * MB


def test_a_write_abandoned_without_close_leaves_only_uncommitted_blocks(
    fs: AzureBlobFileSystem, service: BlobServiceClient, root: str
) -> None:
    """Marking the file closed (so neither close() nor __del__ commits) aborts it: the staged blocks
    stay uncommitted, invisible to readers and listings (Azure drops them after a week)."""
    path = f"{root}/abandoned.bin"
    f = fs.open(path, "xb", block_size=MB)
    f.write(b"b" * (3 * MB))  # three blocks staged already
    f.closed = True
    del f
    assert not fs.exists(path)
    assert fs.find(root) == []
    assert _block_sizes(service, path) == ([], [MB, MB, MB])
    with fs.open(path, "xb") as g:  # the name is still free, and a commit drops the old blocks
        g.write(b"fresh")
    assert fs.cat_file(path) == b"fresh"
    assert _block_sizes(service, path) == ([5], [])


# --- reads ---------------------------------------------------------------------------------------


def test_cat_file_ranges(fs: AzureBlobFileSystem, root: str) -> None:
    path = f"{root}/digits"
    fs.pipe_file(path, b"0123456789")
    assert fs.cat_file(path, start=0, end=4) == b"0123"
    assert fs.cat_file(path, start=4) == b"456789"
    assert fs.cat_file(path, start=8, end=100) == b"89"  # clipped to the blob
    assert fs.cat_file(path, start=10, end=20) == b""  # starting at the end is fine...
    with pytest.raises(HttpResponseError) as info:  # ...past it is a 416, not b"" nor FileNotFoundError
        fs.cat_file(path, start=11, end=20)
    assert info.value.status_code == 416
    with pytest.raises(ValueError):  # an empty range (start == end) confuses the SDK
        fs.cat_file(path, start=3, end=3)
    with pytest.raises(ValueError):  # no suffix ranges: adlfs sends the negative offset on
        fs.cat_file(path, start=-2)


def test_a_range_read_of_an_empty_blob_fails_where_a_whole_read_works(fs: AzureBlobFileSystem, root: str) -> None:
    """Callers that read with start=0 must special-case 0-byte blobs (their size is in listings)."""
    path = f"{root}/empty"
    fs.pipe_file(path, b"")
    assert fs.cat_file(path) == b""
    with fs.open(path, "rb") as f:
        assert f.read() == b""
    with pytest.raises(HttpResponseError) as info:
        fs.cat_file(path, start=0)
    assert info.value.status_code == 416


def test_cat_of_many_paths_is_sequential_but_the_async_cat_is_concurrent(
    fs: AzureBlobFileSystem, counted_fs: AzureBlobFileSystem, azure_counted: CountingProxy, root: str
) -> None:
    paths = [f"{root}/part-{i:02d}" for i in range(16)]
    fs.pipe({p: p.encode() for p in paths})
    expected = {p: p.encode() for p in paths}

    azure_counted.reset()
    assert counted_fs.cat(paths) == expected  # adlfs overrides cat: a loop of cat_file
    assert azure_counted.counts().peak_in_flight == 1

    azure_counted.reset()
    assert sync(counted_fs.loop, counted_fs._cat, paths) == expected  # fsspec's gather
    assert azure_counted.counts().peak_in_flight > 1


# --- listings -------------------------------------------------------------------------------------


@pytest.fixture
def tree(fs: AzureBlobFileSystem, root: str) -> str:
    for key in ["a/x", "a/b/y", "a/b/c/z", "ab/w", "top"]:
        fs.pipe_file(f"{root}/{key}", key.encode())
    return root


def test_ls_lists_one_level_with_prefixes_as_directories(fs: AzureBlobFileSystem, tree: str) -> None:
    assert fs.ls(tree) == [f"{tree}/a", f"{tree}/ab", f"{tree}/top"]
    assert fs.ls(f"az://{tree}/a/") == fs.ls(f"{tree}/a") == [f"{tree}/a/b", f"{tree}/a/x"]
    detail = {d["name"]: (d["type"], d["size"]) for d in fs.ls(f"{tree}/a", detail=True)}
    assert detail == {f"{tree}/a/b": ("directory", None), f"{tree}/a/x": ("file", 3)}
    assert fs.ls(f"{tree}/a/x") == [f"{tree}/a/x"]  # a blob lists as itself
    with pytest.raises(FileNotFoundError):
        fs.ls(f"{tree}/nothing")


def test_find_lists_every_blob_under_a_prefix_and_only_that_prefix(fs: AzureBlobFileSystem, tree: str) -> None:
    assert fs.find(f"{tree}/a") == [f"{tree}/a/b/c/z", f"{tree}/a/b/y", f"{tree}/a/x"]  # not ab/w
    assert fs.find(f"{tree}/a", withdirs=True) == [
        f"{tree}/a/b",
        f"{tree}/a/b/c",
        f"{tree}/a/b/c/z",
        f"{tree}/a/b/y",
        f"{tree}/a/x",
    ]
    assert fs.find(f"{tree}/nothing") == []  # no error
    assert fs.find(f"{tree}/a/x") == [f"{tree}/a/x"]
    detail = fs.find(tree, detail=True)
    assert {name: info["size"] for name, info in detail.items()} == {
        f"{tree}/{key}": len(key) for key in ["a/b/c/z", "a/b/y", "a/x", "ab/w", "top"]
    }


def test_empty_folders_do_not_exist(fs: AzureBlobFileSystem, root: str) -> None:
    fs.mkdir(f"{root}/empty")  # a no-op below the container
    fs.makedirs(f"{root}/empty/deeper", exist_ok=True)
    assert not fs.exists(f"{root}/empty")
    with pytest.raises(FileNotFoundError):
        fs.ls(f"{root}/empty")
    assert fs.find(root, withdirs=True) == []


def test_exists_and_info_on_blobs_prefixes_and_containers(fs: AzureBlobFileSystem, tree: str) -> None:
    assert fs.exists(f"{tree}/a/x") and fs.isfile(f"{tree}/a/x")
    assert fs.exists(f"{tree}/a/b") and fs.exists(f"{tree}/a/b/") and fs.isdir(f"{tree}/a/b")  # a prefix
    assert not fs.exists(f"{tree}/a/bb")  # a prefix ends at "/": a/b/ does not make a/bb exist
    assert fs.exists(f"{tree}/a/")
    assert not fs.exists(f"{tree}/a/x/")  # a blob is not a folder
    assert fs.exists(tree) and not fs.exists("mlops-no-such-container")
    assert fs.info(f"{tree}/a") == {"name": f"{tree}/a", "size": None, "type": "directory"}
    assert (fs.info(tree)["name"], fs.info(tree)["type"]) == (tree, "directory")
    blob = fs.info(f"{tree}/a/x")
    assert (blob["name"], blob["type"], blob["size"]) == (f"{tree}/a/x", "file", 3)
    assert blob["etag"].startswith('"') and blob["last_modified"] is not None
    assert blob["metadata"] == {"is_directory": "false"}  # adlfs tags every blob it writes


# --- removal --------------------------------------------------------------------------------------


def test_rm_recursive_removes_a_prefix_and_spares_its_siblings(fs: AzureBlobFileSystem, tree: str) -> None:
    fs.rm(f"{tree}/a", recursive=True)
    fs.invalidate_cache()
    assert fs.find(tree) == [f"{tree}/ab/w", f"{tree}/top"]
    fs.rm(f"{tree}/ab")  # without recursive, a prefix is silently left alone
    fs.invalidate_cache()
    assert fs.find(tree) == [f"{tree}/ab/w", f"{tree}/top"]
    fs.rm(f"{tree}/top")
    with pytest.raises(FileNotFoundError):
        fs.rm(f"{tree}/top")
    with pytest.raises(FileNotFoundError):
        fs.rm_file(f"{tree}/top")


def test_rm_recursive_of_the_container_deletes_the_container(fs: AzureBlobFileSystem, tree: str) -> None:
    """A store rooted at a container's top must never rm its root recursively."""
    fs.rm(tree, recursive=True)
    assert not fs.exists(tree)
    with pytest.raises(FileNotFoundError):
        fs.ls(tree)


# --- copies ---------------------------------------------------------------------------------------


def test_copy_is_server_side_and_keeps_metadata(
    fs: AzureBlobFileSystem, counted_fs: AzureBlobFileSystem, azure_counted: CountingProxy, root: str
) -> None:
    data = os.urandom(4 * MB)
    with fs.open(f"{root}/src.bin", "wb", metadata={"is_directory": "false", "sha256": "abc"}) as f:
        f.write(data)
    counted_fs.ls(root)  # connect first
    azure_counted.reset()
    counted_fs.copy(f"{root}/src.bin", f"{root}/dst.bin")  # Copy Blob from the source's URL
    counts = azure_counted.counts()
    assert counts.upstream < OVERHEAD and counts.downstream < OVERHEAD, counts  # no 4 MB through the client
    assert fs.cat_file(f"{root}/dst.bin") == data
    assert fs.info(f"{root}/dst.bin")["metadata"] == {"is_directory": "false", "sha256": "abc"}


def test_copy_overwrites_but_the_sdk_can_copy_create_only(
    fs: AzureBlobFileSystem, service: BlobServiceClient, root: str
) -> None:
    fs.pipe_file(f"{root}/src", b"new")
    fs.pipe_file(f"{root}/dst", b"old")
    fs.copy(f"{root}/src", f"{root}/dst")  # adlfs' copy has no create-only mode
    assert fs.cat_file(f"{root}/dst") == b"new"

    source = _blob(service, f"{root}/src").url
    fs.pipe_file(f"{root}/dst", b"old")
    with pytest.raises(ResourceExistsError) as info:  # If-None-Match: * on the destination
        _blob(service, f"{root}/dst").start_copy_from_url(source, match_condition=MatchConditions.IfMissing)
    assert info.value.status_code == 409
    assert fs.cat_file(f"{root}/dst") == b"old"
    copied = _blob(service, f"{root}/fresh").start_copy_from_url(source, match_condition=MatchConditions.IfMissing)
    assert copied["copy_status"] == "success"  # done when it answers, on azurite
    assert fs.cat_file(f"{root}/fresh") == b"new"


def test_mv_is_a_server_side_copy_then_a_delete(
    fs: AzureBlobFileSystem, counted_fs: AzureBlobFileSystem, azure_counted: CountingProxy, root: str
) -> None:
    fs.pipe_file(f"{root}/from/blob", b"x" * MB)
    counted_fs.ls(root)
    azure_counted.reset()
    counted_fs.mv(f"{root}/from/blob", f"{root}/to/blob")
    assert azure_counted.counts().upstream < OVERHEAD
    fs.invalidate_cache()
    assert fs.find(root) == [f"{root}/to/blob"]
    assert fs.cat_file(f"{root}/to/blob") == b"x" * MB


# --- knowing a blob's content without reading it ------------------------------------------------


def test_content_md5_is_kept_for_single_put_blobs_only(fs: AzureBlobFileSystem, root: str) -> None:
    data = b"some content"
    fs.pipe_file(f"{root}/put", data)  # one Put Blob: the service stores the MD5 of the body
    assert bytes(fs.info(f"{root}/put")["content_settings"]["content_md5"]) == hashlib.md5(data).digest()
    with fs.open(f"{root}/blocks", "wb") as f:  # Put Block List: no MD5 of the whole blob
        f.write(data)
    assert fs.info(f"{root}/blocks")["content_settings"]["content_md5"] is None


def test_a_hash_computed_while_writing_commits_with_the_blob_as_metadata(fs: AzureBlobFileSystem, root: str) -> None:
    """The way to say "this blob holds content H": set metadata before close, and it lands in the
    same commit as the bytes; listings return it, so one listing tells every blob's hash."""
    sha = hashlib.sha256()
    with fs.open(f"{root}/tensor.npy", "xb", block_size=MB) as f:
        for _ in range(3):
            chunk = os.urandom(MB)
            f.write(chunk)
            sha.update(chunk)
        f.metadata = {"is_directory": "false", "sha256": sha.hexdigest()}
    assert fs.info(f"{root}/tensor.npy")["metadata"]["sha256"] == sha.hexdigest()
    listed = {d["name"]: d["metadata"] for d in fs.ls(root, detail=True)}
    assert listed[f"{root}/tensor.npy"]["sha256"] == sha.hexdigest()
    with pytest.raises(TypeError, match="metadata"):  # pipe_file sets its own metadata and takes none
        fs.pipe_file(f"{root}/other", b"1", metadata={"sha256": "x"})


# --- the listings cache -------------------------------------------------------------------------


def test_listings_are_cached_until_invalidated(
    fs: AzureBlobFileSystem, azurite_server: AzuriteServer, root: str
) -> None:
    other = AzureBlobFileSystem(skip_instance_cache=True)  # another client of the same container
    fs.pipe_file(f"{root}/dir/one", b"1")
    assert fs.ls(f"{root}/dir") == [f"{root}/dir/one"]
    other.pipe_file(f"{root}/dir/two", b"2")
    other.rm(f"{root}/dir/one")
    assert fs.ls(f"{root}/dir") == [f"{root}/dir/one"]  # stale
    assert fs.exists(f"{root}/dir/one")  # exists answers from the cached listing too
    fs.invalidate_cache(f"{root}/dir")
    assert fs.ls(f"{root}/dir") == [f"{root}/dir/two"]
    assert not fs.exists(f"{root}/dir/one")

    uncached = AzureBlobFileSystem(use_listings_cache=False, skip_instance_cache=True)
    assert uncached.ls(f"{root}/dir") == [f"{root}/dir/two"]
    other.pipe_file(f"{root}/dir/three", b"3")
    assert uncached.ls(f"{root}/dir") == [f"{root}/dir/three", f"{root}/dir/two"]


# --- empty blobs --------------------------------------------------------------------------------


def test_empty_blobs_are_files_of_size_0(fs: AzureBlobFileSystem, root: str, tmp_path: Path) -> None:
    fs.pipe_file(f"{root}/piped", b"", overwrite=False)
    with fs.open(f"{root}/opened", "xb"):
        pass
    (tmp_path / "empty").write_bytes(b"")
    fs.put_file(str(tmp_path / "empty"), f"{root}/put")
    for name in ["piped", "opened", "put"]:
        info = fs.info(f"{root}/{name}")
        assert (info["type"], info["size"]) == ("file", 0), name
        assert fs.cat_file(f"{root}/{name}") == b""
    assert fs.find(root) == [f"{root}/opened", f"{root}/piped", f"{root}/put"]
    with pytest.raises(FileExistsError), fs.open(f"{root}/opened", "xb"):
        pass


# --- exceptions -----------------------------------------------------------------------------------

_MISSING_CASES: dict[str, Callable[[AzureBlobFileSystem, str], Any]] = {
    "cat_file": lambda fs, p: fs.cat_file(p),
    "info": lambda fs, p: fs.info(p),
    "ls": lambda fs, p: fs.ls(p),
    "open rb": lambda fs, p: fs.open(p, "rb"),
    "rm": lambda fs, p: fs.rm(p),
}


@pytest.mark.parametrize("operation", sorted(_MISSING_CASES))
def test_reading_a_missing_blob_or_container_raises_file_not_found(
    fs: AzureBlobFileSystem, root: str, operation: str
) -> None:
    for path in [f"{root}/no-such-blob", "mlops-no-such-container/blob"]:
        with pytest.raises(FileNotFoundError):
            _MISSING_CASES[operation](fs, path)
        assert not fs.exists(path)


def test_writing_into_a_missing_container_raises_sdk_errors_that_callers_must_map(fs: AzureBlobFileSystem) -> None:
    path = "mlops-no-such-container/blob"
    with pytest.raises(ResourceNotFoundError) as info:  # not a FileNotFoundError
        fs.pipe_file(path, b"1")
    assert _code(info.value) == "ContainerNotFound"
    with pytest.raises(RuntimeError, match="ContainerNotFound"), fs.open(path, "xb") as f:
        f.write(b"1")  # "Failed to upload block: ... ContainerNotFound"
    assert not fs.exists("mlops-no-such-container")


def test_a_short_container_name_is_refused_by_the_service(fs: AzureBlobFileSystem) -> None:
    with pytest.raises(HttpResponseError) as info:
        fs.pipe_file("ab/blob", b"1")  # container names have 3 to 63 characters
    assert _code(info.value) == "OutOfRangeInput"
