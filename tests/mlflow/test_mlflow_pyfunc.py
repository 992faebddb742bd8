"""A model exported by ``mlops export --format mlflow`` loaded by real MLflow (this folder runs in
the ``tests-mlflow`` nox session, where mlflow-skinny is installed; the main session skips it):
``mlflow.pyfunc.load_model(DIR).predict`` gives the hand-wired output for scikit-learn, XGBoost,
Keras and PyTorch models, ``mlflow models serve -m DIR --env-manager local`` answers requests with it, and a
damaged copy inside DIR is refused on load."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_support import ok
from serving_models import by_hand, publish_flowers, publish_model

from mlops.errors import IntegrityError

mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, str]]:
    """framework -> (export folder, model path, raw folder): a scikit-learn tree, a Keras and a
    PyTorch classifier with an invertible processor (class names), and an XGBoost regressor with one
    that is not (predictions)."""
    base = tmp_path_factory.mktemp("mlflow")
    found = {}
    for framework, invertible in (("sklearn", True), ("xgboost", False), ("keras", True), ("torch", True)):
        dataset, raw = publish_flowers(base / framework, invertible=invertible)
        model_path = publish_model(base / framework, dataset, framework)
        out = base / framework / "exported"
        ok("export", model_path, "--format", "mlflow", "-o", out)
        found[framework] = (out, model_path, raw)
    return found


def _raw(raw: str) -> np.ndarray:
    return np.loadtxt(os.path.join(raw, "flowers.csv"), delimiter=",", ndmin=2)[:, :4]


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "keras", "torch"])
def test_load_model_predicts_the_hand_wired_output(exports: dict[str, tuple[Path, str, str]], framework: str) -> None:
    import pandas as pd

    out, model_path, raw = exports[framework]
    predictions, labels = by_hand(model_path, raw)
    expected = predictions if labels is None else labels
    loaded = mlflow_pyfunc.load_model(str(out))
    x = _raw(raw)
    for given in (x, {"X_pred": x}, pd.DataFrame(x, columns=["a", "b", "c", "d"])):
        np.testing.assert_array_equal(loaded.predict(given), expected)
    if labels is not None:
        assert set(loaded.predict(x).tolist()) <= {"setosa", "versicolor", "virginica"}


def test_a_damaged_copy_is_refused_by_load_model(exports: dict[str, tuple[Path, str, str]], tmp_path: Path) -> None:
    out, _, _ = exports["sklearn"]
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    (model_file,) = [p for p in (damaged / "mlops" / "model" / "sklearn").iterdir() if p.name.startswith("model")]
    model_file.write_bytes(b"not the model")
    with pytest.raises(IntegrityError, match=model_file.name):
        mlflow_pyfunc.load_model(str(damaged))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


@pytest.mark.slow
def test_mlflow_models_serve_answers_with_the_stored_preprocessing(
    exports: dict[str, tuple[Path, str, str]], tmp_path: Path
) -> None:
    out, model_path, raw = exports["sklearn"]
    _, labels = by_hand(model_path, raw)
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(out), "--env-manager", "local"]
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    # mlflow starts `uvicorn` from PATH, as in an activated virtual environment
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    server = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow models serve did not start:\n{(tmp_path / 'serve.log').read_text()}")
                time.sleep(0.5)
        x = _raw(raw)
        answer = _post(f"{base}/invocations", {"inputs": {"X_pred": x.tolist()}})
        assert answer == {"predictions": labels.tolist()}  # type: ignore[union-attr]
        answer = _post(f"{base}/invocations", {"dataframe_split": {"columns": list("abcd"), "data": x[:3].tolist()}})
        assert answer == {"predictions": labels[:3].tolist()}  # type: ignore[index]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
