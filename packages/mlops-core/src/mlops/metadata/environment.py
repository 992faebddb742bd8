"""The environment this process runs in: Python, the installed distributions and what their
installer recorded of their origin, read from ``importlib.metadata`` (neither pip nor uv is run).

:func:`current_environment` is what every publish records (``environment/pylock.toml`` and
``environment/python.json``, see :mod:`mlops.metadata.pylock`); it is read once per process.
:func:`differences` compares a recorded environment with this one, the distributions that matter
for a version first.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from mlops.metadata.pylock import EnvironmentLock, LockedDistribution, PythonInfo, normalize


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


# --- this environment ---------------------------------------------------------------------------------


@functools.cache
def current_python() -> PythonInfo:
    """The running interpreter."""
    implementation = sys.implementation.name
    version = platform.python_version()
    return PythonInfo(
        implementation=implementation,
        version=version,
        abi=_abi_tag(),
        platform=sysconfig.get_platform(),
        machine=platform.machine(),
        sys_platform=sys.platform,
    )


def _abi_tag() -> str:
    """The wheel ABI tag of this interpreter: ``cp311``, ``cp313t`` (free-threaded), ``pypy310_pp73``..."""
    if sys.implementation.name == "cpython":
        threading = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
        debug = "d" if hasattr(sys, "gettotalrefcount") else ""
        return f"cp{sys.version_info.major}{sys.version_info.minor}{threading}{debug}"
    soabi = sysconfig.get_config_var("SOABI")
    if isinstance(soabi, str) and soabi:
        return "_".join(soabi.split("-")[:2]).replace(".", "_")
    return sys.implementation.cache_tag or sys.implementation.name


@functools.cache
def current_environment() -> EnvironmentLock:
    """This process's environment: the interpreter and every distribution on ``sys.path`` (the
    first found of each name, as imports resolve them), sorted by name. Read once per process."""
    found: dict[str, LockedDistribution] = {}
    for dist in importlib_metadata.distributions():
        quick = _name_from_folder(dist)
        if quick in found:  # shadowed by one earlier on sys.path: not what imports get
            continue
        name, version = _name_and_version(dist)
        if name and name not in found:
            found[name] = _locked(dist, name, version)
    return EnvironmentLock(python=current_python(), packages=tuple(found[name] for name in sorted(found)))


@functools.cache
def environment_files() -> dict[str, bytes]:
    """The bytes of ``environment/pylock.toml`` and ``environment/python.json`` for this process."""
    from mlops.metadata.pylock import LOCK_FILE, PYTHON_FILE

    env = current_environment()
    return {LOCK_FILE: env.to_pylock().encode(), PYTHON_FILE: env.python_json().encode()}


def _name_from_folder(dist: importlib_metadata.Distribution) -> str:
    """The normalized name in a ``.dist-info``/``.egg-info`` folder's name (``""`` when it has none)."""
    stem = getattr(getattr(dist, "_path", None), "name", "")
    if not isinstance(stem, str):
        return ""
    for suffix in (".dist-info", ".egg-info"):
        if stem.endswith(suffix):
            return normalize(stem[: -len(suffix)].split("-", 1)[0])
    return ""


def _name_and_version(dist: importlib_metadata.Distribution) -> tuple[str, str]:
    """The normalized name and the version of ``dist``: from its ``NAME-VERSION.dist-info`` folder's
    name when it has one (as installers write it: no file to parse), else from its metadata."""
    folder = getattr(dist, "_path", None)
    stem = getattr(folder, "name", "")
    if isinstance(stem, str) and stem.endswith(".dist-info") and stem.count("-") == 2:
        name, version = stem[: -len(".dist-info")].split("-")
        return normalize(name), version
    try:
        name, version = dist.metadata["Name"], dist.version
    except Exception:  # noqa: BLE001 - a broken distribution is left out, not a failed publish
        return "", ""
    return (normalize(name), version or "") if isinstance(name, str) and name else ("", "")


def _locked(dist: importlib_metadata.Distribution, name: str, version: str) -> LockedDistribution:
    present = _files_in(dist)
    installer = (dist.read_text("INSTALLER") or "").strip() if "INSTALLER" in present else ""
    common: dict[str, Any] = {"name": name, "version": version, "installer": installer}
    direct = _direct_url(dist, present)
    if direct is None:
        tree = None if installer else _source_tree(dist)
        if tree is not None:  # a source tree on sys.path (PYTHONPATH, setup.py develop): live code
            return LockedDistribution(**common, source="directory", location=tree, editable=True)
        return LockedDistribution(**common, source="index")
    url = str(direct.get("url", ""))
    location = _path_of(url)
    subdirectory = direct.get("subdirectory") if isinstance(direct.get("subdirectory"), str) else None
    if isinstance(direct.get("dir_info"), Mapping):
        editable = bool(direct["dir_info"].get("editable", False))
        return LockedDistribution(
            **common, source="directory", location=location, editable=editable, subdirectory=subdirectory
        )
    if isinstance(direct.get("vcs_info"), Mapping):
        vcs = direct["vcs_info"]
        return LockedDistribution(
            **common,
            source="vcs",
            location=url,
            vcs=str(vcs.get("vcs", "git")),
            commit=vcs.get("commit_id"),
            requested_revision=vcs.get("requested_revision"),
            subdirectory=subdirectory,
        )
    archive: Mapping[str, Any] = direct["archive_info"] if isinstance(direct.get("archive_info"), Mapping) else {}
    hashes = {str(k): str(v) for k, v in dict(archive.get("hashes") or {}).items()}
    legacy = archive.get("hash")
    if not hashes and isinstance(legacy, str) and "=" in legacy:
        algorithm, _, value = legacy.partition("=")
        hashes = {algorithm: value}
    return LockedDistribution(**common, source="archive", location=location, hashes=hashes, subdirectory=subdirectory)


