"""Helpers for the example smoke tests: run an example script as a user would, check a PNG."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RunExample = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_example() -> RunExample:
    """``run_example("s3/s3_demo.py", "--out", dir, env={...}, unset="AWS_", expect=0)``: run a
    script under examples/ (or at an absolute path) with this interpreter, TensorFlow's C++ logging
    off, ``env`` added to the environment and variables starting with ``unset`` removed; check its
    exit status and return the finished process."""

    def run(
        script: str, *args: str, env: dict[str, str] | None = None, unset: str | None = None, expect: int = 0
    ) -> subprocess.CompletedProcess[str]:
        inherited = {k: v for k, v in os.environ.items() if not (unset and k.startswith(unset))}
        full_env = {**inherited, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script), *args],  # an absolute script path is kept as is
            capture_output=True,
            text=True,
            timeout=420,
            env=full_env,
        )
        assert result.returncode == expect, f"exit status {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    return run


@pytest.fixture
def check_png() -> Callable[[Path], tuple[int, int]]:
    """Assert that a file is a complete, decodable PNG image; return its (width, height)."""

    def check(path: Path) -> tuple[int, int]:
        from PIL import Image

        assert path.is_file(), f"{path} was not written"
        assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
        with Image.open(path) as image:
            image.load()  # decodes every pixel: fails on a truncated or corrupt file
            return image.size

    return check


def imported_modules(script: Path) -> set[str]:
    """Top-level names of the modules a script imports (anywhere in it), read from its source."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.fixture
def script_imports() -> Callable[[str], set[str]]:
    """The top-level modules a script under examples/ imports itself, read from its source (the
    plugins it uses may still import a framework when they load a model)."""
    return lambda script: imported_modules(EXAMPLES / script)
