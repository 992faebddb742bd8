"""Pay only for what changed (issue 13): a second publish of the same data, or of data with 1% of
its raw files changed, against the first publish into an empty root; on S3 the bytes sent, and a
resume after a publisher was killed halfway (SIGKILL).

The workload is the issue's: a raw folder of image-sized files that the processor turns into a
small tensor set. The dataset area's tensor-heavy workload is measured too, as informational rows."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from bench_dataset import ensure_raw
from bench_processor import PARAMS_FILE, BenchProcessor
from harness import MB, Context, Stat, Target, disk_bytes, rmtree, settle, timed
from s3server import count_requests, endpoint, filesystem

BUCKET = "bench-incremental"
CHANGED = 0.01
"""Share of the raw files changed between v2 and v3."""


def run(ctx: Context) -> None:
    from mlops import VersionedDatasetBuilder

    size = min(ctx.sizes)
    photos = ensure_photos(ctx, size)
    _local(ctx, VersionedDatasetBuilder(photos, BenchProcessor()), photos, size)
    heavy = ensure_raw(ctx, size)
    _local(ctx, VersionedDatasetBuilder(heavy, BenchProcessor()), heavy, size, tensor_heavy=True)
    endpoint(ctx)
    s3_photos = ensure_photos(ctx, ctx.s3_size)
    _s3(ctx, VersionedDatasetBuilder(s3_photos, BenchProcessor()), s3_photos, ctx.s3_size)


PHOTO_SIZES = (512 * 1024, 4 * MB)
"""Sizes of the raw files of the photo workload: camera images, 0.5 to 4 MiB."""


def make_photos(path: str, size_mb: int, seed: int = 0) -> str:
    """The issue's workload: a raw folder of ``size_mb`` MB of image-sized files
    (``photos/NN/NNNN.bin``, :data:`PHOTO_SIZES`) that the processor turns into a small tensor set
    (1/32 of the raw bytes): the raw folder, not the tensors, is what a second publish repeats."""
    rng = np.random.default_rng(seed + 3)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, PARAMS_FILE), "w") as f:
        json.dump({"size_mb": max(1, size_mb // 32), "seed": seed}, f)
    total, i = 0, 0
    while total < size_mb * MB:
        size = int(rng.integers(*PHOTO_SIZES))
        folder = os.path.join(path, "photos", f"{i // 50:02d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{i:04d}.bin"), "wb") as f:
            f.write(rng.bytes(size))
        total += size
        i += 1
    return path


def ensure_photos(ctx: Context, size: int) -> str:
    """The photo raw folder of ``size`` MB, made once per run."""
    path = ctx.tmp / f"photos-{size}"
    if not path.exists():
        make_photos(str(path), size)
    return str(path)


def _raw_files(raw: str) -> list[Path]:
    return sorted(p for p in Path(raw).rglob("*.bin"))


def _change(raw: str, round_: int) -> int:
    """Rewrite 1% of the raw files (new random bytes, same sizes); return the bytes changed."""
    files = _raw_files(raw)
    rng = np.random.default_rng(1000 + round_)
    changed = 0
    for path in files[:: int(1 / CHANGED)]:
        size = path.stat().st_size
        path.write_bytes(rng.bytes(size))
        changed += size
    return changed


def _local(ctx: Context, builder: Any, raw: str, size: int, *, tensor_heavy: bool = False) -> None:
    """13a-13c on the photo workload; with ``tensor_heavy``, the same rows (informational, ``-t``)
    on the dataset area's workload: ``size`` MB of tensors and 1,000 small raw files, where a second
    publish must still hash the tensors the processor made in memory (they have no identity to
    remember a hash by), so its floor is one sha256 pass over them."""
    what = f"{size} MB of tensors + 1,000 small raw files" if tensor_heavy else f"{size} MB raw folder of photos"
    print(f"[incremental] local, {what}", flush=True)
    out = ctx.scratch("incremental-local")
    first, same, changed, extra = [], [], [], []
    for i in range(ctx.repeats):
        root = out / f"r{i}"
        settle()
        first.append(timed(functools.partial(builder.publish, str(root), "v1")))
        one = disk_bytes(root)
        settle()
        same.append(timed(functools.partial(builder.publish, str(root), "v2")))
        extra.append((disk_bytes(root) - one) / one)
        _change(raw, i)
        settle()
        changed.append(timed(functools.partial(builder.publish, str(root), "v3")))
        rmtree(root)
    v1 = Stat(first)
    suffix, info = ("-t", True) if tensor_heavy else ("", False)
    add = ctx.results.add_target
    add(Target(f"13a{suffix}", "incremental", f"local identical v2 publish / v1 publish ({what})",
               Stat([s / f for s, f in zip(same, first, strict=True)]), 0.15, "x",
               f"v1 {v1.median:.2f} s, v2 {Stat(same).median:.2f} s", informational=info))  # fmt: skip
    add(Target(f"13b{suffix}", "incremental", "local identical v2: extra bytes on disk / v1's", Stat(extra), 0.01,
               "x", "inodes counted once (hard links)", informational=info))  # fmt: skip
    add(Target(f"13c{suffix}", "incremental", "local v3 with 1% of raw files changed / v1 publish",
               Stat([c / f for c, f in zip(changed, first, strict=True)]), 0.2, "x",
               f"v3 {Stat(changed).median:.2f} s", informational=info))  # fmt: skip


def _copy_floor(fs: Any, version: str, dest: str) -> float:
    """Seconds the server takes to copy every object of ``version`` to ``dest`` with CopyObject, as
    many at once as mlops copies: what a deduplicated publish cannot go below on this server (moto
    stores each copy as a new PUT of the same bytes, hashing them again)."""
    import asyncio

    from fsspec.asyn import sync

    from mlops.utils.concurrency import MAX_WORKERS

    keys = [path.split("/", 1)[1] for path in fs.find(version)]
    prefix, target = version.split("/", 1)[1], dest.split("/", 1)[1]

    async def copy_all() -> None:
        limit = asyncio.Semaphore(MAX_WORKERS)

        async def one(key: str) -> None:
            async with limit:
                await fs._call_s3("copy_object", Bucket=BUCKET, Key=target + key[len(prefix):],
                                  CopySource={"Bucket": BUCKET, "Key": key})  # fmt: skip

        await asyncio.gather(*map(one, keys))

    return timed(lambda: sync(fs.loop, copy_all))


def _s3(ctx: Context, builder: Any, raw: str, size: int) -> None:
    print(f"[incremental] S3 (moto), {size} MB raw folder of photos", flush=True)
    fs = filesystem()
    fs.mkdir(BUCKET)
    first, same, sent_ratio, floor = [], [], [], []
    try:
        for i in range(ctx.repeats):
            root = f"s3://{BUCKET}/r{i}"
            with count_requests() as sent1:
                first.append(timed(functools.partial(builder.publish, root, "v1")))
            changed = _change(raw, 100 + i)
            with count_requests() as sent2:
                same.append(timed(functools.partial(builder.publish, root, "v2")))
            sent_ratio.append(sent2.bytes_sent / max(changed, 1))
            floor.append(_copy_floor(fs, f"{BUCKET}/r{i}/v1", f"{BUCKET}/floor{i}/v1") / first[-1])
            print(f"  round {i}: v1 sent {sent1.bytes_sent / MB:.1f} MB, v2 {sent2.bytes_sent / MB:.2f} MB "
                  f"({changed / MB:.2f} MB changed); CopyObject of v1: {floor[-1]:.2f}x its publish",
                  flush=True)  # fmt: skip
        _resume(ctx, raw)
    finally:
        fs.rm(BUCKET, recursive=True)
    add = ctx.results.add_target
    add(Target("13d", "incremental", "S3 v2 (1% of raw files changed) publish / v1 publish",
               Stat([s / f for s, f in zip(same, first, strict=True)]), 0.2, "x",
               f"v1 {Stat(first).median:.2f} s, v2 {Stat(same).median:.2f} s"))  # fmt: skip
    add(Target("13d-floor", "incremental", "S3: CopyObject of all of v1's objects, no client work / v1 publish",
               Stat(floor), 0.2, "x", "the server's own cost of the copies 13d makes", informational=True))  # fmt: skip
    add(Target("13e", "incremental", "S3 v2: bytes sent / bytes changed", Stat(sent_ratio), 1.05, "x",
               "bodies of put_object/upload_part; meta.json and the manifest count as sent"))  # fmt: skip


KILLED_AT_HALF = """
import os, signal, sys
from bench_processor import PARAMS_FILE, BenchProcessor
from mlops import VersionedDatasetBuilder
from mlops.versions.writer import VersionWriter

