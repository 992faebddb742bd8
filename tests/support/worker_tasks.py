"""Functions that tests run in worker processes: importable by name there (tests/support is on the
path of every process the tests start), unlike functions of the test modules themselves."""

from __future__ import annotations

import os
from typing import Any


def rows_in_child(tensors: Any, index: list[int]) -> tuple[int, list[Any], list[Any]]:
    """``tensors.rows(index)`` computed in this (worker) process, with its pid, as plain lists."""
    first, *rest = tensors.rows(index)
    return os.getpid(), first.tolist(), [array.tolist() for array in rest]
