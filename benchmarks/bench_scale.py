"""Chunked (zarr) tensors at scale (not in CI: ``nox -s bench -- --only scale``).

- a dask tensor larger than RAM to local disk: ``publish`` against ``da.to_zarr`` of the same array
  and chunks (no hashing, no manifest), peak RSS of the publishing process, and a full read
  (``.sum()``) against plain ``da.from_zarr(...).sum()``;
- 4 GB from a 2-worker LocalCluster to the moto S3 server against ``da.to_zarr`` to the same server;
- cost against size (``--scale-sizes``, GB): seconds per GB at each size, which must stay flat
  (linear cost), drawn in the run's PNG as one row per size.

Each measurement runs in a fresh interpreter (peak RSS is that process's VmHWM). The array is
generated block by block (cheap, deterministic, partly compressible), so the comparison is
about writing and reading, not about making data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from harness import Context, Stat, Target, rmtree, settle
from s3server import endpoint

CHUNK_ROWS, COLS = 4096, 2048
"""32 MB float32 chunks."""
TIME_LIMIT, RSS_LIMIT_GB, READ_LIMIT, S3_LIMIT = 1.15, 2.0, 1.15, 1.30
S3_GB = 4
BUCKET = "bench-scale"

CHILD = r"""
import json, os, sys, time
import numpy as np
import dask
import dask.array as da

mode, gb, url, workers = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ROWS, COLS = int(sys.argv[5]), int(sys.argv[6])

def block(block_id=None):
    start = block_id[0] * ROWS * COLS
    idx = np.arange(start, start + ROWS * COLS, dtype=np.uint64)
    return ((idx * np.uint64(2654435761)) >> np.uint64(20) & np.uint64(0xFFF)).astype(np.float32).reshape(ROWS, COLS)

n = max(1, int(gb * 2**30 // (ROWS * COLS * 4)))
x = da.map_blocks(block, dtype=np.float32, chunks=((ROWS,) * n, (COLS,)))
client = None
if workers:
    from distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"))
else:
    dask.config.set(scheduler="threads")
started = time.perf_counter()
if mode == "to_zarr":
    da.to_zarr(x, url)
elif mode == "publish":
    from sample_free import publish
    publish(x, url)
elif mode == "plain_read":
    float(da.from_zarr(url).sum().compute())
elif mode == "read":
    from mlops.dataset.versioned_dataset import VersionedDataset
    float(VersionedDataset(url).X.sum().compute())
seconds = time.perf_counter() - started
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "hwm": hwm, "bytes": int(x.nbytes)}))
"""

SAMPLE_FREE = '''
"""publish(x, url): a dataset version holding the dask tensor X, from a raw folder of one file."""
import os, tempfile
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder

class Given(DataProcessor):
    def __init__(self, x):
        self.x = x
    def get_raw_features_and_labels(self, dataset_path):
        return {"X": self.x}, {}
    def get_raw_features(self, dataset_path):
        return {"X": self.x}
    def preprocess_features(self, t):
        return t
    def preprocess_labels(self, t):
        return t

def publish(x, url):
    raw = tempfile.mkdtemp()
    with open(os.path.join(raw, "README"), "w") as f:
        f.write("generated")
    root, version = url.rsplit("/", 1)
    return VersionedDatasetBuilder(raw, Given(x)).publish(root, version, raw="link")
'''


def _child(ctx: Context, mode: str, gb: float, url: str, workers: int = 0) -> dict[str, Any]:
    support = ctx.tmp / "scale-support"
    support.mkdir(exist_ok=True)
    (support / "sample_free.py").write_text(SAMPLE_FREE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(support), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-c", CHILD, mode, str(gb), url, str(workers), str(CHUNK_ROWS), str(COLS)]
    settle()  # the previous child's dirty pages (up to a fifth of RAM) must not be written back in this one
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{mode} {gb} GB failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
    return result


def run(ctx: Context) -> None:
    sizes = sorted(ctx.shared.get("scale_sizes") or [1, 4, 16, 32])
    per_gb: dict[float, float] = {}
    for gb in sizes:
        folder = ctx.scratch(f"scale-{gb}")
        plain_url, root = str(folder / "plain.zarr"), str(folder / "ds")
        print(f"[scale] {gb} GB to local disk in 32 MB chunks", flush=True)
        base, cand, reads, plain_reads, rss = [], [], [], [], []
        for i in range(max(1, ctx.repeats if gb <= 4 else 1)):
            # One copy on disk at a time: at 32 GB two would crowd a shared disk.
            base.append(_child(ctx, "to_zarr", gb, plain_url)["seconds"])
            plain_reads.append(_child(ctx, "plain_read", gb, plain_url)["seconds"])
            rmtree(folder / "plain.zarr")
            published = _child(ctx, "publish", gb, f"{root}/v{i}")
            cand.append(published["seconds"])
            rss.append(published["hwm"] / 2**30)
            reads.append(_child(ctx, "read", gb, f"{root}/v{i}")["seconds"])
            rmtree(folder / "ds")
        ratio = Stat([c / b for b, c in zip(base, cand, strict=True)])
        per_gb[gb] = Stat(cand).median / gb
        detail = f"publish {Stat(cand).median:.1f} s, da.to_zarr {Stat(base).median:.1f} s ({len(cand)} run(s))"
        ctx.results.add_timing(f"scale publish {gb} GB", Stat(cand))
        ctx.results.add_target(Target(f"Z1-{gb}", "scale", f"{gb} GB dask tensor to disk vs da.to_zarr",
                                      ratio, TIME_LIMIT, "x", detail))  # fmt: skip
        ctx.results.add_target(Target(f"Z2-{gb}", "scale", f"peak RSS publishing {gb} GB", Stat(rss),
                                      RSS_LIMIT_GB, "GB"))  # fmt: skip
        ctx.results.add_target(Target(f"Z3-{gb}", "scale", f"{gb} GB full read (.sum()) vs da.from_zarr",
                                      Stat([r / p for p, r in zip(plain_reads, reads, strict=True)]),
                                      READ_LIMIT, "x"))  # fmt: skip
        rmtree(folder)
    smallest = min(per_gb)
    for gb, cost in per_gb.items():  # linear cost: seconds per GB at each size, against the smallest size's
        ctx.results.add_target(Target(f"Z4-{gb}", "scale", f"cost per GB at {gb} GB / at {smallest} GB (linear)",
                                      Stat([cost / per_gb[smallest]]), TIME_LIMIT, "x",
                                      f"{cost:.2f} s/GB", informational=gb == smallest))  # fmt: skip
    _s3(ctx)


def _s3(ctx: Context) -> None:
    import s3fs

    endpoint(ctx)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(BUCKET)
    print(f"[scale] {S3_GB} GB from a 2-worker LocalCluster to the moto server", flush=True)
    try:
        base = _child(ctx, "to_zarr", S3_GB, f"s3://{BUCKET}/plain.zarr", workers=2)["seconds"]
        cand = _child(ctx, "publish", S3_GB, f"s3://{BUCKET}/ds/v1", workers=2)["seconds"]
    finally:
        fs.rm(BUCKET, recursive=True)
    ctx.results.add_target(Target("Z5", "scale", f"{S3_GB} GB from a 2-worker cluster to S3 vs da.to_zarr",
                                  Stat([cand / base]), S3_LIMIT, "x",
                                  f"publish {cand:.1f} s, da.to_zarr {base:.1f} s (1 run)"))  # fmt: skip
