"""Kept for code written against the original layout: a version is removed by
:mod:`mlops.versions.removal`. New code imports these names from :mod:`mlops`."""

from mlops.versions.removal import RemovedVersion, remove_version

__all__ = ["RemovedVersion", "remove_version"]
