"""examples/large_dataset: PNG files read lazily, published to S3 from a 2-worker LocalCluster as
Zarr, and a model trained by streaming the tensor chunk by chunk."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")
pytest.importorskip("PIL")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.slow
def test_publishes_from_a_cluster_and_trains_chunk_by_chunk(tmp_path: Path, run_example: Run) -> None:
    out = run_example("large_dataset/run.py", "--fast", "--out", str(tmp_path), unset="AWS_").stdout
    assert len(list((tmp_path / "raw" / "images").glob("*.png"))) == 1200
    assert "X_train: a lazy Array (1000, 1024), 5 chunks (nothing read yet)" in out
    assert "publishing from a LocalCluster of 2 worker processes" in out
    assert "published s3://mlops-examples/large/datasets/images/v1" in out
    assert "X_train is stored as X_train.zarr (Zarr v3)" in out
    accuracy = float(re.search(r"test accuracy of a model trained chunk by chunk: ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    assert accuracy >= 0.9
