"""``mlops env PATH --create DIR``: a virtual environment built with uv from a version's lock, for
the recorded Python, cached by the lock's hash; a version published from Python 3.11 (a processor
and a scikit-learn pipeline holding user classes by value) predicts the same inside it, also when
the environment is created from a 3.12 or 3.13 host.

The publisher is a small environment made here (numpy, scikit-learn, mlops-core, mlops-sklearn:
no PyTorch, whose CPU wheel is not on the package index). Building needs the package index, through
uv's cache."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from cli_support import ok
from env_support import HOST_PYTHONS, ROOT, clean_env, host, publisher

from mlops import open_version
from mlops.envs.build import environments_dir
from run_once import once_per_run

pytestmark = pytest.mark.slow
SUPPORT = ROOT / "tests" / "support"


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A model and its dataset published from a Python 3.11 environment, and its predictions there."""

    def build(folder: Path) -> dict[str, str]:
        python = publisher(folder / "venv")
        env = {**clean_env(), "PYTHONPATH": str(SUPPORT)}
        expected = folder / "expected.npy"
        done = subprocess.run(
            [python, str(SUPPORT / "env_publish.py"), str(folder / "raw"), str(folder / "store"), str(expected)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return {"model": done.stdout.strip(), "raw": str(folder / "raw"), "expected": str(expected)}

    return once_per_run(tmp_path_factory, "env-publisher", build)  # type: ignore[no-any-return]


def _predict_inside(python: str, published: dict[str, str], tmp_path: Path) -> np.ndarray:
    """Predictions of the model run by ``python`` (a script outside the tests' folder: the user's
    classes can only come from the pickles)."""
    script = tmp_path / "predict.py"
    shutil.copy(SUPPORT / "env_predict.py", script)
    out = tmp_path / "out.npy"
    subprocess.run(
        [python, str(script), published["model"], published["raw"], str(out)],
        env=clean_env(), check=True, capture_output=True, text=True,
    )  # fmt: skip
    return np.load(out)


def test_create_builds_the_recorded_environment_once(published: dict[str, str], tmp_path: Path) -> None:
    model = open_version(published["model"])
    recorded = model.environment
    assert recorded is not None and recorded.python.minor == "3.11"
    target = tmp_path / "venv"
    built = json.loads(ok("env", published["model"], "--create", target, "--json"))
    assert built["reused"] is False and built["unpinned"] == []
    assert built["python_version"].startswith("3.11.")
    assert (environments_dir() / built["key"]).is_dir()  # kept in the user cache by the lock's hash
    inside = subprocess.run(
        [built["python"], "-c", "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']: "
         "d.version for d in m.distributions()}))"],
        env=clean_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    installed = {name.lower().replace("_", "-"): v for name, v in json.loads(inside.stdout).items()}
    assert installed == recorded.distributions
    np.testing.assert_array_equal(_predict_inside(built["python"], published, tmp_path), np.load(published["expected"]))

    again = json.loads(ok("env", published["model"], "--create", target, "--json"))
    assert again["reused"] is True and again["key"] == built["key"]
    started = time.perf_counter()
    other = json.loads(ok("env", published["model"], "--create", tmp_path / "venv2", "--json"))
    assert time.perf_counter() - started <= 5.0  # warm: a copy of the cached environment
    assert other["key"] == built["key"] and other["python_version"] == built["python_version"]
    dataset = json.loads(ok("env", model.dataset.path, "--create", tmp_path / "venv3", "--json"))
    assert dataset["key"] == built["key"]  # the same lock: the same environment


@pytest.mark.parametrize("minor", HOST_PYTHONS)
def test_created_from_a_host_of_another_python(
    published: dict[str, str],
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    minor: str,
) -> None:
    hosts = once_per_run(tmp_path_factory, f"env-host-{minor}", lambda folder: host(folder / "venv", minor))
    shared = tmp_path_factory.getbasetemp() / "env-cache"  # the hosts share the environments they build
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(shared))
    here = subprocess.run([hosts, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                          text=True, check=True, env=clean_env()).stdout  # fmt: skip
    assert here.startswith(f"{minor}.")
    cold = subprocess.run(
        [hosts, "-m", "mlops", "env", published["model"], "--create", str(tmp_path / "venv"), "--json"],
        env=clean_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    built = json.loads(cold.stdout)
    assert built["python_version"].startswith("3.11.")  # the recorded Python, not the host's
    np.testing.assert_array_equal(_predict_inside(built["python"], published, tmp_path), np.load(published["expected"]))


@pytest.mark.parametrize("minor", HOST_PYTHONS)
def test_predict_from_a_host_of_another_python_in_the_recorded_environment(
    published: dict[str, str], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, minor: str
) -> None:
    """`mlops predict MODEL INPUT -o OUT --env recorded` from a 3.12 or 3.13 host: the model and the
    processor published from 3.11 (user classes by value) predict exactly what they did there."""
    hosts = once_per_run(tmp_path_factory, f"env-host-{minor}", lambda folder: host(folder / "venv", minor))
    out = tmp_path / "scores.json"
    done = subprocess.run(
        [hosts, "-m", "mlops", "predict", published["model"], published["raw"], "-o", str(out), "--env", "recorded"],
        env=clean_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote predictions" in done.stdout
    predictions = np.asarray(json.loads(out.read_text())["predictions"])
    np.testing.assert_array_equal(predictions, np.load(published["expected"].replace(".npy", "-classes.npy")))
    here = subprocess.run(  # the host itself could not have loaded it: its Python is another minor
        [hosts, "-m", "mlops", "predict", published["model"], published["raw"], "-o", str(tmp_path / "x.json")],
        env=clean_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert here.returncode == 1 and "--env recorded" in here.stderr, here.stderr


@pytest.mark.parametrize("minor", HOST_PYTHONS)
def test_serve_from_a_host_of_another_python_in_the_recorded_environment(
    published: dict[str, str], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, minor: str
) -> None:
    """`mlops serve MODEL --env recorded` from a 3.12 or 3.13 host: the model published from 3.11 answers
    as it predicted where it was published (the recorded environment, plus what serving needs)."""
    hosts = once_per_run(tmp_path_factory, f"env-host-{minor}", lambda folder: host(folder / "venv", minor))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [hosts, "-m", "mlops", "serve", published["model"], "--port", str(port), "--env", "recorded"],
        env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        raw = np.loadtxt(Path(published["raw"]) / "data.csv", delimiter=",", ndmin=2)[:, :2]
        body = json.dumps({"inputs": {"X_pred": raw.tolist()}}).encode()
        deadline = time.monotonic() + 600  # a cold build of the environment, then the server's start
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body, method="POST")
                request.add_header("Content-Type", "application/json")
                with urllib.request.urlopen(request, timeout=30) as answer:
                    predictions = json.loads(answer.read())["predictions"]
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(1)
        np.testing.assert_array_equal(
            np.asarray(predictions), np.load(published["expected"].replace(".npy", "-classes.npy"))
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
