"""Starting and stopping ``mlops serve``: a forged processor under a trust policy never starts (and
never runs), a signed version serves with its signer in /metadata, SIGTERM answers the requests in
flight before exiting 0, and several worker processes each serve the model."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from forgery import forge_processor
from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from mlops.dataset.data_processor import DataProcessor
from mlops.serving.server import exposure_warning
from mlops.trust.keys import generate_key_pair
from sample_processors import write_raw
from serving_support import ClassNameProcessor, Server, SlowProcessor, hand_wired, run_serve


def _publish(base: Path, processor: DataProcessor, signing_key: str | None = None) -> tuple[str, Path]:
    raw = Path(write_raw(str(base / "raw"), n=40))
    dataset_path = VersionedDatasetBuilder(str(raw), processor).publish(str(base / "ds"), "v1", signing_key=signing_key)
    dataset = VersionedDataset(dataset_path)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(dataset.X_train, dataset.y_train)
    return VersionedModelBuilder(dataset, model).publish(str(base / "models"), "v1", signing_key=signing_key), raw


@pytest.mark.slow
def test_a_forged_processor_under_a_trust_policy_never_starts(tmp_path: Path) -> None:
    private, public = generate_key_pair(tmp_path / "team")
    path, _ = _publish(tmp_path, ClassNameProcessor(), signing_key=str(private))
    signed = Server(path, "-k", str(public), cwd=tmp_path).wait_ready()  # the genuine version serves
    try:
        metadata = httpx.get(f"{signed.url}/metadata").json()
        assert metadata["trust_policy"] is True
        assert metadata["model"]["signer"] and metadata["dataset"]["signer"]
    finally:
        assert signed.stop() == 0
    marker = tmp_path / "marker"
    forge_processor(str(tmp_path / "ds" / "v1"), str(marker))
    refused = run_serve(path, "-k", str(public), cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlops: error:") and "data_processor.pkl" in lines[0], lines
    assert "serving" not in refused.stdout and "Uvicorn running" not in refused.stderr
    assert not marker.exists()  # nothing of the forged version ran


def test_a_model_that_does_not_open_never_starts(tmp_path: Path) -> None:
    refused = run_serve(str(tmp_path / "nothing"), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("mlops: error:") and len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_sigterm_answers_the_requests_in_flight_then_exits_0(tmp_path: Path) -> None:
    started = tmp_path / "started"
    path, raw = _publish(tmp_path, SlowProcessor(1.0, str(started)))
    shutil.rmtree(started)  # publishing preprocessed the training data
    server = Server(path, cwd=tmp_path).wait_ready()
    rows = np.loadtxt(raw / "data.csv", delimiter=",", ndmin=2)[:3, :2].tolist()
    clients = [httpx.Client(base_url=server.url, timeout=60) for _ in rows]  # made before: they take a while
    try:
        with ThreadPoolExecutor(3) as pool:
            pairs = zip(clients, rows, strict=True)
            futures = [pool.submit(client.post, "/predict", json={"inputs": [row]}) for client, row in pairs]
            deadline = time.monotonic() + 60
            while not (started.exists() and any(started.iterdir())) and time.monotonic() < deadline:
                time.sleep(0.02)  # the first request is inside the processor for 1 s; the others wait for it
            time.sleep(0.4)
            server.process.send_signal(15)
            answers = [f.result() for f in futures]
    finally:
        status = server.stop()
        for client in clients:
            client.close()
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert status == 0, server.output()
    assert len(list(started.iterdir())) == 3
    _, labels = hand_wired(path, raw)
    assert [a.json()["labels"][0] for a in answers] == labels[:3].tolist()  # type: ignore[index]
    assert "stopped" in server.output()


@pytest.mark.slow
def test_several_workers_each_serve_the_model(tmp_path: Path) -> None:
    path, raw = _publish(tmp_path, ClassNameProcessor())
    _, labels = hand_wired(path, raw)
    rows = np.loadtxt(raw / "data.csv", delimiter=",", ndmin=2)[:, :2].tolist()
    server = Server(path, "--workers", "2", cwd=tmp_path).wait_ready()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(4):
                answer = client.post("/predict", json={"inputs": rows})
                assert answer.status_code == 200 and answer.json()["labels"] == labels.tolist()  # type: ignore[union-attr]
    finally:
        assert server.stop() == 0, server.output()
    assert server.output().count("Application startup complete") == 2  # one model load per worker


def test_only_loopback_addresses_go_unwarned() -> None:
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    warning = exposure_warning("0.0.0.0")
    assert warning is not None and "no authentication" in warning
