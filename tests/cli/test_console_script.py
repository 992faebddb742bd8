"""The ``mlops`` command as users start it: the installed console script and ``python -m mlops``,
each a real process. Only what a process shows is tested here (the entry points, the one-line error
or the traceback on stderr, logging, Python warnings as ``mlops: warning:`` lines); the commands
themselves are tested in this process through CliRunner (test_cli.py and the others)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops.trust.keys import generate_key_pair


def mlops(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mlops ARGS`` in a fresh process (progress bars off, output captured)."""
    env = dict(os.environ, MLOPS_PROGRESS="0")
    return subprocess.run([sys.executable, "-m", "mlops", *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_console_script_and_python_m_mlops() -> None:
    script = shutil.which("mlops") or str(Path(sys.executable).parent / "mlops")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Usage: mlops [OPTIONS] COMMAND [ARGS]...")
    assert "  verify " in result.stdout and "  republish " in result.stdout and "  ui " in result.stdout
    version = mlops("--version")
    assert (version.returncode, version.stdout, version.stderr) == (0, "mlops, version 0.1.0\n", "")


def test_a_failure_is_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    failed = mlops("ls", str(tmp_path / "nothing"))
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith("mlops: error: ") and failed.stderr.count("\n") == 1, failed.stderr

    debugged = mlops("--debug", "ls", str(tmp_path / "nothing"))
    assert debugged.returncode == 1 and "Traceback" in debugged.stderr and "RootNotFoundError" in debugged.stderr

    usage = mlops("ls")
    assert usage.returncode == 2 and "Missing argument 'ROOT'" in usage.stderr


def test_verbose_logs_to_stderr(tmp_path: Path, publish_dataset: Any) -> None:
    original = publish_dataset(str(tmp_path / "points"), "v1")

    quiet = mlops("republish", original, str(tmp_path / "a"))
    loud = mlops("-v", "republish", original, str(tmp_path / "b"))

    assert quiet.returncode == loud.returncode == 0 and quiet.stderr == ""
    assert "mlops.versions.republish: INFO: republishing " in loud.stderr and "DEBUG" not in loud.stderr
    assert "copied raw/data.csv" in mlops("-vv", "republish", original, str(tmp_path / "c")).stderr


def test_a_python_warning_is_one_line_on_stderr(
    tmp_path: Path, publish_dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, _ = generate_key_pair(str(tmp_path / "team"))
    monkeypatch.setenv("MLOPS_SIGNING_KEY", private)
    signed = publish_dataset(str(tmp_path / "points"), "v1")
    monkeypatch.delenv("MLOPS_SIGNING_KEY")  # the copy under another name: no key to sign it, warned

    renamed = mlops("republish", signed, str(tmp_path / "copy"), "--version", "v2")

    assert renamed.returncode == 0 and renamed.stdout.strip() == str(tmp_path / "copy" / "v2")
    assert renamed.stderr.startswith("mlops: warning: ") and renamed.stderr.count("\n") == 1, renamed.stderr
    assert "signing_key=" in renamed.stderr