def _source_tree(dist: importlib_metadata.Distribution) -> str | None:
    """The project folder of a distribution whose ``.egg-info`` sits in a source tree (no installer
    wrote it): the nearest folder above holding a ``pyproject.toml`` or ``setup.py``."""
    folder = getattr(dist, "_path", None)
    if not isinstance(folder, Path) or not folder.name.endswith(".egg-info"):
        return None
    if folder.parent.name in ("site-packages", "dist-packages"):
        return None
    for candidate in (folder.parent, folder.parent.parent):
        if (candidate / "pyproject.toml").is_file() or (candidate / "setup.py").is_file():
            return str(candidate)
    return None


def _files_in(dist: importlib_metadata.Distribution) -> _Names:
    """The names of the files in the distribution's metadata folder (one listing instead of a
    failed open per missing file); every name when it cannot be listed."""
    folder = getattr(dist, "_path", None)
    try:
        return set(os.listdir(folder)) if isinstance(folder, Path) else _EVERY
    except OSError:
        return _EVERY


class _Every:
    def __contains__(self, name: object) -> bool:
        return True


_EVERY = _Every()
_Names = set[str] | _Every


def _direct_url(dist: importlib_metadata.Distribution, present: _Names) -> Mapping[str, Any] | None:
    """PEP 610's ``direct_url.json`` (or PEP 710's ``provenance_url.json``), when the installer wrote one."""
    for file in ("direct_url.json", "provenance_url.json"):
        text = dist.read_text(file) if file in present else None
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, Mapping) and isinstance(data.get("url"), str):
                if file == "provenance_url.json":  # an index download: its file and hashes, not a direct URL
                    return {"url": data["url"], "archive_info": data.get("archive_info", {})}
                return data
    return None


def _path_of(url: str) -> str:
    """A ``file://`` URL as a local path; any other URL unchanged."""
    if url.startswith("file:"):
        path = unquote(urlparse(url).path)
        if sys.platform == "win32" and path.startswith("/") and path[2:3] == ":":
            path = path[1:]
        return path
    return url


# --- comparing environments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One distribution (or Python itself) whose version differs between a recorded environment and this one."""

    name: str
    recorded: str | None
    """The recorded version; ``None``: it was not installed then."""
    current: str | None
    """The version here; ``None``: it is not installed here."""
    why: str | None = None
    """Why it matters for the version (``"Python minor"``, ``"the serializer's framework"``...),
    ``None`` when it does not."""

    @property
    def matters(self) -> bool:
        return self.why is not None

    def describe(self) -> str:
        """``numpy 1.26.4 (recorded) != 2.1.0 (here)``."""
        return f"{self.name} {self.recorded or 'not installed'} (recorded) != {self.current or 'not installed'} (here)"


def differences(
    recorded: EnvironmentLock,
    current: EnvironmentLock | None = None,
    *,
    framework: Iterable[str] = (),
    referenced: Iterable[str] = (),
) -> list[Difference]:
    """What differs between ``recorded`` and ``current`` (default: this process's environment), the
    distributions that matter first: the Python minor version, ``framework`` (the serializer's
    distributions), numpy, then ``referenced`` (distributions whose modules the version's pickles
    name); the rest after, by name."""
    here = current if current is not None else current_environment()
    why: dict[str, str] = {}
    for name in referenced:
        why[normalize(name)] = "its modules are referenced by the version's pickles"
    why["numpy"] = "numpy"
    for name in framework:
        why[normalize(name)] = "the serializer's framework"
    ranks = {"the serializer's framework": 1, "numpy": 2}
    found: list[Difference] = []
    if recorded.python.minor != here.python.minor:
        found.append(Difference("python", recorded.python.version, here.python.version, "Python minor"))
    elif recorded.python.version != here.python.version:
        found.append(Difference("python", recorded.python.version, here.python.version))
    old, new = recorded.distributions, here.distributions
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            found.append(Difference(name, old.get(name), new.get(name), why.get(name)))
    order = {"Python minor": 0, **ranks}
    return sorted(found, key=lambda d: (order.get(d.why, 3) if d.why else 4, d.name != "python", d.name))


@functools.cache
def module_distributions() -> Mapping[str, tuple[str, ...]]:
    """``{top-level module: (normalized distribution names...)}`` of this environment."""
    return {
        module: tuple(sorted({normalize(d) for d in dists}))
        for module, dists in importlib_metadata.packages_distributions().items()
    }


def distributions_of(modules: Iterable[str]) -> set[str]:
    """The installed distributions providing the (dotted) ``modules``."""
    mapping = module_distributions()
    found: set[str] = set()
    for module in modules:
        found.update(mapping.get(module.split(".", 1)[0], ()))
    return found
