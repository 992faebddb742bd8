"""Expensive read-only fixtures built once per test run, also when pytest-xdist runs the tests in
several worker processes (each of which has its own session)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock


def once_per_run(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Any]) -> Any:
    """``build(folder)`` in an empty ``folder``, once per run; returns what it returned (JSON data).

    Under pytest-xdist the folder is in the run's temporary folder, which the workers share: the
    first worker to get here builds, the others wait for it, then read the same files and result.
    What is built must stay as built: no test may change it.
    """
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's basetemp is a folder of the run's own
    folder, result = base / f"once-{name}", base / f"once-{name}.json"
    with FileLock(str(base / f"once-{name}.lock")):
        if not result.is_file():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left: the next one starts afresh
            folder.mkdir()
            value = build(folder)
            result.write_text(json.dumps(value))
    return json.loads(result.read_text())
