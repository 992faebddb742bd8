"""The registry (issue 25) on the S3 server, in requests counted as s3fs sends them: resolving
``ROOT@alias`` (target: at most 2), moving an alias (target: at most 3 in all, the read of the
target's meta.json included, on a machine that read the alias before: measured as a new process,
``mlops alias set``, would make it, from the number kept in the cache), and ``mlops gc --dry-run``
on a root of 1,000 versions (target: no manifest read, only what listing reads), with its time."""

from __future__ import annotations

import os
import time

from bench_processor import BenchProcessor
from harness import Context, Stat, Target, rmtree
from s3server import copy_versions, count_requests, endpoint, filesystem
from workloads import make_raw_folder

BUCKET = "bench-registry"
HISTORY = 100
"""Moves made before measuring: resolving costs the same whatever the history (up to 1,000 records)."""


def run(ctx: Context) -> None:
    import mlops
    from mlops.versions import aliases
    from mlops.versions.aliases import locate_version

    count = int(ctx.shared.get("listing_versions", 1000))
    print(f"[registry] aliases and gc of {count} versions on {endpoint(ctx)}", flush=True)
    fs = filesystem()
    fs.mkdir(BUCKET)
    root = f"s3://{BUCKET}/datasets"
    raw = make_raw_folder(str(ctx.scratch("registry-raw")), 1, files=10)
    saved_cache = os.environ.get("MLOPS_CACHE_DIR")
    try:
        mlops.VersionedDatasetBuilder(raw, BenchProcessor()).publish(root, "v0000")
        # count-1 more versions, all published long ago: gc --dry-run then has every one of them to judge.
        copy_versions(fs, f"{BUCKET}/datasets", count, manifest=True, long_ago=True)
        for i in range(HISTORY):
            mlops.set_alias(root, "production", f"v{i % 10:04d}")
        resolve_counts, resolve_kinds, move_counts, resolve_times = [], {}, [], []
        for i in range(ctx.repeats):
            for kind in ("new machine", "seen before"):  # a listing and a read; the record seen and the next
                if kind == "new machine":
                    _new_machine(ctx, f"registry-resolve-{i}")
                with count_requests() as log:
                    started = time.perf_counter()
                    locate_version(f"{root}@production")
                    resolve_times.append(time.perf_counter() - started)
                resolve_counts.append(float(sum(log.calls.values())))
                resolve_kinds.setdefault(kind, dict(log.calls))
            current = mlops.get_alias(root, "production")
            aliases._HIGHEST_SEEN.clear()  # as in a new process (`mlops alias set`): only the number kept on disk
            with count_requests() as log:
                mlops.set_alias(root, "production", f"v{i % 10:04d}", expect=current)
            move_counts.append(log.calls)
        move_requests = [float(sum(c.values())) for c in move_counts]  # the target's meta.json included
        _new_machine(ctx, "registry-first-move")  # the first move from a machine that never saw the alias
        with count_requests() as log:
            mlops.set_alias(root, "production", "v0000")
        first_move = log.calls
        with count_requests() as gc_log:
            started = time.perf_counter()
            would = mlops.gc(root, keep_last=10, grace=0, dry_run=True)
            gc_seconds = time.perf_counter() - started
        manifests_read = sum(1 for key in gc_log.bytes_by_key if key.endswith("manifest.jsonl"))
        gets = gc_log.calls["get_object"]
    finally:
        fs.rm(BUCKET, recursive=True)
        rmtree(raw)
        if saved_cache is None:
            os.environ.pop("MLOPS_CACHE_DIR", None)
        else:
            os.environ["MLOPS_CACHE_DIR"] = saved_cache
        aliases._HIGHEST_SEEN.clear()
    ctx.results.add_target(Target(
        "25a", "registry", "requests to resolve ROOT@alias on S3", Stat(resolve_counts), 2, "count",
        f"from a machine that never saw the alias {resolve_kinds['new machine']} (a listing of "
        f"{HISTORY}+ records, a read), seen before {resolve_kinds['seen before']}; {1000 * min(resolve_times):.0f} ms "
        "at best",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "25b", "registry", "requests of an alias move on S3, new process (read current, target's meta.json, write)",
        Stat(move_requests), 3, "count",
        f"{dict(move_counts[0])}, from the number kept in MLOPS_CACHE_DIR; the first move from a machine that "
        f"never saw the alias: {sum(first_move.values())} ({dict(first_move)})",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "25c", "registry", f"manifests read by gc --dry-run on {count} versions", Stat([float(manifests_read)]), 0,
        "count", f"{len(would)} would be removed; {gets} GETs (meta.json and alias records), "
        f"{dict(gc_log.calls)}; {gc_seconds:.2f} s",
    ))  # fmt: skip
    ctx.results.add_timing("registry.gc_dry_run", Stat([gc_seconds]))


def _new_machine(ctx: Context, name: str) -> None:
    """As on a machine that never read the alias: an empty MLOPS_CACHE_DIR, nothing in memory."""
    from mlops.versions import aliases

    os.environ["MLOPS_CACHE_DIR"] = str(ctx.scratch(name))
    aliases._HIGHEST_SEEN.clear()
