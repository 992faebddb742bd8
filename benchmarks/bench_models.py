"""Models (target 5): publish and load of a ~50 MB Keras, PyTorch and scikit-learn model, and of
XGBoost, LightGBM and ONNX models in their native formats, against the framework's own save and
load; and (target 6c) which frameworks a load imports. ``--frameworks`` picks some of them."""

from __future__ import annotations

import os
from typing import Any

from harness import Context, Stat, Target, fsync_file, paired, rmtree, run_child, settle, sha256_files
from workloads import MODELS, ModelWorkload, make_raw_folder

SLOWDOWN = 1.10
ALLOWANCE_S = 0.050


def run(ctx: Context) -> None:
    from bench_processor import BenchProcessor

    from mlops import VersionedDataset, VersionedDatasetBuilder

    raw = make_raw_folder(str(ctx.scratch("models-raw")), 1, files=10)
    dataset_path = VersionedDatasetBuilder(raw, BenchProcessor()).publish(str(ctx.scratch("models-datasets")), "v1")
    dataset = VersionedDataset(dataset_path)
    chosen = ctx.shared.get("frameworks") or list(MODELS)
    for name in chosen:
        _model(ctx, MODELS[name], dataset)


def _limit(base: Stat) -> float:
    """The target as a ratio: ``SLOWDOWN * base + ALLOWANCE_S`` divided by the baseline median."""
    return SLOWDOWN + ALLOWANCE_S / base.median


def _model(ctx: Context, workload: ModelWorkload, dataset: Any) -> None:
    from mlops import TrainingConfig, VersionedModel, VersionedModelBuilder

    name = workload.framework
    print(f"[models] {name}", flush=True)
    model = workload.build()
    config = TrainingConfig({"loss": [1.0, 0.5]}, {"epochs": 2, "batch_size": 32})
    base_dir, store = ctx.scratch(f"model-{name}-base"), ctx.scratch(f"model-{name}-store")
    full_state = None
    if workload.full_state_file:  # saved first: Keras' .h5 writer edits the model's compile config
        full_state = str(ctx.scratch(f"model-{name}-full") / workload.full_state_file)
        workload.save(model, full_state)

    def save(i: int) -> None:
        path = str(base_dir / f"{i}-{workload.filename}")
        workload.save(model, path)
        fsync_file(path)  # mlops fsyncs what it publishes locally; so does the baseline

    def publish(i: int) -> None:
        VersionedModelBuilder(dataset, model, config).publish(str(store), f"v{i}")

    def cleanup(_: int) -> None:
        for child in [*base_dir.iterdir(), *store.iterdir()]:
            rmtree(child) if child.is_dir() else child.unlink()
        settle()

    save(0)  # warm-up rounds, untimed: first calls pay one-time imports and plugin discovery
    publish(0)
    file_mb = os.path.getsize(base_dir / f"0-{workload.filename}") / 2**20
    cleanup(0)
    base, cand, ratio = paired(save, publish, ctx.repeats, after=cleanup)
    ctx.results.add_timing(f"models.{name}.save", base)
    ctx.results.add_timing(f"models.{name}.publish", cand)
    ctx.results.add_target(Target(f"5-{name}-publish", "models", f"{name}: publish / framework save (+fsync)", ratio,
                                  _limit(base), "x",
                                  f"mlops {cand.median:.2f} s, {name} {base.median:.2f} s ({file_mb:.0f} MB file); "
                                  f"limit = 1.1x + 50 ms"))  # fmt: skip

    # What-if: the framework writes straight into the store and mlops only hashes what it wrote
    # (no staging copy): the floor of a verified publish in the framework's own format.
    def save_and_hash(i: int) -> None:
        save(i)
        sha256_files([str(base_dir / f"{i}-{workload.filename}")])

    base, _, ratio = paired(save, save_and_hash, ctx.repeats, after=cleanup)
    ctx.results.add_target(Target(f"5w-{name}-publish", "models", f"what-if {name}: save in place + one sha256 / save",
                                  ratio, _limit(base), "x", informational=True))  # fmt: skip

    # Loading: both from files just written (warm page cache), alternating.
    base_file = str(base_dir / workload.filename)
    workload.save(model, base_file)
    path = VersionedModelBuilder(dataset, model, config).publish(str(store), "load")
    settle()
    stored_mb = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)) / 2**20
    workload.load(base_file), VersionedModel(path).model  # warm-up
    base, cand, ratio = paired(lambda i: workload.load(base_file), lambda i: VersionedModel(path).model, ctx.repeats)
    ctx.results.add_timing(f"models.{name}.load_framework", base)
    ctx.results.add_timing(f"models.{name}.load_mlops", cand)
    ctx.results.add_target(Target(f"5-{name}-load", "models", f"{name}: VersionedModel(path).model / framework load",
                                  ratio, _limit(base), "x",
                                  f"mlops {cand.median:.2f} s, {name} {base.median:.2f} s; version holds "
                                  f"{stored_mb:.0f} MB vs {file_mb:.0f} MB"))  # fmt: skip

    def hash_and_load(_: int) -> None:  # what-if: the floor of a verified load in the framework's format
        sha256_files([base_file])
        workload.load(base_file)

    base, _, ratio = paired(lambda i: workload.load(base_file), hash_and_load, ctx.repeats)
    ctx.results.add_target(Target(f"5w-{name}-load", "models", f"what-if {name}: one sha256 + framework load / load",
                                  ratio, _limit(base), "x", informational=True))  # fmt: skip

    if full_state is not None:  # like for like: a framework load that restores the same training state
        workload.load(full_state)
        base, cand, ratio = paired(lambda i: workload.load(full_state), lambda i: VersionedModel(path).model,
                                   ctx.repeats)  # fmt: skip
        ctx.results.add_target(Target(
            f"5s-{name}-load", "models",
            f"{name}: VersionedModel(path).model / framework load of {workload.full_state_file} (same optimizer state)",
            ratio, _limit(base), "x", f"mlops {cand.median:.2f} s, {name} {base.median:.2f} s", informational=True,
        ))  # fmt: skip
        rmtree(os.path.dirname(full_state))

    # Which frameworks does loading this model import, in a fresh interpreter?
    # A framework that the framework itself imports (import keras imports sklearn) is not held
    # against mlops: the check is mlops' load against the framework's own load of the same model.
    found = set(run_child("model_imports", {"path": path})["frameworks"])
    own = set(run_child("framework_imports", {"path": base_file, "framework": name})["frameworks"])
    allowed = workload.modules | own
    violations = sorted(found - allowed) + sorted({name} - found)
    ctx.results.add_target(Target(f"6c-{name}", "import", f"VersionedModel(path).model imports only {name}'s framework",
                                  Stat([float(len(violations))]), 0, "check",
                                  f"mlops load imported {sorted(found)}; "
                                  f"{name}'s own load imports {sorted(own)}"))  # fmt: skip
    rmtree(base_dir)
    rmtree(store)
