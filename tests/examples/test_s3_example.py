"""examples/s3: the mixed-frameworks flow on S3, against a bucket the user names (here on the test
S3 server) and against the local S3 server the demo starts by itself."""

from __future__ import annotations

import csv
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import mlops

Run = Callable[..., subprocess.CompletedProcess[str]]
CheckPng = Callable[[Path], tuple[int, int]]


@pytest.mark.slow
def test_publishes_and_ranks_in_the_given_bucket(
    tmp_path: Path, s3_bucket: str, run_example: Run, check_png: CheckPng
) -> None:
    bucket = s3_bucket.removeprefix("s3://")
    args = ["--bucket", bucket, "--prefix", "team/demo", "--out", str(tmp_path), "--fast"]
    out = run_example("s3/s3_demo.py", *args).stdout

    assert f"using the bucket {bucket} ({os.environ['AWS_ENDPOINT_URL']}" in out
    models = mlops.list_versions(f"{s3_bucket}/team/demo/models/wine")
    names = sorted(" ".join(m.tags) for m in models)
    assert names == [
        "keras mlp",
        "lightgbm boosted-trees",
        "sklearn baseline",
        "sklearn random-forest",
        "torch mlp",
        "xgboost boosted-trees",
    ]
    (dataset,) = mlops.list_versions(f"{s3_bucket}/team/demo/datasets/wine")
    assert f"  at {dataset.path}" in out
    for model in models:
        assert f"  at {model.path}" in out and f"  {model.path}  [" in out

    with open(tmp_path / "leaderboard.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["path"] for row in rows} == {m.path for m in models}
    assert all(float(row["accuracy"]) >= 0.8 for row in rows if row["model"] != "sklearn baseline")
    check_png(tmp_path / "leaderboard.png")
    assert f"browse it with the mlops command, e.g.: mlops ls {s3_bucket}/team/demo/models/wine" in out


@pytest.mark.slow
def test_starts_its_own_s3_server_without_a_bucket(tmp_path: Path, run_example: Run, check_png: CheckPng) -> None:
    result = run_example("s3/s3_demo.py", "--out", str(tmp_path), "--fast", unset="AWS_")
    assert "no --bucket given: started a local S3 server (moto) at http://127.0.0.1:" in result.stdout
    assert "best model: " in result.stdout and "  s3://mlops-examples/demo/models/wine/" in result.stdout
    check_png(tmp_path / "leaderboard.png")