raw, root = sys.argv[1], sys.argv[2]
builder = VersionedDatasetBuilder(raw, BenchProcessor())
half = (sum(a.nbytes for a in builder.features.values()) + sum(a.nbytes for a in builder.labels.values())
        + sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(raw) for f in fs)) / 2
written = [0]
record = VersionWriter._record

def record_then_die(self, relpath, entry, unsynced=None):
    written[0] += entry.size
    if written[0] >= half:
        os.kill(os.getpid(), signal.SIGKILL)
    return record(self, relpath, entry, unsynced)

VersionWriter._record = record_then_die
builder.publish(root, "v1")
"""


def _resume(ctx: Context, raw: str) -> None:
    """Kill a publish to S3 once half its bytes are written (SIGKILL), resume it, count what it sends."""
    from mlops import VersionedDatasetBuilder

    builder = VersionedDatasetBuilder(raw, BenchProcessor())
    total = sum(a.nbytes for a in {**builder.features, **builder.labels}.values())
    total += sum(p.stat().st_size for p in Path(raw).rglob("*") if p.is_file())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)}
    ratios = []
    for i in range(ctx.repeats):
        root = f"s3://{BUCKET}/resume{i}"
        killed = subprocess.run([sys.executable, "-c", KILLED_AT_HALF, raw, root], env=env, check=False)
        assert killed.returncode == -signal.SIGKILL, killed.returncode
        with count_requests() as sent:
            builder.publish(root, "v1", resume=True)
        ratios.append(sent.bytes_sent / total)
    ctx.results.add_target(Target("13f", "incremental", "S3 resume after a kill at 50%: bytes sent / version bytes",
                                  Stat(ratios), 0.55, "x", "SIGKILL once half the bytes were written"))  # fmt: skip
