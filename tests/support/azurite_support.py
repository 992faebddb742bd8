"""Azurite, the Azure Storage emulator from the npm registry, for the tests: where to find it, how
to run its blob service on 127.0.0.1, and the well-known development account adlfs reaches it with."""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

# Azurite's one built-in account and its key: public, documented, and accepted by the emulator only.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# Where .ci/run installs it (`npm install --prefix PREFIX azurite@3`); keep the two in step.
PREFIX = Path.home() / ".cache" / "mlops-ci" / "azurite"
INSTALL_HINT = (
    f'azurite is not installed: run `npm install --prefix "{PREFIX}" azurite@3` (what .ci/run does) '
    "or put azurite-blob on PATH"
)
_LISTENING = re.compile(r"successfully listens on (http://[\d.]+:(\d+))")


def find_azurite_blob() -> str | None:
    """The ``azurite-blob`` executable: on PATH, else in the prefix .ci/run installs into."""
    on_path = shutil.which("azurite-blob")
    if on_path:
        return on_path
    candidate = PREFIX / "node_modules" / ".bin" / "azurite-blob"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def connection_string(blob_endpoint: str) -> str:
    """A connection string for the development account whose blob service is at ``blob_endpoint``
    (``http://127.0.0.1:PORT``): what adlfs reads from ``AZURE_STORAGE_CONNECTION_STRING``."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={blob_endpoint}/{ACCOUNT};"
    )


class AzuriteServer:
    """Azurite's blob service as a child process listening on 127.0.0.1, on a port the OS picks.

    It keeps its data under ``location``; ``--skipApiVersionCheck`` lets a newer azure-storage-blob
    talk to it, and ``--disableTelemetry`` keeps it from reaching out to the network.
    """

    def __init__(self, executable: str, location: str | os.PathLike[str]) -> None:
        self.executable = executable
        self.location = Path(location)
        self.port = 0
        self.endpoint = ""
        self._proc: subprocess.Popen[str] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=50)
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def blob_endpoint(self) -> str:
        """The account's blob endpoint, ``http://127.0.0.1:PORT/devstoreaccount1``."""
        return f"{self.endpoint}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return connection_string(self.endpoint)

    @property
    def storage_options(self) -> dict[str, str]:
        """What to pass as adlfs' storage_options when the environment is not set up."""
        return {"connection_string": self.connection_string}

    def start(self, timeout: float = 60.0) -> str:
        """Start azurite, wait until it answers HTTP, and return its endpoint ``http://127.0.0.1:PORT``."""
        deadline = time.monotonic() + timeout
        self.location.mkdir(parents=True, exist_ok=True)
        command = [
            self.executable,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            "0",
            "--location",
            str(self.location),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ]
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        # Its output is read on a thread all along: a full pipe would block it, and lines help errors.
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        if not self._listening.wait(timeout) or not self.port:
            self.stop()
            raise RuntimeError(f"azurite did not start within {timeout:.0f} s: {' | '.join(self._output)}")
        self._wait_until_answering(deadline)
        return self.endpoint

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._output.append(line.rstrip())
            match = _LISTENING.search(line)
            if match and not self.port:  # it prints its port even when --silent
                self.endpoint, self.port = match.group(1), int(match.group(2))
                self._listening.set()
        self._listening.set()  # it exited: wake up start()

    def _wait_until_answering(self, deadline: float) -> None:
        while True:
            try:
                urllib.request.urlopen(f"{self.blob_endpoint}?comp=list", timeout=2).close()
                return
            except urllib.error.HTTPError as answer:  # any HTTP answer (here 403: the request is unsigned) will do
                answer.close()
                return
            except OSError as exc:
                if time.monotonic() > deadline or (self._proc is not None and self._proc.poll() is not None):
                    self.stop()
                    output = " | ".join(self._output)
                    raise RuntimeError(f"azurite does not answer on {self.endpoint}: {output}") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop azurite (it closes cleanly on SIGTERM; killed if it takes more than 10 s)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)  # the pipe is at its end once the process is gone
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None
