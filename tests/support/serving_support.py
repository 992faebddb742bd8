"""``mlops serve`` as users run it: the real command in a subprocess on a free loopback port, a real
HTTP client (httpx), and the processors the serving tests publish with."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np

from mlops import VersionedModel
from sample_processors import CsvProcessor

CLASSES = np.array(["cold", "hot"])
STARTUP_TIMEOUT_S = 180  # TensorFlow's import alone takes tens of seconds on a busy CI machine


class ClassNameProcessor(CsvProcessor):
    """The CSV processor whose labels come back as class names (strings), not indices."""

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        return CLASSES[np.argmax(label_tensor, axis=-1)]


class SlowProcessor(ClassNameProcessor):
    """Takes ``delay`` seconds to preprocess, and touches ``started/<n>`` as each call begins (so a
    test knows when requests are in flight)."""

    def __init__(self, delay: float, started: str) -> None:
        super().__init__()
        self.delay = delay
        self.started = started

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        os.makedirs(self.started, exist_ok=True)
        with open(os.path.join(self.started, f"{time.monotonic_ns()}"), "w"):
            pass
        time.sleep(self.delay)
        return super().preprocess_features(raw_feature_tensor)


def hand_wired(model_path: str, raw: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """What users wrote by hand: the processor's preprocessed features, the model, the labels."""
    model = VersionedModel(model_path)
    processor = model.dataset.data_processor
    predictions = np.asarray(model.predict(processor.get_preprocessed_features(os.fspath(raw))))
    labels = processor.unpreprocess_labels(predictions) if hasattr(processor, "unpreprocess_labels") else None
    return predictions, labels


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``python -m mlops serve MODEL --port PORT ARGS...`` in a subprocess; its output in ``log``."""

    def __init__(self, model: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "mlops", "serve", model, "--port", str(self.port), *args]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )

    def wait_ready(self) -> Server:
        """Wait until ``GET /health`` answers (or fail with the server's output)."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mlops serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"mlops serve did not answer within {STARTUP_TIMEOUT_S} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit status (killed, and failing, if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"mlops serve did not stop on SIGTERM:\n{self.output()}") from None
        return self.process.returncode


def run_serve(model: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mlops serve`` expected to fail before listening: its exit status and output."""
    command = [sys.executable, "-m", "mlops", "serve", model, "--port", str(free_port()), *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=STARTUP_TIMEOUT_S, env={**os.environ, **(env or {})}
    )


def upload(raw: Path, names: Sequence[str] = ("data.csv",)) -> list[tuple[str, tuple[str, bytes]]]:
    """The multipart ``files`` fields of the raw files ``names`` (relative to ``raw``)."""
    return [("files", (name, (raw / name).read_bytes())) for name in names]
