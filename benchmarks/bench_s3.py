"""S3 on a moto server (target 4): publish against ``fs.put``, load against ``fs.get``, and the
local content cache (a second open, or another version sharing tensors, downloads no tensor)."""

from __future__ import annotations

import os
from typing import Any

from bench_dataset import ensure_raw
from bench_processor import BenchProcessor
from harness import MB, Context, Stat, Target, files_under, paired, ratios, rmtree, run_many, sha256_files
from s3server import count_requests, endpoint, filesystem
from workloads import tensor_bytes, write_plain

LIMIT = 1.30
BUCKET = "bench-s3"


def run(ctx: Context) -> None:
    from mlops import VersionedDatasetBuilder

    size = ctx.s3_size
    print(f"[s3] {size} MB on a moto server at {endpoint(ctx)}", flush=True)
    fs = filesystem()
    fs.mkdir(BUCKET)
    raw = ensure_raw(ctx, size)
    builder = VersionedDatasetBuilder(raw, BenchProcessor())
    tensors = {**builder.features, **builder.labels}
    plain = ctx.scratch("s3-plain") / "dataset"
    write_plain(str(plain), tensors, raw, fsync=False)
    try:
        _publish(ctx, fs, builder, str(plain), size, tensor_bytes(tensors))
        url = builder.publish(f"s3://{BUCKET}/ds", "v1")
        _load(ctx, fs, url, list(tensors), size)
        _cache(ctx, builder, url, list(tensors))
    finally:
        fs.rm(BUCKET, recursive=True)
        rmtree(plain.parent)


def _rm(fs: Any, path: str) -> None:
    fs.invalidate_cache()
    if fs.exists(path):
        fs.rm(path, recursive=True)


def _publish(ctx: Context, fs: Any, builder: Any, plain: str, size: int, nbytes: int) -> None:
    def put(i: int) -> None:
        fs.put(plain + "/", f"{BUCKET}/put/{i}/", recursive=True)

    def publish(i: int) -> None:
        builder.publish(f"s3://{BUCKET}/ds", f"p{i}")

    def cleanup(i: int) -> None:
        _rm(fs, f"{BUCKET}/put/{i}")
        _rm(fs, f"{BUCKET}/ds/p{i}")

    with count_requests() as put_log:
        put(99)
    cleanup(99)
    with count_requests() as publish_log:
        publish(99)
    cleanup(99)
    base, cand, ratio = paired(put, publish, ctx.repeats, after=cleanup)
    ctx.results.add_timing(f"s3.{size}.put", base)
    ctx.results.add_timing(f"s3.{size}.publish", cand)
    ctx.results.add_target(Target(
        f"4a-{size}", "s3", f"S3 publish {size} MB / fs.put of the same files", ratio, LIMIT, "x",
        f"mlops {cand.median:.1f} s ({sum(publish_log.calls.values())} requests: {_top(publish_log.calls)}), "
        f"fs.put {base.median:.1f} s ({sum(put_log.calls.values())} requests: {_top(put_log.calls)}); "
        f"{nbytes / MB:.0f} MB tensors + 1,000 raw files",
    ))  # fmt: skip


def _top(calls: Any) -> str:
    return ", ".join(f"{n} {m}" for m, n in calls.most_common(4))


def _load(ctx: Context, fs: Any, url: str, names: list[str], size: int) -> None:
    from mlops import VersionedDataset

    key = url.removeprefix("s3://")
    remote = [f"{key}/meta.json", *(f"{key}/{n}.npy" for n in names)]
    local_root = ctx.scratch("s3-get")
    cache_root = ctx.scratch("s3-cache")
    saved = os.environ.get("MLOPS_CACHE_DIR")

    def get(i: int) -> None:
        fs.get(remote, [str(local_root / str(i) / os.path.basename(r)) for r in remote])

    def load(i: int) -> None:
        os.environ["MLOPS_CACHE_DIR"] = str(cache_root / f"p{i}")  # an empty cache: everything downloads
        ds = VersionedDataset(url).prefetch()  # every tensor at once, as fs.get fetches the whole folder
        for n in names:
            ds[n]

    def load_lazily(i: int) -> None:
        os.environ["MLOPS_CACHE_DIR"] = str(cache_root / f"l{i}")
        ds = VersionedDataset(url)
        for n in names:  # one tensor after the other, each on first access
            ds[n]

    def get_and_hash(i: int) -> None:  # what-if: a verified download through fs.get, then one hash pass
        get(i)
        sha256_files(files_under(local_root / str(i)))

    def cleanup(i: int) -> None:
        rmtree(local_root / str(i))
        rmtree(cache_root / f"p{i}")
        rmtree(cache_root / f"l{i}")

    try:
        stats = run_many(
            {"fs.get": get, "mlops": load, "fs.get+sha256": get_and_hash, "mlops-lazy": load_lazily},
            ctx.repeats,
            after=cleanup,
        )
    finally:
        if saved is not None:
            os.environ["MLOPS_CACHE_DIR"] = saved
    for name, stat in stats.items():
        ctx.results.add_timing(f"s3.{size}.load.{name}", stat)
    base, cand = stats["fs.get"], stats["mlops"]
    ctx.results.add_target(Target(
        f"4b-{size}", "s3", f"S3 load {size} MB (open + prefetch() + every tensor) / fs.get of the same files",
        ratios(cand, base), LIMIT, "x",
        f"mlops {cand.median:.1f} s, fs.get {base.median:.1f} s; empty local cache each round",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        f"4e-{size}", "s3", f"S3 load {size} MB, each tensor on first access (no prefetch) / fs.get",
        ratios(stats["mlops-lazy"], base), LIMIT, "x", informational=True,
    ))  # fmt: skip
    ctx.results.add_target(Target(
        f"4d-{size}", "s3", f"what-if: fs.get + one sha256 pass / fs.get ({size} MB)",
        ratios(stats["fs.get+sha256"], base), LIMIT, "x", informational=True,
    ))  # fmt: skip
    rmtree(local_root)
    rmtree(cache_root)


def _cache(ctx: Context, builder: Any, url: str, names: list[str]) -> None:
    """Open v1 with an empty cache, again, then v2 (same tensors): the last two download no tensor."""
    from mlops import VersionedDataset

    def open_all(version_url: str) -> Any:
        with count_requests() as log:
            ds = VersionedDataset(version_url)
            for n in names:
                ds[n]
        return log

    saved = os.environ.get("MLOPS_CACHE_DIR")
    os.environ["MLOPS_CACHE_DIR"] = str(ctx.scratch("s3-cache-shared"))
    try:
        first = open_all(url)
        again = open_all(url)
        other = open_all(builder.publish(f"s3://{BUCKET}/ds", "v2"))
    finally:
        rmtree(os.environ["MLOPS_CACHE_DIR"])
        if saved is not None:
            os.environ["MLOPS_CACHE_DIR"] = saved
    refetched = (again.downloads(".npy") + other.downloads(".npy")) / MB
    ctx.results.add_target(Target(
        "4c", "s3", "tensor MB downloaded again: 2nd open of v1 + open of v2 sharing its tensors",
        Stat([refetched]), 0, "MB",
        f"first open: {first.downloads('.npy') / MB:.0f} MB of tensors in {first.calls['get_object']} GETs; "
        f"2nd open: {sum(again.calls.values())} requests ({_top(again.calls)}); "
        f"v2: {sum(other.calls.values())} requests ({_top(other.calls)})",
    ))  # fmt: skip
