"""Named pipes, sockets and devices in a raw folder are refused up front, the file named, before
anything is written (copying a named pipe used to wait forever for a writer)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import MlopsError, SpecialFileError
from sample_processors import CsvProcessor

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes and Unix sockets are POSIX only")


@pytest.fixture
def root(raw_dir: str, tmp_path: Path) -> str:
    """A publication root already holding v1, published from ``raw_dir`` before anything special was added."""
    path = str(tmp_path / "store")
    VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(path, "v1")
    return path


@pytest.fixture
def fed_fifo(raw_dir: str) -> Iterator[str]:
    """A named pipe in the raw folder with a writer that opens and closes it for each reader, so a
    publisher that (wrongly) reads it gets an empty file instead of hanging this test forever."""
    fifo = os.path.join(raw_dir, "extra", "pipe")
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            os.close(os.open(fifo, os.O_WRONLY))  # blocks until someone opens the pipe to read

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield fifo
    finally:
        stop.set()
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # releases the feeder's pending open
        feeder.join()
        os.close(reader)


def _refused(raw: str, root: str, **kwargs: object) -> SpecialFileError:
    with pytest.raises(SpecialFileError) as caught:
        VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v2", **kwargs)  # type: ignore[arg-type]
    assert isinstance(caught.value, MlopsError) and isinstance(caught.value, ValueError)
    assert sorted(os.listdir(root)) == ["v1"]  # no version folder, no claim, no temporary
    return caught.value


def test_a_named_pipe_is_refused_and_named(raw_dir: str, root: str, fed_fifo: str) -> None:
    error = _refused(raw_dir, root)
    assert f"{fed_fifo} is a named pipe (FIFO), not a regular file" in str(error)
    assert "raw='link'" in str(error)


def test_a_socket_is_refused_and_named(raw_dir: str, root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(os.path.join(raw_dir, "extra"))  # a short relative name: socket paths are limited to ~100 bytes
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("app.sock")
        server.listen(1)
        error = _refused(raw_dir, root)
    assert f"{os.path.join(raw_dir, 'extra', 'app.sock')} is a socket, not a regular file" in str(error)


def test_a_device_reached_through_a_followed_link_is_refused(raw_dir: str, root: str) -> None:
    os.symlink(os.devnull, os.path.join(raw_dir, "null"))
    error = _refused(raw_dir, root, follow_symlinks=True)
    assert f"{os.path.join(raw_dir, 'null')} is a symbolic link to {os.devnull}, which is a character device" in str(
        error
    )


def test_a_raw_path_that_is_itself_a_named_pipe_is_refused(raw_dir: str, root: str, fed_fifo: str) -> None:
    class PipeIgnoringProcessor(CsvProcessor):
        def get_raw_features_and_labels(self, dataset_path: str):  # type: ignore[no-untyped-def]
            return super().get_raw_features_and_labels(raw_dir)

    with pytest.raises(SpecialFileError, match="is a named pipe"):
        VersionedDatasetBuilder(fed_fifo, PipeIgnoringProcessor()).publish(root, "v2")
    assert sorted(os.listdir(root)) == ["v1"]


def test_raw_link_records_a_folder_holding_a_named_pipe(raw_dir: str, root: str, fed_fifo: str) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(root, "v2", raw="link")
    assert sorted(os.listdir(root)) == ["v1", "v2"]
    assert not os.path.exists(os.path.join(path, "raw"))
