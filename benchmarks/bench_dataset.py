"""Local datasets: publish time (target 1), publish memory (target 2), open and read (target 3)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
from bench_processor import BenchProcessor
from harness import (
    MB,
    Context,
    Stat,
    Target,
    evict,
    ratios,
    rmtree,
    run_child,
    run_many,
    settle,
    sha256_files,
    timed,
)
from workloads import make_raw_folder, tensor_bytes, write_plain

RSS_SLACK_MB = 100


def run(ctx: Context) -> None:
    from mlops import VersionedDatasetBuilder

    for size in ctx.sizes:
        print(f"[dataset] {size} MB", flush=True)
        raw = ensure_raw(ctx, size)
        builder = VersionedDatasetBuilder(raw, BenchProcessor())
        tensors = {**builder.features, **builder.labels}
        _publish(ctx, size, builder, tensors, raw)
        if size == max(ctx.sizes):
            root = ctx.scratch(f"read-{size}")
            path = builder.publish(str(root), "v1")
            del builder, tensors
            _read(ctx, size, path)
        else:
            del builder, tensors
    _rss(ctx, max(ctx.sizes))


def ensure_raw(ctx: Context, size: int, extra_mb: int = 0) -> str:
    """The raw folder for ``size`` MB of tensors, made once per run."""
    path = ctx.tmp / f"raw-{size}-{extra_mb}"
    if not path.exists():
        make_raw_folder(str(path), size, extra_mb=extra_mb)
    return str(path)


# --- target 1 ---------------------------------------------------------------------------------------


def _publish(ctx: Context, size: int, builder: Any, tensors: dict[str, np.ndarray], raw: str) -> None:
    out = ctx.scratch(f"publish-{size}")

    def cleanup(_: int) -> None:
        for child in out.iterdir():
            rmtree(child)
        settle()

    fns = {
        "write_only": lambda i: write_plain(str(out / f"w{i}"), tensors, raw, fsync=True),
        "write_only_nofsync": lambda i: write_plain(str(out / f"n{i}"), tensors, raw, fsync=False),
        "naive": lambda i: sha256_files(write_plain(str(out / f"h{i}"), tensors, raw, fsync=True)),
        "mlops": lambda i: builder.publish(str(out / "store"), f"v{i}"),
    }
    settle()
    stats = run_many(fns, ctx.repeats, after=cleanup)
    rmtree(out)
    for name, stat in stats.items():
        ctx.results.add_timing(f"dataset.publish.{size}.{name}", stat)
    mlops = stats["mlops"]
    detail = (f"mlops {mlops.median:.2f} s, write_only {stats['write_only'].median:.2f} s; "
              f"{tensor_bytes(tensors) / MB:.0f} MB tensors + raw folder of 1,000 files")  # fmt: skip
    ctx.results.add_target(Target(f"1-{size}", "dataset", f"local publish {size} MB / write_only (fsync)",
                                  ratios(mlops, stats["write_only"]), 1.15, "x", detail))  # fmt: skip
    ctx.results.add_target(Target(f"1n-{size}", "dataset", f"local publish {size} MB / naive (write + sha256 pass)",
                                  ratios(mlops, stats["naive"]), 1.0, "x", informational=True))  # fmt: skip
    ctx.results.add_target(Target(f"1f-{size}", "dataset", f"local publish {size} MB / write_only without fsync",
                                  ratios(mlops, stats["write_only_nofsync"]), 1.15, "x",
                                  informational=True))  # fmt: skip


# --- target 2 ---------------------------------------------------------------------------------------


def _rss(ctx: Context, size: int) -> None:
    """Peak memory of a publish, in a child process per run (see child.rss_publish for the measure)."""
    for label, extra in (("raw 1,000 small files", 0), (f"raw + {size} MB file", size)):
        print(f"[dataset] peak RSS, {size} MB, {label}", flush=True)
        raw = ensure_raw(ctx, size, extra_mb=extra)
        runs = []
        for i in range(ctx.repeats):
            out = ctx.scratch("rss")
            runs.append(run_child("rss_publish", {"raw": raw, "out": str(out), "version": f"v{i}"}))
            rmtree(out)
        overhead = Stat([(r["hwm"] - r["rss_before"]) / MB for r in runs])
        peak = Stat([(r["hwm"] - r["rss_import"]) / MB for r in runs])
        tensors_mb = runs[0]["tensor_bytes"] / MB
        ctx.results.add_timing(f"dataset.rss.{size}.{extra}.peak_minus_import_mb", peak)
        ctx.results.add_target(Target(
            f"2-{size}{'-bigraw' if extra else ''}", "dataset",
            f"publish peak RSS above (interpreter + mlops + numpy + tensors), {size} MB, {label}",
            overhead, RSS_SLACK_MB, "MB",
            f"peak - RSS(interpreter+imports) = {peak.median:.0f} MB for {tensors_mb:.0f} MB of tensors "
            f"(limit {tensors_mb + RSS_SLACK_MB:.0f} MB)",
            extra={"peak_minus_import_mb": peak.to_json(), "tensors_mb": tensors_mb},
        ))  # fmt: skip
        if extra:
            rmtree(raw)


# --- target 3 ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def deferred_verification() -> Iterator[None]:
    """What-if: mlops with the hash check of local tensors skipped at first access (as a lazy or
    deferred check would behave). Patches ``LocalStore.fetch_verified`` for the block only."""
    from mlops.store import LocalStore

    original = LocalStore.fetch_verified
    LocalStore.fetch_verified = lambda self, loc, *args, **kwargs: loc.path  # type: ignore[method-assign]
    try:
        yield
    finally:
        LocalStore.fetch_verified = original  # type: ignore[method-assign]


def _read(ctx: Context, size: int, path: str) -> None:
    from mlops import VersionedDataset

    print(f"[dataset] open and read, {size} MB", flush=True)
    names = VersionedDataset(path).tensor_names
    files = [os.path.join(path, f"{n}.npy") for n in names]

    # Opening: in a fresh interpreter (plugin discovery included: what a script pays), and warm.
    opens = [run_child("open_dataset", {"path": path}) for _ in range(ctx.repeats)]
    fresh = Stat([o["first"] for o in opens])
    warm = Stat([timed(lambda: VersionedDataset(path)) for _ in range(max(ctx.repeats, 20))])
    ctx.results.add_timing(f"dataset.open.{size}.fresh_process", fresh)
    ctx.results.add_timing(f"dataset.open.{size}.warm", warm)
    ctx.results.add_target(Target(f"3a-{size}", "dataset", f"VersionedDataset(path) on {size} MB, fresh process",
                                  fresh, 0.050, "s",
                                  f"second open in-process: {warm.median * 1000:.1f} ms"))  # fmt: skip

    # First access: memory-mapped? and what it costs (today: a full sha256 pass first).
    def first_access(verify: bool) -> tuple[float, bool]:
        ds = VersionedDataset(path)
        evict(files)
        with contextlib.nullcontext() if verify else deferred_verification():
            seconds = timed(lambda: ds.X_train)
        return seconds, isinstance(ds.X_train, np.memmap)

    access = [first_access(True) for _ in range(ctx.repeats)]
    access_deferred = [first_access(False) for _ in range(ctx.repeats)]
    x_train_mb = os.path.getsize(os.path.join(path, "X_train.npy")) / MB
    ctx.results.add_timing(f"dataset.first_access.{size}.X_train", Stat([a[0] for a in access]))
    ctx.results.add_timing(f"dataset.first_access.{size}.X_train_deferred", Stat([a[0] for a in access_deferred]))
    ctx.results.add_target(Target(
        f"3b-{size}", "dataset", "first access to a tensor is memory-mapped",
        Stat([0.0 if a[1] else 1.0 for a in access]), 0, "check",
        f"first ds.X_train ({x_train_mb:.0f} MB, cold): {Stat([a[0] for a in access]).median * 1000:.0f} ms "
        f"with today's full sha256 check; {Stat([a[0] for a in access_deferred]).median * 1000:.1f} ms if deferred",
    ))  # fmt: skip

    # Reading every tensor fully, cold (pages evicted) and warm (pages cached), against np.load.
    def np_load(_: int) -> None:
        for f in files:
            np.load(f)

    def np_load_sha(_: int) -> None:  # the floor of a verified full read: one read, one hash pass
        import hashlib

        for f in files:
            hashlib.sha256(memoryview(np.load(f)).cast("B"))

    def mlops_read(_: int) -> None:
        ds = VersionedDataset(path)
        for n in names:
            np.array(ds[n])

    def mlops_read_deferred(i: int) -> None:
        with deferred_verification():
            mlops_read(i)

    def warm_up(_: int) -> None:
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(8 * MB):
                    pass

    variants = {"np.load": np_load, "mlops": mlops_read, "mlops_deferred": mlops_read_deferred,
                "np.load+sha256": np_load_sha}  # fmt: skip
    for cache, before in (("cold", lambda _: evict(files)), ("warm", warm_up)):
        stats = run_many(variants, ctx.repeats, before=before)
        for name, stat in stats.items():
            ctx.results.add_timing(f"dataset.read.{size}.{cache}.{name}", stat)
        base = stats["np.load"]
        ctx.results.add_target(Target(
            f"3c-{size}-{cache}", "dataset", f"read every tensor fully, {cache} cache / np.load",
            ratios(stats["mlops"], base), 1.10, "x",
            f"mlops {stats['mlops'].median:.2f} s, np.load {base.median:.2f} s "
            f"(one read + sha256: {ratios(stats['np.load+sha256'], base).median:.2f}x)",
        ))  # fmt: skip
        ctx.results.add_target(Target(
            f"3d-{size}-{cache}", "dataset", f"what-if: read fully, {cache}, verification deferred / np.load",
            ratios(stats["mlops_deferred"], base), 1.10, "x", informational=True,
        ))  # fmt: skip
    rmtree(os.path.dirname(path))
