"""The environment a version was published from: ``environment/pylock.toml`` (PEP 751) and
``environment/python.json``, as typed records (pure: no I/O).

The lock lists every distribution installed in the publishing environment with its exact version
and what the installer recorded of its origin (PEP 610 ``direct_url.json``): a local directory
(``editable`` or not) with its path, an archive with its URL and hashes, a VCS checkout with its
commit. pip and uv keep no record of the file they downloaded from an index, so such
distributions carry their name and version only (PEP 751 asks a ``[[packages.wheels]]`` entry for
a hash, which nobody kept) and are reinstalled by version; the installer's name is kept under
``[packages.tool.mlops]``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mlops.errors import MetadataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENVIRONMENT_DIR = "environment"
LOCK_FILE = f"{ENVIRONMENT_DIR}/pylock.toml"
PYTHON_FILE = f"{ENVIRONMENT_DIR}/python.json"
ENVIRONMENT_FILES = (LOCK_FILE, PYTHON_FILE)

Source = Literal["index", "directory", "archive", "vcs"]


def normalize(name: str) -> str:
    """A distribution's normalized name (PEP 503): ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class PythonInfo:
    """The interpreter that published a version (``environment/python.json``)."""

    implementation: str
    """``cpython``, ``pypy``..."""
    version: str
    """``3.11.7``."""
    abi: str
    """The wheel ABI tag, e.g. ``cp311`` (``cp313t`` for a free-threaded build)."""
    platform: str
    """``sysconfig.get_platform()``, e.g. ``linux-x86_64``, ``macosx-14.0-arm64``."""
    machine: str
    """``platform.machine()``, e.g. ``x86_64``."""
    sys_platform: str = ""
    """``sys.platform``, e.g. ``linux``."""

    @property
    def minor(self) -> str:
        """``3.11``: the version by-value pickles are tied to."""
        return ".".join(self.version.split(".")[:2])

    def to_json(self) -> dict[str, str]:
        """The fields, in order (all strings)."""
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Any, where: str) -> PythonInfo:
        if not isinstance(obj, Mapping) or not all(
            isinstance(obj.get(key), str) for key in ("implementation", "version", "abi", "platform", "machine")
        ):
            raise MetadataError(f"{PYTHON_FILE} of {where} is malformed (implementation, version, abi, ...)")
        return cls(
            implementation=obj["implementation"],
            version=obj["version"],
            abi=obj["abi"],
            platform=obj["platform"],
            machine=obj["machine"],
            sys_platform=str(obj.get("sys_platform") or ""),
        )


@dataclass(frozen=True, kw_only=True)
class LockedDistribution:
    """One installed distribution: exact version and what is known of where it came from."""

    name: str
    """Normalized (PEP 503)."""
    version: str
    source: Source
    """``index`` (installed by version, origin file unrecorded), ``directory`` (a local source
    tree, see :attr:`editable`), ``archive`` (a wheel or sdist file or URL) or ``vcs``."""
    location: str | None = None
    """The directory's path, the archive's URL or path, the repository's URL."""
    editable: bool = False
    hashes: Mapping[str, str] = field(default_factory=dict)
    """The archive's hashes (``{"sha256": ...}``) when the installer recorded them."""
    vcs: str | None = None
    commit: str | None = None
    requested_revision: str | None = None
    subdirectory: str | None = None
    installer: str = ""
    """Who installed it (PEP 376 ``INSTALLER``: ``pip``, ``uv``...), empty when unknown."""

    @property
    def from_local_path(self) -> bool:
        """Whether it was installed from a path on the publishing machine (a source tree or a file)."""
        return self.source == "directory" or (
            self.source == "archive" and bool(self.location) and not _is_remote(self.location or "")
        )

    def requirement(self, location: str | None = None) -> str:
        """A line of a requirements file installing exactly this (``location`` overrides a local path)."""
        where = location or self.location or ""
        if self.source == "index":
            return f"{self.name}=={self.version}"
        if self.source == "directory":
            url = _file_url(where)
            return f"-e {url}" if self.editable else f"{self.name} @ {url}"
        if self.source == "archive":
            url = where if _is_remote(where) else _file_url(where)
            fragment = f"#sha256={self.hashes['sha256']}" if "sha256" in self.hashes and "#" not in url else ""
            return f"{self.name} @ {url}{fragment}"
        revision = f"@{self.commit}" if self.commit else ""
        sub = f"#subdirectory={self.subdirectory}" if self.subdirectory else ""
        return f"{self.name} @ {self.vcs or 'git'}+{where}{revision}{sub}"

    def describe(self) -> str:
        """``numpy 1.26.4`` with its origin when it is not an index: for messages and listings."""
        if self.source == "index":
            return f"{self.name} {self.version}"
        kind = "editable directory" if self.editable else self.source
        return f"{self.name} {self.version} ({kind} {self.location})"


