"""Watching the S3 requests this process sends through s3fs: every one goes through
``S3FileSystem._call_s3``, directly or through its blocking twin ``call_s3`` (used by open files).
:func:`intercept_s3_calls` wraps both, once for the tests (:func:`count_s3_requests`: what the
registry tests check resolving ``ROOT@ALIAS`` and moving an alias cost) and the benchmarks
(benchmarks/s3server.py's ``count_requests``)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

Send = Callable[..., Awaitable[Any]]
"""``await send(method, *args, **kwargs)``: the request going on to S3, its response returned."""


@contextlib.contextmanager
def intercept_s3_calls(wrapper: Callable[..., Awaitable[Any]]) -> Iterator[None]:
    """Route every s3fs request sent meanwhile through ``await wrapper(send, method, *args, **kwargs)``,
    which must ``await send(method, *args, **kwargs)`` and return its result. One event loop runs every
    s3fs call, so a wrapper keeping counts needs no lock."""
    import s3fs
    from fsspec.asyn import sync_wrapper

    original, original_sync = s3fs.S3FileSystem._call_s3, s3fs.S3FileSystem.call_s3

    async def intercepted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        async def send(method: str, *args: Any, **kwargs: Any) -> Any:
            return await original(self, method, *args, **kwargs)

        return await wrapper(send, method, *args, **kwargs)

    s3fs.S3FileSystem._call_s3 = intercepted  # type: ignore[method-assign]
    s3fs.S3FileSystem.call_s3 = sync_wrapper(intercepted)  # type: ignore[method-assign]
    try:
        yield
    finally:
        s3fs.S3FileSystem._call_s3 = original  # type: ignore[method-assign]
        s3fs.S3FileSystem.call_s3 = original_sync  # type: ignore[method-assign]


@contextlib.contextmanager
def count_s3_requests() -> Iterator[Counter[str]]:
    """A ``Counter`` of S3 operations (``list_objects_v2``, ``get_object``...) sent meanwhile."""
    calls: Counter[str] = Counter()

    async def counting(send: Send, method: str, *args: Any, **kwargs: Any) -> Any:
        calls[method] += 1  # counted when sent: failed requests (404s) count too
        return await send(method, *args, **kwargs)

    with intercept_s3_calls(counting):
        yield calls
