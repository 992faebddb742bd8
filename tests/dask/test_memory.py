"""Memory stays bounded by the chunk size: a 2 GB dask tensor in 32 MB chunks is published by a
subprocess whose peak RSS grows by a few hundred MB at most, and read back chunk by chunk the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dask.array")
pytest.importorskip("zarr")

SUPPORT = str(Path(__file__).resolve().parents[1] / "support")
SCRIPT = """
import json, resource, sys
import dask
import dask.array as da
import numpy as np
from sample_processors import FixedProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def block(block_id=None):
    # 32 MB of float64 that depends on the block: real values to encode, cheap to make.
    start = block_id[0] * 2048
    return np.broadcast_to(np.arange(start, start + 2048, dtype=np.float64)[:, None], (2048, 2048)).copy()

dask.config.set(scheduler="threads", num_workers=2)
x = da.map_blocks(block, dtype=np.float64, chunks=((2048,) * 64, (2048,)))  # 64 x 32 MB = 2 GiB
assert x.nbytes == 2 * 1024**3
before = peak()
path = VersionedDatasetBuilder(sys.argv[1], FixedProcessor({"X": x}, {})).publish(sys.argv[2], "v1")
published = peak()
total = VersionedDataset(path).X[:, :1].sum().compute()
print(json.dumps({"before": before, "published": published, "read": peak(), "total": float(total)}))
"""


@pytest.mark.slow
def test_publishing_and_reading_2_gb_in_32_mb_chunks_keeps_memory_bounded(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "note.txt").write_text("generated in the test")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SUPPORT, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(raw), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rss = json.loads(out.stdout.splitlines()[-1])
    n = 64 * 2048
    assert rss["total"] == n * (n - 1) / 2
    grown_publish = (rss["published"] - rss["before"]) / 2**20
    grown_read = (rss["read"] - rss["before"]) / 2**20
    assert grown_publish < 400, f"publishing 2 GB grew peak RSS by {grown_publish:.0f} MB"
    assert grown_read < 400, f"reading it grew peak RSS by {grown_read:.0f} MB"
