"""The byte-counting proxy in front of the moto S3 server counts what s3fs really sends and receives,
so store tests can bound the bytes a publish moves (e.g. for an identical second version)."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from counting_proxy import CountingProxy

MB = 1024 * 1024
OVERHEAD = 16 * 1024  # generous room for the HTTP headers and signatures of a request or two


@pytest.fixture
def counted_fs(s3_counted: CountingProxy) -> Any:
    """An s3fs filesystem that reaches the moto server only through the proxy."""
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=s3_counted.endpoint, skip_instance_cache=True)


def test_uploading_1_mb_counts_about_1_mb_upstream(s3_counted: CountingProxy, counted_fs: Any, s3_bucket: str) -> None:
    data = np.random.default_rng(0).bytes(MB)
    counted_fs.ls(s3_bucket)  # connect first: only the upload is counted below
    s3_counted.reset()
    counted_fs.pipe_file(f"{s3_bucket}/blob", data)
    counts = s3_counted.counts()
    assert MB <= counts.upstream <= MB + OVERHEAD, counts
    assert counts.downstream <= OVERHEAD, counts

    s3_counted.reset()
    assert counted_fs.cat_file(f"{s3_bucket}/blob") == data
    counts = s3_counted.counts()
    assert MB <= counts.downstream <= MB + OVERHEAD, counts
    assert counts.upstream <= OVERHEAD, counts


def test_reset_zeroes_the_counts(s3_counted: CountingProxy, counted_fs: Any, s3_bucket: str) -> None:
    counted_fs.pipe_file(f"{s3_bucket}/small", b"x" * 1000)
    assert s3_counted.counts().upstream >= 1000
    assert s3_counted.counts().connections >= 1
    s3_counted.reset()
    assert s3_counted.counts().upstream == s3_counted.counts().downstream == s3_counted.counts().connections == 0
    counted_fs.info(f"{s3_bucket}/small")
    counts = s3_counted.counts()
    assert 0 < counts.upstream < 4096 and 0 < counts.downstream < 4096, counts


def test_peak_in_flight_tells_concurrent_requests_from_sequential_ones(
    s3_counted: CountingProxy, counted_fs: Any, s3_bucket: str
) -> None:
    paths = [f"{s3_bucket}/part-{i}" for i in range(8)]
    counted_fs.pipe({p: b"data" for p in paths})
    s3_counted.reset()
    for path in paths:
        assert counted_fs.cat_file(path) == b"data"
    assert s3_counted.counts().peak_in_flight == 1  # one request at a time
    assert list(counted_fs.cat(paths).values()) == [b"data"] * 8  # s3fs sends these requests at once
    assert s3_counted.counts().peak_in_flight > 1


def test_stop_closes_the_listener(s3_server: str) -> None:
    address = urlsplit(s3_server)
    proxy = CountingProxy(address.hostname or "127.0.0.1", address.port or 80).start()
    socket.create_connection(("127.0.0.1", proxy.port), timeout=5).close()
    proxy.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5).close()
