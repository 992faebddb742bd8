"""The benchmark workloads through DVC and MLflow, side by side with mlops (``nox -s bench-peers``).

    python benchmarks/peers.py [--size 256] [--repeats 5] [--only dataset,models] [--out benchmarks/results]

Dataset (local): mlops ``publish`` against ``write_only`` (np.save + copytree, no fsync: neither
peer fsyncs), DVC (np.save + copytree into a workspace, ``dvc add`` + ``dvc push`` to a local
remote; a fresh repository, cache and remote each round, so nothing is deduplicated) and MLflow
(np.save + copytree, ``mlflow.log_artifacts`` to a file store). Models: mlops publish and load
against ``mlflow.<flavor>.log_model`` and ``mlflow.pyfunc.load_model``. Every figure is a median of
``--repeats`` rounds in rotating order, as in run.py. Peers that are not installed are skipped.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import report  # noqa: E402
from bench_processor import BenchProcessor  # noqa: E402
from harness import Results, Target, ratios, rmtree, run_many  # noqa: E402
from workloads import MODELS, make_raw_folder, write_plain  # noqa: E402


def _dvc() -> str | None:
    candidate = Path(sys.executable).with_name("dvc")
    return str(candidate) if candidate.exists() else shutil.which("dvc")


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def dataset(tmp: Path, size: int, repeats: int, results: Results) -> None:
    from mlops import VersionedDatasetBuilder

    raw = make_raw_folder(str(tmp / "raw"), size)
    builder = VersionedDatasetBuilder(raw, BenchProcessor())
    tensors = {**builder.features, **builder.labels}
    work = tmp / "work"
    fns: dict[str, Callable[[int], Any]] = {
        "write_only": lambda i: write_plain(str(work / f"plain{i}"), tensors, raw, fsync=False),
        "mlops": lambda i: builder.publish(str(work / "mlops"), f"v{i}"),
    }
    dvc = _dvc()
    if dvc:

        def dvc_round(i: int) -> None:
            repo = work / f"dvc{i}"
            write_plain(str(repo / "data"), tensors, raw, fsync=False)
            for cmd in (["add", "data"], ["push"]):
                subprocess.run([dvc, *cmd], cwd=repo, check=True, capture_output=True)

        fns["dvc"] = dvc_round
    if _has("mlflow"):
        import mlflow

        def mlflow_round(i: int) -> None:
            staging = work / f"mlflow-staging{i}"
            write_plain(str(staging), tensors, raw, fsync=False)
            with mlflow.start_run():
                mlflow.log_artifacts(str(staging), artifact_path="dataset")

        fns["mlflow"] = mlflow_round

    def before(i: int) -> None:
        work.mkdir(exist_ok=True)
        if dvc:  # an empty repository, cache and remote each time: nothing can be deduplicated
            repo = work / f"dvc{i}"
            repo.mkdir()
            subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=repo, check=True)
            remote = str(work / f"dvc-remote{i}")
            subprocess.run([dvc, "remote", "add", "-d", "store", remote], cwd=repo, check=True, capture_output=True)
        os.sync()
        if "mlflow" in fns:  # a new store each time (MLflow keeps a connection to the old one)
            mlflow_store(work / f"mlflow-{time.monotonic_ns()}")

    def after(_: int) -> None:
        rmtree(work)

    stats = run_many(fns, repeats, before=before, after=after)
    for name, stat in stats.items():
        results.add_timing(f"peers.dataset.{size}.{name}", stat)
        if name != "write_only":
            results.add_target(Target(f"P-dataset-{name}", "peers", f"{name}: local dataset {size} MB / write_only",
                                      ratios(stat, stats["write_only"]), 1.15, "x",
                                      f"{name} {stat.median:.2f} s, write_only {stats['write_only'].median:.2f} s",
                                      informational=True))  # fmt: skip


def models(tmp: Path, repeats: int, results: Results) -> None:
    if not _has("mlflow"):
        print("mlflow is not installed: model comparison skipped")
        return

    from mlops import VersionedDataset, VersionedDatasetBuilder

    raw = make_raw_folder(str(tmp / "model-raw"), 1, files=10)
    ds = VersionedDataset(VersionedDatasetBuilder(raw, BenchProcessor()).publish(str(tmp / "datasets"), "v1"))
    mlflow_store(tmp / "mlflow")
    for framework, workload in MODELS.items():
        if not _has(framework):
            print(f"[peers] {framework} is not installed: skipped", flush=True)
            continue
        print(f"[peers] {framework}", flush=True)
        _peer_model(tmp, framework, workload.build(), ds, repeats, results)


def _peer_model(tmp: Path, framework: str, model: Any, ds: Any, repeats: int, results: Results) -> None:
    """One framework: mlops publish/load against mlflow.<flavor>.log_model / mlflow.pyfunc.load_model.

    ``model`` itself goes to no tool: every call gets its own copy, made before the clock starts,
    since a tool may change the object it saves (MLflow's ONNX flavor converts the model it is
    given to external data in place, emptying its tensors: the next save of that object, by
    MLflow or mlops, would have no weights to write)."""
    import mlflow

    from mlops import VersionedModel, VersionedModelBuilder

    flavors = {"keras": "keras", "torch": "pytorch", "sklearn": "sklearn"}
    flavors.update(xgboost="xgboost", lightgbm="lightgbm", onnx="onnx")  # MLflow's flavors of the same names
    flavor = getattr(mlflow, flavors[framework])
    params = _params(flavor.log_model)
    kwargs: dict[str, Any] = {"name": "model"} if "name" in params else {"artifact_path": "model"}
    if "serialization_format" in params:  # scikit-learn: a pickle, like joblib (skops refuses trees)
        kwargs["serialization_format"] = "pickle"
    uris: dict[int, str] = {}
    store = str(tmp / f"models-{framework}")
    given: dict[str, Any] = {}

    def copy_model(_: int) -> None:
        given["model"] = None  # the previous copy is freed first
        given["model"] = copy.deepcopy(model)

    def log(i: int) -> None:
        with mlflow.start_run():
            info = flavor.log_model(given["model"], **kwargs)
        uris[i] = info.model_uri

    def publish(i: int) -> None:
        VersionedModelBuilder(ds, given["model"]).publish(store, f"v{i}")

    stats = run_many({"mlops": publish, "mlflow": log}, repeats, before=copy_model)
    path = VersionedModelBuilder(ds, copy.deepcopy(model)).publish(store, "load")
    given.clear()
    loads = run_many({"mlops": lambda i: VersionedModel(path).model,
                      "mlflow": lambda i: mlflow.pyfunc.load_model(uris[0])}, repeats)  # fmt: skip
    for kind, found in (("publish", stats), ("load", loads)):
        for name, stat in found.items():
            results.add_timing(f"peers.models.{framework}.{kind}.{name}", stat)
        results.add_target(Target(f"P-{framework}-{kind}", "peers", f"{framework} {kind}: mlflow / mlops",
                                  ratios(found["mlflow"], found["mlops"]), 1.0, "x",
                                  f"mlflow {found['mlflow'].median:.2f} s, mlops {found['mlops'].median:.2f} s",
                                  informational=True))  # fmt: skip


def mlflow_store(folder: Path) -> None:
    """Point MLflow at a fresh SQLite tracking store with artifacts under ``folder`` (recent MLflow
    refuses the plain file store), created now so that no timed call pays for the schema setup."""
    import mlflow

    folder.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.create_experiment("bench", artifact_location=(folder / "artifacts").as_uri())
    mlflow.set_experiment("bench")


def _params(fn: Callable[..., Any]) -> set[str]:
    import inspect

    return set(inspect.signature(fn).parameters)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="dataset,models")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="mlops-peers-"))
    results = Results()
    mlflow_state = "installed" if _has("mlflow") else "not installed"
    results.notes.append(f"dvc: {_dvc() or 'not installed'}; mlflow: {mlflow_state}")
    try:
        if "dataset" in args.only:
            dataset(tmp, args.size, args.repeats, results)
        if "models" in args.only:
            models(tmp, args.repeats, results)
    finally:
        rmtree(tmp)
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, _ = report.write(results, args.out, {"peers": True, "size": args.size, "repeats": args.repeats}, seconds,
                                prefix="peers")  # fmt: skip
    print()
    print(report.table(results, None))
    print(f"\ntotal {seconds:.0f} s; results: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
