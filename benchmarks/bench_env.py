"""The recorded environment (issue 23): what recording ``environment/pylock.toml`` and
``python.json`` adds to a small publish (limit 50 ms; the lock is built from importlib.metadata
once per process, and each measured publish starts with that cache cleared, so every figure
includes building it), and ``create_environment`` from a version's lock with uv: cold (the mlops
cache empty; uv's own cache as this machine has it: info) and warm (the environment cached: a new
folder is a copy of it, limit 5 s).

The version whose environment is built records a small environment (numpy, scikit-learn and
mlops-core's own dependencies, mlops-core and mlops-sklearn from this checkout): this machine's
whole environment holds a PyTorch CPU wheel that is not on the package index."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from harness import Context, Stat, Target

SMALL = ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "fsspec", "pluggy", "cloudpickle", "click",
         "mlops-core", "mlops-sklearn")  # fmt: skip
LOCK_LIMIT_S = 0.050
WARM_LIMIT_S = 5.0


def run(ctx: Context) -> None:
    from mlops import DataProcessor, VersionedDatasetBuilder
    from mlops.metadata import environment
    from mlops.versions import writer

    class Small(DataProcessor):  # a small dataset: the lock's cost is what would show
        def get_raw_features_and_labels(self, path: str) -> Any:
            x = np.arange(4000, dtype=np.float32).reshape(1000, 4)
            return {"X_train": x}, {"y_train": (x[:, 0] > 2000).astype(np.int64)}

        def get_raw_features(self, path: str) -> Any:
            return {"X_pred": np.zeros((2, 4), dtype=np.float32)}

        def preprocess_features(self, t: Any) -> Any:
            return t

        def preprocess_labels(self, t: Any) -> Any:
            return t

    folder = ctx.scratch("env")
    raw = folder / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("a")
    builder = VersionedDatasetBuilder(str(raw), Small())
    original = writer.VersionWriter.write_environment
    with_lock: list[float] = []
    without: list[float] = []
    repeats = max(ctx.repeats, 5)
    print(f"[env] {repeats} small publishes with and without the lock", flush=True)
    for i in range(repeats):
        for recorded in (True, False) if i % 2 == 0 else (False, True):
            environment.environment_files.cache_clear()
            environment.current_environment.cache_clear()
            writer.VersionWriter.write_environment = original if recorded else (lambda self: None)  # type: ignore[method-assign]
            started = time.perf_counter()
            builder.publish(str(folder / ("with" if recorded else "without")), f"v{i}")
            (with_lock if recorded else without).append(time.perf_counter() - started)
    writer.VersionWriter.write_environment = original  # type: ignore[method-assign]
    cost = Stat([a - b for a, b in zip(sorted(with_lock), sorted(without), strict=True)])
    ctx.results.add_timing("env.publish.with_lock", Stat(with_lock))
    ctx.results.add_timing("env.publish.without_lock", Stat(without))
    count = len(environment.current_environment().packages)
    cpu: list[float] = []
    for _ in range(repeats):  # the CPU the lock takes, which a loaded machine does not inflate
        environment.environment_files.cache_clear()
        environment.current_environment.cache_clear()
        started = time.process_time()
        environment.environment_files()
        cpu.append(time.process_time() - started)
    ctx.results.add_target(Target(
        "E1c", "env", "CPU time of building the lock (importlib.metadata, once per process)", Stat(cpu), 0.0, "s",
        f"{count} distributions", informational=True,
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "E1", "env", "what the lock adds to a small publish (lock built afresh each time)", cost, LOCK_LIMIT_S, "s",
        f"{count} distributions; publish {Stat(with_lock).median * 1e3:.0f} ms with, "
        f"{Stat(without).median * 1e3:.0f} ms without",
    ))  # fmt: skip
    _creation(ctx, folder, builder)


def _creation(ctx: Context, folder: Path, builder: Any) -> None:
    from mlops.envs import create_environment
    from mlops.envs.build import uv_binary
    from mlops.metadata import environment
    from mlops.metadata.pylock import LOCK_FILE, PYTHON_FILE

    try:
        uv_binary()
    except ImportError as exc:
        ctx.results.notes.append(f"env: environment creation not measured: {exc}")
        return
    here = environment.current_environment()
    small = replace(here, packages=tuple(p for p in here.packages if p.name in SMALL))
    files = {LOCK_FILE: small.to_pylock().encode(), PYTHON_FILE: small.python_json().encode()}
    from mlops.versions import writer

    original = writer.environment_files
    writer.environment_files = lambda: files  # type: ignore[assignment]
    try:
        path = builder.publish(str(folder / "small"), "v1")
    finally:
        writer.environment_files = original  # type: ignore[assignment]
    print("[env] cold create_environment (uv)", flush=True)
    started = time.perf_counter()
    create_environment(path)
    cold = time.perf_counter() - started
    warm: list[float] = []
    for i in range(max(ctx.repeats, 3)):
        started = time.perf_counter()
        create_environment(path, folder / f"copy-{i}")
        warm.append(time.perf_counter() - started)
    ctx.results.add_target(Target(
        "E2", "env", "create_environment, cold (mlops cache empty; uv's cache as found)", Stat([cold]), 0.0, "s",
        f"{len(small.packages)} distributions", informational=True,
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "E3", "env", "create_environment into a new folder, warm (cached by the lock's hash)", Stat(warm),
        WARM_LIMIT_S, "s", "a copy of the cached environment, hard links where the filesystem allows",
    ))  # fmt: skip
