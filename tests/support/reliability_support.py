"""Helpers of the reliability tests: publisher processes, and an S3 server that decides each
conditional write atomically, as real S3 does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RELIABILITY_TESTS = Path(__file__).resolve().parent.parent / "reliability"
SUPPORT = Path(__file__).resolve().parent


class SerialMotoServer:
    """moto's S3 server handling ONE request at a time.

    moto checks ``If-None-Match: *`` by looking, then writing; with the default threaded server two
    racing create-only PUTs can both pass the look. Real S3 decides each conditional write
    atomically; serialising requests gives moto that same atomicity, which the race tests rely on.
    """

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        class _Serial(ThreadedMotoServer):
            def _server_entry(self) -> None:
                from moto.moto_server.threaded_moto_server import MotoRequestHandler
                from moto.server import DomainDispatcherApplication, create_backend_app
                from werkzeug.serving import make_server

                app = DomainDispatcherApplication(create_backend_app)
                self._server = make_server(
                    self._ip_address, self._port, app, threaded=False, request_handler=MotoRequestHandler
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = _Serial(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()


class Worker:
    """A publisher process running publish_worker.py."""

    def __init__(self, root: str, raw: str, env: dict[str, str], storage_options: str = "{}") -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(RELIABILITY_TESTS / "publish_worker.py"),
                root,
                raw,
                "--storage-options",
                storage_options,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def wait_ready(self) -> None:
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "ready", f"worker failed to start: {line}{self.proc.stderr.read()}"  # type: ignore[union-attr]

    def send(self, version: str) -> None:
        self.proc.stdin.write(version + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def result(self) -> str:
        return self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # type: ignore[union-attr]
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        self.proc.wait()


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SUPPORT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MLOPS_PROGRESS"] = "0"
    env.update(extra)
    return env
