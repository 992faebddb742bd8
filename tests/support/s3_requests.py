"""Counting the S3 requests this process sends through s3fs (every one goes through
``S3FileSystem._call_s3``, directly or through its blocking twin ``call_s3``), by operation: how
the registry tests check what resolving ``ROOT@ALIAS`` and moving an alias cost. (The benchmarks
have the same counter in benchmarks/s3server.py.)"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def count_s3_requests() -> Iterator[Counter[str]]:
    """A ``Counter`` of S3 operations (``list_objects_v2``, ``get_object``...) sent meanwhile."""
    import s3fs
    from fsspec.asyn import sync_wrapper

    calls: Counter[str] = Counter()
    original, original_sync = s3fs.S3FileSystem._call_s3, s3fs.S3FileSystem.call_s3

    async def counting(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        calls[method] += 1  # counted when sent: failed requests (404s) count too
        return await original(self, method, *args, **kwargs)

    s3fs.S3FileSystem._call_s3 = counting  # type: ignore[method-assign]
    s3fs.S3FileSystem.call_s3 = sync_wrapper(counting)  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        s3fs.S3FileSystem._call_s3 = original  # type: ignore[method-assign]
        s3fs.S3FileSystem.call_s3 = original_sync  # type: ignore[method-assign]