@dataclass(frozen=True, kw_only=True)
class EnvironmentLock:
    """The environment a version was published from: the interpreter and every installed
    distribution (``VersionedDataset(p).environment``, ``VersionedModel(p).environment``)."""

    python: PythonInfo
    packages: tuple[LockedDistribution, ...]

    @property
    def python_version(self) -> str:
        """``3.11.7``."""
        return self.python.version

    @property
    def distributions(self) -> dict[str, str]:
        """``{distribution: version}`` of every installed distribution (normalized names)."""
        return {p.name: p.version for p in self.packages}

    def get(self, name: str) -> LockedDistribution | None:
        """The locked distribution named ``name`` (any spelling), or ``None``."""
        wanted = normalize(name)
        return next((p for p in self.packages if p.name == wanted), None)

    def to_requirements(self) -> str:
        """A pip/uv requirements file pinning every distribution to its exact version (local ones
        by path, editable ones with ``-e``), headed by the Python version it was made with."""
        lines = [
            f"# the environment of Python {self.python.version} ({self.python.implementation}, {self.python.platform})",
            *(p.requirement() for p in self.packages),
        ]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python.to_json(),
            "distributions": [
                {
                    "name": p.name,
                    "version": p.version,
                    "source": p.source,
                    "location": p.location,
                    "editable": p.editable,
                    "installer": p.installer,
                    **({"hashes": dict(p.hashes)} if p.hashes else {}),
                    **({"commit": p.commit} if p.commit else {}),
                }
                for p in self.packages
            ],
        }

    # --- the files ----------------------------------------------------------------------------------

    def to_pylock(self) -> str:
        """``pylock.toml`` (PEP 751), packages sorted by name, keys in the specification's order."""
        py = self.python
        marker = (
            f"implementation_name == {_q(py.implementation)} and python_full_version == {_q(py.version)}"
            + (f" and sys_platform == {_q(py.sys_platform)}" if py.sys_platform else "")
            + f" and platform_machine == {_q(py.machine)}"
        )
        out = [
            'lock-version = "1.0"',
            f"environments = [{_s(marker)}]",
            f"requires-python = {_s('==' + py.version)}",
            'created-by = "mlops"',
        ]
        for p in self.packages:
            out += ["", "[[packages]]", f"name = {_s(p.name)}", f"version = {_s(p.version)}"]
            if p.source == "directory":
                out.append(f"directory = {_table(path=p.location, editable=p.editable, subdirectory=p.subdirectory)}")
            elif p.source == "archive":
                key = "url" if _is_remote(p.location or "") else "path"
                archive = _table(**{key: p.location}, hashes=dict(p.hashes), subdirectory=p.subdirectory)
                out.append(f"archive = {archive}")
            elif p.source == "vcs":
                out.append(
                    "vcs = "
                    + _table(
                        type=p.vcs or "git",
                        url=p.location,
                        **{"requested-revision": p.requested_revision, "commit-id": p.commit or ""},
                        subdirectory=p.subdirectory,
                    )
                )
            if p.installer:
                out.append(f"tool = {{ mlops = {_table(installer=p.installer)} }}")
        return "\n".join(out) + "\n"

    def python_json(self) -> str:
        return json.dumps(self.python.to_json(), indent=2) + "\n"

    @classmethod
    def parse(cls, lock: bytes, python: bytes, where: str) -> EnvironmentLock:
        """The records of a version's ``pylock.toml`` and ``python.json`` (a :class:`MetadataError`
        naming the file when either is malformed)."""
        try:
            info = PythonInfo.from_json(json.loads(python), where)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MetadataError(f"{PYTHON_FILE} of {where} is not valid JSON: {exc}") from exc
        try:
            doc = tomllib.loads(lock.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise MetadataError(f"{LOCK_FILE} of {where} is not valid TOML: {exc}") from exc
        if not str(doc.get("lock-version", "")).startswith("1.") or not isinstance(doc.get("packages"), list):
            raise MetadataError(f"{LOCK_FILE} of {where} is not a PEP 751 lock of version 1.x")
        try:
            packages = tuple(_package(p) for p in doc["packages"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise MetadataError(f"{LOCK_FILE} of {where} has a malformed package entry ({exc!r})") from exc
        return cls(python=info, packages=packages)


def _package(p: Mapping[str, Any]) -> LockedDistribution:
    tool = p.get("tool", {}).get("mlops", {})
    common: dict[str, Any] = {
        "name": normalize(str(p["name"])),
        "version": str(p.get("version", "")),
        "installer": str(tool.get("installer", "")),
    }
    for source, fields_of in _SOURCE_FIELDS.items():
        if source in p:
            table = p[source]
            return LockedDistribution(
                **common, source=source, **fields_of(table), subdirectory=table.get("subdirectory")
            )
    return LockedDistribution(**common, source="index")


def _directory_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"location": str(d["path"]), "editable": bool(d.get("editable", False))}


def _archive_fields(a: Mapping[str, Any]) -> dict[str, Any]:
    return {"location": str(a.get("url") or a.get("path")), "hashes": dict(a.get("hashes", {}))}


def _vcs_fields(v: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "location": str(v.get("url") or v.get("path")),
        "vcs": str(v["type"]),
        "commit": v.get("commit-id"),
        "requested_revision": v.get("requested-revision"),
    }


_SOURCE_FIELDS: dict[Source, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "directory": _directory_fields,
    "archive": _archive_fields,
    "vcs": _vcs_fields,
}
"""A package's source table in pylock.toml -> the fields of :class:`LockedDistribution` it gives
(besides the subdirectory, which every source table may have)."""


def _is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file:")


def _file_url(path: str) -> str:
    if path.startswith("file:"):
        return path
    from pathlib import PurePosixPath, PureWindowsPath

    if re.match(r"^[A-Za-z]:[\\/]", path):
        return PureWindowsPath(path).as_uri()
    return PurePosixPath(path).as_uri() if path.startswith("/") else path


def _s(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _q(text: str) -> str:
    """A quoted string inside a PEP 508 marker."""
    return "'" + text.replace("'", "") + "'"


def _table(**items: Any) -> str:
    """A TOML inline table of the non-None ``items`` (strings, booleans, or tables of strings)."""
    parts = []
    for key, value in items.items():
        if value is None:
            continue
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, dict):
            rendered = _table(**value)
        else:
            rendered = _s(str(value))
        parts.append(f"{key} = {rendered}")
    return "{ " + ", ".join(parts) + " }" if parts else "{}"
