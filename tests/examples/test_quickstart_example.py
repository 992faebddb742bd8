"""The quickstart example runs end to end, on local disk and against the S3 server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "quickstart" / "quickstart.py"


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart_runs_locally(tmp_path: Path) -> None:
    out = _run("--out", str(tmp_path))
    assert "published dataset tumors" in out and "published model" in out
    # scikit-learn's last five breast-cancer rows are four malignant tumours and one benign one.
    assert "predictions for the new patients: malignant, malignant, malignant, malignant, benign" in out
    assert any((tmp_path / "store" / "models" / "tumors").iterdir())


def test_quickstart_runs_against_s3(tmp_path: Path, s3_bucket: str) -> None:
    out = _run("--out", str(tmp_path), "--store", f"{s3_bucket}/demo")
    assert f"at {s3_bucket}/demo/models/tumors/" in out
    assert "predictions for the new patients:" in out
