"""The versions of Python and of the libraries that wrote a version (recorded in meta.json)."""

from __future__ import annotations

import functools
import platform
from importlib import metadata as importlib_metadata


def library_versions(*distributions: str) -> dict[str, str]:
    """Python's version and the installed versions of ``distributions`` (missing ones skipped)."""
    versions = {"python": platform.python_version()}
    for dist in distributions:
        version = installed_version(dist)
        if version is not None:
            versions[dist] = version
    return versions


@functools.cache
def installed_version(distribution: str) -> str | None:
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None
