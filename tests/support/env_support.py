"""Small virtual environments for the environment tests: a publisher on one Python (numpy,
scikit-learn, mlops-core and mlops-sklearn from this checkout, not editable) and hosts on other
Pythons (mlops-core with its env extra only), built with uv from its cache."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlops.envs.build import python_of, uv_binary
from mlops.envs.interpreters import find_interpreter

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER_PYTHON = "3.11"
HOST_PYTHONS = ("3.12", "3.13")


def interpreter(minor: str) -> str:
    """An installed interpreter of ``minor``; the test is skipped, saying so, where there is none."""
    found = find_interpreter(f"{minor}.0")
    if found is None:
        pytest.skip(f"no Python {minor} interpreter on this machine (pyenv versions, PATH)")
    return found


def clean_env() -> dict[str, str]:
    """This process's environment without what would make another interpreter import this checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def make_venv(folder: Path, minor: str, *requirements: str) -> str:
    """A virtual environment of Python ``minor`` at ``folder`` holding ``requirements``; its python."""
    uv = uv_binary()
    subprocess.run([uv, "venv", "--quiet", "--python", interpreter(minor), str(folder)], check=True, env=clean_env())
    python = python_of(folder)
    subprocess.run([uv, "pip", "install", "--quiet", "--python", python, *requirements], check=True, env=clean_env())
    return python


def publisher(folder: Path) -> str:
    return make_venv(
        folder,
        PUBLISHER_PYTHON,
        "numpy",
        "scikit-learn",
        str(ROOT / "packages" / "mlops-core"),
        str(ROOT / "packages" / "mlops-sklearn"),
    )


def host(folder: Path, minor: str) -> str:
    return make_venv(folder, minor, f"{ROOT / 'packages' / 'mlops-core'}[env]")
