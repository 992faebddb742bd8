"""examples/mixed_frameworks: one dataset, a Keras, a PyTorch, an XGBoost, a LightGBM and two
scikit-learn models, and a leaderboard computed from the published model paths alone."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ML_FRAMEWORKS = {"tensorflow", "keras", "torch", "sklearn", "xgboost", "lightgbm"}
TRAINED = ["keras mlp", "torch mlp", "sklearn random-forest", "xgboost boosted-trees", "lightgbm boosted-trees"]
Run = Callable[..., subprocess.CompletedProcess[str]]
CheckPng = Callable[[Path], tuple[int, int]]


def _leaderboard(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {row["model"]: row for row in csv.DictReader(f)}


@pytest.mark.slow
def test_five_frameworks_one_leaderboard(tmp_path: Path, run_example: Run, check_png: CheckPng) -> None:
    out = run_example("mixed_frameworks/run.py", "--out", str(tmp_path), "--fast").stdout

    # Every model was trained on the same dataset version and published with its own serializer.
    (dataset_dir,) = (tmp_path / "store" / "datasets" / "wine").iterdir()
    metas = [json.loads((d / "meta.json").read_text()) for d in (tmp_path / "store" / "models" / "wine").iterdir()]
    serializers = sorted(m["serializer"]["name"] for m in metas)
    assert serializers == ["keras", "lightgbm", "sklearn", "sklearn", "torch", "xgboost"]
    assert {m["dataset"]["version"] for m in metas} == {dataset_dir.name}

    board = _leaderboard(tmp_path / "leaderboard.csv")
    assert set(board) == {*TRAINED, "sklearn baseline"}
    assert {board[name]["serializer"] for name in TRAINED[3:]} == {"xgboost", "lightgbm"}
    for name in TRAINED:
        assert float(board[name]["accuracy"]) >= 0.8, out
        assert float(board[name]["macro_f1"]) > float(board["sklearn baseline"]["macro_f1"])
    assert float(board["sklearn baseline"]["accuracy"]) < 0.5  # the majority class of three cultivars
    assert next(iter(board.values()))["rank"] in ("1", "1=")

    width, height = check_png(tmp_path / "leaderboard.png")
    assert width > height > 300
    best = re.search(r"best model: (.+) \(macro F1 ([\d.]+), accuracy ([\d.]+)\)(?:, tied with .*)?\n  (\S+)", out)
    assert best, out
    assert best.group(1) == next(iter(board)) and Path(best.group(4), "meta.json").is_file()
    assert f"leaderboard chart: {tmp_path / 'leaderboard.png'}" in out

    # The store's catalog, one self-contained file: every model and its framework, nothing fetched.
    catalog = (tmp_path / "catalog.html").read_text()
    assert f"catalog (leaderboard, curves, lineage, diffs; open it in a browser): {tmp_path / 'catalog.html'}" in out
    assert catalog.count('<section data-route="model/') == 6 and "<script src=" not in catalog
    for tag in ("keras", "mlp", "random-forest", "baseline"):
        assert f'<span class="tag">{tag}</span>' in catalog
    assert all(f'"framework":"{name}"' in catalog for name in ("keras", "torch", "sklearn"))

    # A fresh process that knows only the models' root ranks them the same way.
    root = tmp_path / "store" / "models" / "wine"
    again = run_example("mixed_frameworks/leaderboard.py", "--root", str(root), "--out", str(tmp_path / "again")).stdout
    rebuilt = _leaderboard(tmp_path / "again" / "leaderboard.csv")
    for name, row in board.items():
        assert (rebuilt[name]["accuracy"], rebuilt[name]["macro_f1"]) == (row["accuracy"], row["macro_f1"])
    assert f"best model: {best.group(1)} " in again or "tied with" in again


def test_leaderboard_imports_no_framework(script_imports: Callable[[str], set[str]]) -> None:
    assert not script_imports("mixed_frameworks/leaderboard.py") & (ML_FRAMEWORKS | {"trainers", "wine_data"})
