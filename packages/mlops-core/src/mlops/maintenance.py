"""Kept for code written against the original layout: incomplete versions are found and removed by
:mod:`mlops.versions.incomplete`. New code imports these names from :mod:`mlops`."""

from mlops.versions.incomplete import IncompleteVersion, list_incomplete, remove_incomplete

__all__ = ["IncompleteVersion", "list_incomplete", "remove_incomplete"]
