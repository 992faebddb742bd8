"""examples/serving: a published model scored in a batch, served and queried, exported to MLflow."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sklearn")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.slow
def test_predict_serve_query_and_export(tmp_path: Path, run_example: Run) -> None:
    out = run_example("serving/run.py", "--fast", "--out", str(tmp_path)).stdout
    scores = (tmp_path / "scores.csv").read_text().splitlines()
    assert scores[0] == "prediction_0,prediction_1,prediction_2,label" and len(scores) == 6
    assert {row.rsplit(",", 1)[1] for row in scores[1:]} <= {"cold", "mild", "hot"}
    assert '"labels":[' in out and "served: model weather v1" in out
    assert "stopped the server (exit status 0)" in out
    assert (tmp_path / "exported" / "MLmodel").is_file()
    assert "exported model weather v1 with dataset weather v1" in out
