"""Kept for code written against the original layout: comparing two versions now lives in
:mod:`mlops.model.compare`."""

from mlops.model.compare import compare

__all__ = ["compare"]
