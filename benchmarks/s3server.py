"""A moto S3 server for the S3 and listing areas, and a counter of the S3 requests this process makes.

The server is moto's ``ThreadedMotoServer`` on 127.0.0.1 (as in the test suite), started in a child
interpreter: in this process its request threads would compete with the client for the GIL and
slow both sides in ways that depend on the workload. Plain ``s3://`` URLs reach it through
``AWS_ENDPOINT_URL`` and fake credentials in the environment.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import Context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from s3_requests import Send, intercept_s3_calls  # noqa: E402  (the test suite's request counter)

from s3_environment import s3_environment  # noqa: E402  (shared with the test suite's s3_server)

_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()  # until the parent closes our stdin
server.stop()
"""


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start the server, point the ``AWS_*`` environment at it, yield its endpoint URL."""
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        if not endpoint.startswith("http://"):
            raise RuntimeError("the moto server did not start")
        with s3_environment(endpoint):
            yield endpoint
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def endpoint(ctx: Context) -> str:
    """The run's moto server, started on first use and stopped at the end of the run."""
    if "s3_endpoint" not in ctx.shared:
        ctx.shared["s3_endpoint"] = ctx.shared["stack"].enter_context(moto_server())
    return str(ctx.shared["s3_endpoint"])


def copy_versions(fs: Any, root: str, count: int, *, manifest: bool = False, long_ago: bool = False) -> None:
    """Make ``root`` (``bucket/path``, holding a published ``v0000``) a root of ``count`` versions by
    writing v0000's meta.json (and, with ``manifest``, its manifest) as v0001, v0002...: what listing
    and gc read, without publishing 1,000 versions through moto. ``long_ago``: created in 2020."""
    meta = json.loads(fs.cat(f"{root}/v0000/meta.json"))
    manifest_bytes = fs.cat(f"{root}/v0000/manifest.jsonl") if manifest else None
    files: dict[str, bytes] = {}
    for i in range(1, count):
        version = f"v{i:04d}"
        fields = dict(meta, version=version)
        if long_ago:
            fields["created_at"] = f"2020-01-01T00:00:{i % 60:02d}.{i:06d}"
        files[f"{root}/{version}/meta.json"] = json.dumps(fields).encode()
        if manifest_bytes is not None:
            files[f"{root}/{version}/manifest.jsonl"] = manifest_bytes
    fs.pipe(files)


def filesystem() -> Any:
    """A fresh (uncached) s3fs filesystem for the benchmark's own baseline operations."""
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True)


@dataclass
class RequestLog:
    """S3 API calls made through s3fs in this process, by operation, bytes of object bodies
    received (``get_object`` content lengths) by key, and bytes of request bodies sent
    (``put_object``, ``upload_part``)."""

    calls: Counter[str] = field(default_factory=Counter)
    bytes_by_key: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    """Most requests awaiting their response at the same moment (1: strictly sequential)."""

    def downloads(self, suffix: str = "") -> int:
        """Bytes downloaded for keys ending with ``suffix``."""
        return sum(n for key, n in self.bytes_by_key.items() if key.endswith(suffix))


@contextlib.contextmanager
def count_requests() -> Iterator[RequestLog]:
    """Count every call s3fs sends meanwhile (see the test suite's ``intercept_s3_calls``)."""
    log = RequestLog()

    async def counting(send: Send, method: str, *args: Any, **kwargs: Any) -> Any:
        log.calls[method] += 1  # counted when sent, so failed requests (404s) count too
        body = kwargs.get("Body")
        if isinstance(body, (bytes, bytearray, memoryview)):
            log.bytes_sent += memoryview(body).nbytes
        log.in_flight += 1  # one event loop runs every s3fs call: no lock needed
        log.peak_in_flight = max(log.peak_in_flight, log.in_flight)
        try:
            out = await send(method, *args, **kwargs)
        finally:
            log.in_flight -= 1
        if method == "get_object" and isinstance(out, dict):
            log.bytes_by_key[str(kwargs.get("Key", ""))] += int(out.get("ContentLength") or 0)
        return out

    with intercept_s3_calls(counting):
        yield log
