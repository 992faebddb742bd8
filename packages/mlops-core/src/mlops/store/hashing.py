"""sha256 while bytes move: pipelined beside writes, memory-mapped over files mlops wrote itself."""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from mlops.utils import progress

CHUNK_SIZE = 8 * 1024 * 1024
"""Bytes moved per read/write when streaming (large enough for sha256 and S3 to run at speed)."""


class PipelinedSha256:
    """sha256 computed on a helper thread, in order, one chunk in flight: the hash of a chunk runs
    while the caller writes that chunk (hashlib and file writes both release the GIL), so hashing
    adds little to the time of writing. Small chunks are hashed inline."""

    PIPELINE_MIN = 1 << 20

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._wait()
        if memoryview(data).nbytes < self.PIPELINE_MIN:
            self._sha.update(data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-hash")
        self._pending = self._pool.submit(self._sha.update, data)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def chunks(f: Any) -> Iterator[bytes]:
    """The content of an open binary file in :data:`CHUNK_SIZE` pieces."""
    while True:
        chunk = f.read(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


def hash_own_file(f: Any, sha: Any, *, report: bool = True) -> int:
    """Feed the open local file ``f`` to ``sha``; return its size.

    The file is memory-mapped rather than read: hashing straight from the page cache skips a
    copy (about a quarter faster here). Only for files mlops itself wrote (staged or downloaded):
    a mapped file that someone truncates meanwhile would crash the process, so files in a store
    are read with ``read()`` instead."""
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        return 0
    with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as view:
        for start in range(0, size, CHUNK_SIZE):
            sha.update(view[start : start + CHUNK_SIZE])
            if report:
                progress.advance(min(CHUNK_SIZE, size - start))
    return size


def sha256_of_own_file(path: str) -> str:
    """The sha256 of a file mlops itself just wrote (a download in the cache)."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        hash_own_file(f, sha, report=False)
    return sha.hexdigest()


def sha256_of_file(path: str) -> tuple[str, int]:
    """The sha256 and size of any local file, read with ``read()`` (safe if it changes meanwhile)."""
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in chunks(f):
            sha.update(chunk)
            size += len(chunk)
            progress.advance(len(chunk))
    return sha.hexdigest(), size
