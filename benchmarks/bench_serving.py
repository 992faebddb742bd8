"""Serving (issue 22): ``mlops serve`` against a bare FastAPI + uvicorn app that calls the same
processor and model by hand, both in their own process on loopback, queried by wrk (another
process) with 8 connections sending 1-row JSON requests to a scikit-learn model whose invertible
processor answers class names. Targets: p50 latency <= 1.2x, p99 <= 1.3x, throughput >= 0.85x the
bare app's (reported as bare/mlops requests per second, <= 1/0.85).

The two servers are measured in alternating order each round (see harness.py); each run lasts
``SECONDS`` after a warm-up. Run as ``python bench_serving.py baseline MODEL PORT``, this module is
the bare app.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
SECONDS = 8
WARMUP_SECONDS = 2
CONNECTIONS = 8
CLASSES = np.array(["setosa", "versicolor", "virginica"])
BODY = json.dumps({"inputs": {"X_pred": [[5.1, 3.5, 1.4, 0.2]]}})
LUA = f"""wrk.method = "POST"
wrk.body = {json.dumps(BODY)}
wrk.headers["Content-Type"] = "application/json"
"""


def _processor() -> Any:
    """Standardises 4 measurements; labels one-hot, answered back as class names. (Defined in a
    function: benchmark modules import mlops only when they run.)"""
    from mlops import InvertibleDataProcessor

    class IrisNames(InvertibleDataProcessor):
        def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
            rows = np.loadtxt(os.path.join(dataset_path, "iris.csv"), delimiter=",")
            x, y = rows[:, :4], rows[:, 4].astype(int)
            return {"X_train": x[::2], "X_test": x[1::2]}, {"y_train": y[::2], "y_test": y[1::2]}

        def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
            return {"X_pred": np.loadtxt(os.path.join(dataset_path, "iris.csv"), delimiter=",")[:, :4]}

        def preprocess_features(self, raw_feature_tensor: Any) -> Any:
            return ((np.asarray(raw_feature_tensor, dtype=np.float64) - 5.0) / 2.0).astype(np.float32)

        def preprocess_labels(self, raw_label_tensor: Any) -> Any:
            return np.eye(3, dtype=np.float32)[raw_label_tensor]

        def unpreprocess_features(self, feature_tensor: Any) -> Any:
            return feature_tensor * 2.0 + 5.0

        def unpreprocess_labels(self, label_tensor: Any) -> Any:
            return CLASSES[np.argmax(label_tensor, axis=-1)]

    return IrisNames()


def _publish(folder: Path) -> str:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder

    raw = folder / "raw"
    raw.mkdir(parents=True)
    x, y = load_iris(return_X_y=True)
    np.savetxt(raw / "iris.csv", np.column_stack([x, y]), delimiter=",", fmt="%.3f")
    dataset = VersionedDataset(VersionedDatasetBuilder(str(raw), _processor()).publish(str(folder / "ds"), "v1"))
    model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(dataset.X_train, dataset.y_train)
    return VersionedModelBuilder(dataset, model).publish(str(folder / "models"), "v1")


# --- the bare app ---------------------------------------------------------------------------------------------------


def baseline_app(model_path: str) -> Any:
    """What a user writes by hand: FastAPI, the processor and model loaded once, the prediction in
    the thread pool."""
    from fastapi import FastAPI, Request
    from starlette.concurrency import run_in_threadpool

    from mlops import VersionedModel

    model = VersionedModel(model_path)
    processor = model.dataset.data_processor
    native = model.model
    app = FastAPI()

    def predict(inputs: Any) -> dict[str, Any]:
        x = np.asarray(inputs["X_pred"])
        predictions = native.predict(processor.preprocess_features(x))
        return {"predictions": predictions.tolist(), "labels": processor.unpreprocess_labels(predictions).tolist()}

    async def endpoint(request: Request) -> dict[str, Any]:
        body = await request.json()
        return await run_in_threadpool(predict, body["inputs"])

    app.add_api_route("/predict", endpoint, methods=["POST"])
    app.add_api_route("/health", lambda: {"status": "ok"}, methods=["GET"])
    return app


# --- measuring ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(command: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    import urllib.request

    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:4]} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command[:4]} did not answer: {log.read_text()[-2000:]}")


def _post(port: int) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", BODY.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert match, text
    return float(match[1]) * _UNITS[match[2]]


def wrk(url: str, script: Path, seconds: int) -> dict[str, float]:
    """One wrk run: p50 and p99 latency (s), requests per second, and failures (socket errors,
    non-2xx answers)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    percentiles = dict(re.findall(r"^\s*(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    if set(percentiles) != {"50", "99"}:
        raise RuntimeError(f"no latency percentiles in wrk's output:\n{out}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": _seconds(percentiles["50"]),
        "p99": _seconds(percentiles["99"]),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "failures": errors + (int(non_2xx[1]) if non_2xx else 0),
    }


def run(ctx: Any) -> None:
    from harness import Stat, Target

    if shutil.which("wrk") is None:
        ctx.results.notes.append("serving: wrk is not installed (apt-get install wrk); area skipped")
        return
    folder: Path = ctx.scratch("serving")
    path = _publish(folder)
    script = folder / "post.lua"
    script.write_text(LUA)
    ports = {"bare": _free_port(), "mlops": _free_port()}
    commands = {
        "bare": [sys.executable, str(Path(__file__).resolve()), "baseline", path, str(ports["bare"])],
        "mlops": [sys.executable, "-m", "mlops", "serve", path, "--port", str(ports["mlops"])],
    }
    processes = {name: _start(command, ports[name], folder / f"{name}.log") for name, command in commands.items()}
    try:
        answers = {name: _post(port) for name, port in ports.items()}
        if answers["bare"] != answers["mlops"] or "labels" not in answers["mlops"]:
            raise RuntimeError(f"the two servers answer differently: {answers}")
        for port in ports.values():  # warm-up
            wrk(f"http://127.0.0.1:{port}/predict", script, WARMUP_SECONDS)
        samples: dict[str, list[dict[str, float]]] = {"bare": [], "mlops": []}
        for i in range(ctx.repeats):
            order = ["bare", "mlops"] if i % 2 == 0 else ["mlops", "bare"]
            for name in order:
                print(f"[serving] round {i + 1}/{ctx.repeats}: {name}", flush=True)
                samples[name].append(wrk(f"http://127.0.0.1:{ports[name]}/predict", script, SECONDS))
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(60)
    bare, mlops = samples["bare"], samples["mlops"]
    failures = sum(s["failures"] for s in bare + mlops)
    for key in ("p50", "p99", "rps"):
        ctx.results.add_timing(f"serving.bare.{key}", Stat([s[key] for s in bare]))
        ctx.results.add_timing(f"serving.mlops.{key}", Stat([s[key] for s in mlops]))
    rps = f"{Stat([s['rps'] for s in mlops]).median:.0f} vs {Stat([s['rps'] for s in bare]).median:.0f} req/s"
    p50 = Stat([m["p50"] / b["p50"] for b, m in zip(bare, mlops, strict=True)])
    p99 = Stat([m["p99"] / b["p99"] for b, m in zip(bare, mlops, strict=True)])
    throughput = Stat([b["rps"] / m["rps"] for b, m in zip(bare, mlops, strict=True)])
    median = {k: (Stat([s[k] for s in mlops]).median, Stat([s[k] for s in bare]).median) for k in ("p50", "p99")}
    ctx.results.add_target(Target(
        "22a", "serving", f"mlops serve p50 latency, 1-row JSON, {CONNECTIONS} connections (wrk)", p50, 1.2, "x",
        f"{median['p50'][0] * 1e3:.2f} ms vs {median['p50'][1] * 1e3:.2f} ms for a bare FastAPI app",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "22b", "serving", "mlops serve p99 latency", p99, 1.3, "x",
        f"{median['p99'][0] * 1e3:.2f} ms vs {median['p99'][1] * 1e3:.2f} ms",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "22c", "serving", "bare app's throughput / mlops serve's (mlops >= 0.85x)", throughput, 1 / 0.85, "x",
        f"{rps}; mlops/bare = {1 / throughput.median:.2f}x",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "22d", "serving", "failed requests (socket errors, non-2xx) over every run", Stat([float(failures)]), 0,
        "count",
    ))  # fmt: skip


def _serve_baseline(model_path: str, port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(model_path), host="127.0.0.1", port=port, server_header=False)  # defaults, as mlops


if __name__ == "__main__" and sys.argv[1:2] == ["baseline"]:
    _serve_baseline(sys.argv[2], int(sys.argv[3]))
