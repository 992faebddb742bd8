"""From a published model to production: score a batch, serve it over HTTP, export it to MLflow.

    python examples/serving/run.py [--fast] [--out FOLDER] [--port PORT]

1. publishes a weather dataset (temperature, humidity, wind -> cold/mild/hot) whose processor,
   stored by value, standardises the readings and answers class names; trains and publishes a
   decision tree on it;
2. ``mlops predict MODEL new-readings/ -o scores.csv``: new raw data scored with the stored
   preprocessing, labels included;
3. ``mlops serve MODEL`` in the background; waits for ``GET /health``, then queries ``/predict``
   and ``/metadata`` with curl (urllib when curl is missing), and stops the server (SIGTERM);
4. ``mlops export MODEL --format mlflow -o exported``: an MLflow model folder, loaded back with
   ``mlflow.pyfunc.load_model`` when MLflow is installed.

Needs: pip install "mlops-core[serve,sklearn]" (and mlflow-skinny for the last step's check).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from processor import CLASSES, WeatherProcessor  # noqa: E402


def write_readings(folder: str, n: int, seed: int, labelled: bool = True) -> str:
    """``folder/readings.csv``: ``n`` readings; the class follows the temperature (and the wind chill)."""
    rng = np.random.default_rng(seed)
    temperature = rng.uniform(-5, 35, n)
    humidity = rng.uniform(20, 100, n)
    wind = rng.uniform(0, 40, n)
    felt = temperature - 0.2 * wind
    label = np.digitize(felt, [8.0, 20.0]) if labelled else np.full(n, -1)
    os.makedirs(folder, exist_ok=True)
    rows = np.column_stack([temperature, humidity, wind, label])
    np.savetxt(os.path.join(folder, "readings.csv"), rows, delimiter=",", fmt="%.2f",
               header="temperature,humidity,wind,class", comments="")  # fmt: skip
    return folder


def mlops(*args: str) -> str:
    """Run the ``mlops`` command (as ``python -m mlops``, this interpreter's) and echo it."""
    print(f"$ mlops {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, "-m", "mlops", *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"mlops {args[0]} failed: {done.stderr.strip()}")
    print(done.stdout, end="", flush=True)
    return done.stdout


def publish(out: str, rows: int) -> tuple[str, str]:
    """(model path, folder of new readings)."""
    from sklearn.tree import DecisionTreeClassifier

    from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder

    raw = write_readings(os.path.join(out, "raw"), rows, seed=0)
    dataset = VersionedDataset(
        VersionedDatasetBuilder(raw, WeatherProcessor()).publish(f"{out}/datasets/weather", "v1")
    )
    model = DecisionTreeClassifier(max_depth=5, random_state=0).fit(dataset.X_train, dataset.y_train)
    accuracy = float(np.mean(model.predict(dataset.X_test).argmax(axis=1) == dataset.y_test.argmax(axis=1)))
    path = VersionedModelBuilder(dataset, model).publish(f"{out}/models/weather", "v1")
    print(f"published dataset {dataset.path} and model {path} (test accuracy {accuracy:.2f})")
    return path, write_readings(os.path.join(out, "new-readings"), 5, seed=1, labelled=False)


def batch(model: str, new: str, out: str) -> None:
    print("\n--- 2. batch scoring: mlops predict ---")
    scores = os.path.join(out, "scores.csv")
    if os.path.exists(scores):
        os.remove(scores)  # the example's own output from a previous run
    mlops("predict", model, new, "-o", scores)
    with open(scores) as f:
        print(f.read(), end="")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def query(url: str, body: dict[str, object] | None = None) -> str:
    """GET (or POST ``body`` as JSON to) ``url`` with curl, as one would from a shell."""
    data = json.dumps(body) if body is not None else None
    if shutil.which("curl"):
        command = ["curl", "-s", "--fail-with-body", url]
        if data is not None:
            command += ["-H", "Content-Type: application/json", "-d", data]
        print("$ " + " ".join(c if " " not in c and "{" not in c else f"'{c}'" for c in command), flush=True)
        answer = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    else:
        print(f"(curl is not installed: urllib) {'POST' if data else 'GET'} {url} {data or ''}", flush=True)
        request = urllib.request.Request(url, data.encode() if data else None, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = response.read().decode()
    print(answer)
    return answer


def serve(model: str, new: str, port: int) -> None:
    print("\n--- 3. serving: mlops serve ---")
    command = [sys.executable, "-m", "mlops", "serve", model, "--port", str(port)]
    print(f"$ mlops serve {model} --port {port} &", flush=True)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # wait for GET /health: the model is verified and loaded before the server listens
            if server.poll() is not None:
                sys.exit(f"mlops serve exited: {server.stderr.read() if server.stderr else ''}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("mlops serve did not answer /health within 120 s")
                time.sleep(0.3)
        rows = WeatherProcessor().get_raw_features(new)["X_pred"][:3].round(2).tolist()
        answer = json.loads(query(f"{base}/predict", {"inputs": {"X_pred": rows}}))
        assert set(answer["labels"]) <= set(CLASSES.tolist()), answer
        metadata = json.loads(query(f"{base}/metadata"))
        print(f"served: model {metadata['model']['name']} {metadata['model']['version']}")
    finally:
        server.send_signal(signal.SIGTERM)  # finishes requests in flight, then exits
        server.wait(timeout=60)
        print(f"stopped the server (exit status {server.returncode})")


def export(model: str, new: str, out: str) -> None:
    print("\n--- 4. export to MLflow's model format: mlops export ---")
    exported = os.path.join(out, "exported")
    if os.path.exists(exported):
        shutil.rmtree(exported)  # the example's own output from a previous run
    mlops("export", model, "--format", "mlflow", "-o", exported)
    print("".join(f"  {name}\n" for name in sorted(os.listdir(exported))), end="")
    if importlib.util.find_spec("mlflow") is None:
        print("(MLflow is not installed: pip install mlflow-skinny, then mlflow.pyfunc.load_model(DIR) or")
        print(f" mlflow models serve -m {exported} --env-manager local)")
        return
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(exported)
    readings = WeatherProcessor().get_raw_features(new)["X_pred"]
    print(f"mlflow.pyfunc.load_model(...).predict(new readings) -> {loaded.predict(readings).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="fewer training rows")
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="where versions and outputs go")
    parser.add_argument("--port", type=int, default=None, help="port for mlops serve (default: a free one)")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    if os.path.exists(os.path.join(out, "models")):
        shutil.rmtree(out)  # start over: the example publishes v1 each run
    os.makedirs(out, exist_ok=True)
    print("--- 1. publish a dataset and a model ---")
    model, new = publish(out, 300 if args.fast else 2000)
    batch(model, new, out)
    serve(model, new, args.port or free_port())
    export(model, new, out)


if __name__ == "__main__":
    main()
