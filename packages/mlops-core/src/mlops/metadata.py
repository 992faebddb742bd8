"""meta.json: the plain, documented JSON record that makes a folder a version.

Common fields of every version (datasets and models)::

    schema       int    format version of this file (currently 1)
    kind         str    "dataset" or "model"
    name         str    human name of the artifact (defaults to the publication root's folder name)
    version      str    the version folder's name
    created_at   str    ISO 8601 publication time
    tags         [str]
    hash         str    sha256 content hash: same content -> same hash, on any store
    files        {relpath: {"sha256": str, "size": int}}   every stored file but meta.json
    libraries    {name: version}   versions of Python and of the libraries that wrote the files

Datasets add ``tensors``, ``raw`` and ``processor``; models add ``serializer``, ``training`` and
``dataset`` (see the builders). Readers validate everything they use and never follow a manifest path
out of the version folder.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import platform
import posixpath
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from typing import Any

from mlops.errors import IncompleteVersionError, MetadataError, VersionNotFoundError
from mlops.storage import TMP_PREFIX, FileEntry, Location, Publisher, store_errors

SCHEMA_VERSION = 1
META_FILE = "meta.json"
CLAIM_FILE = ".mlops-publishing"
"""Written create-only before any data of a version; removed once meta.json is committed."""


def content_hash(kind: str, entries: Mapping[str, FileEntry], extra: Mapping[str, Any] | None = None) -> str:
    """The sha256 identifying a version's content: its kind, the (relpath, sha256) of its content
    files, and ``extra`` identity fields, in a canonical order. Timestamps, tags and names are left
    out so the same content gives the same hash whatever and wherever it is published."""
    sha = hashlib.sha256()
    sha.update(f"mlops-{kind}-v{SCHEMA_VERSION}\n".encode())
    for relpath in sorted(entries):
        sha.update(f"{relpath}\0{entries[relpath].sha256}\n".encode())
    if extra:
        sha.update(json.dumps(extra, sort_keys=True, separators=(",", ":")).encode())
    return sha.hexdigest()


def dumps(meta: Mapping[str, Any]) -> bytes:
    """Serialise meta.json: strict JSON (no NaN), stable key order, human-readable."""
    try:
        return (json.dumps(meta, indent=2, allow_nan=False) + "\n").encode()
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"metadata cannot be stored as JSON: {exc}") from exc


def check_json(value: Any, what: str) -> Any:
    """Return ``value`` converted to plain JSON types (numpy scalars/arrays become numbers/lists);
    raise a :class:`MetadataError`-family error naming ``what`` when that is impossible."""
    converted = _to_json(value, what)
    try:
        json.dumps(converted, allow_nan=False)
    except (TypeError, ValueError) as exc:  # pragma: no cover - _to_json already checks
        raise MetadataError(f"{what} cannot be stored as JSON: {exc}") from exc
    return converted


def _to_json(value: Any, what: str) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MetadataError(f"{what} holds {value!r}, which JSON cannot store; replace it (e.g. with None)")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MetadataError(f"{what} has a non-string key {key!r}; JSON keys must be strings")
            out[key] = _to_json(item, f"{what}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(item, f"{what}[{i}]") for i, item in enumerate(value)]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if callable(tolist) and type(value).__module__ == "numpy":
        return _to_json(tolist(), what)
    raise MetadataError(
        f"{what} holds a {type(value).__module__}.{type(value).__qualname__}, which JSON cannot "
        "store; convert it to numbers, strings, lists or dicts"
    )


def library_versions(*distributions: str) -> dict[str, str]:
    """Python's version and the installed versions of ``distributions`` (missing ones skipped)."""
    versions = {"python": platform.python_version()}
    for dist in distributions:
        version = _installed_version(dist)
        if version is not None:
            versions[dist] = version
    return versions


@functools.cache
def _installed_version(distribution: str) -> str | None:
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def read_meta(publisher: Publisher, loc: Location, kind: str) -> dict[str, Any]:
    """Read and validate the meta.json of the version at ``loc``.

    Raises :class:`VersionNotFoundError` when nothing is there, :class:`IncompleteVersionError`
    when a publish started but never committed, :class:`MetadataError` when the file is damaged
    or describes something else.
    """
    try:
        raw = publisher.read_bytes(loc.child(META_FILE))
    except (FileNotFoundError, IsADirectoryError):
        if is_incomplete(publisher, loc):
            raise IncompleteVersionError(
                f"{loc.url} is an incomplete version (a publish started there and has not committed: it is "
                "still running or it crashed). Wait for the publish to finish, or, if no publish is running, "
                "remove it with mlops.remove_incomplete(ROOT) or `mlops clean ROOT` and publish again."
            ) from None
        if publisher.exists(loc):
            raise VersionNotFoundError(
                f"{loc.url} is not a published {kind} version (it has no meta.json). If it is the folder "
                "versions were published under, pass one of its versions (ROOT/VERSION; `mlops ls ROOT` lists "
                "them); if a failed publish left it, `mlops clean` on its parent removes it."
            ) from None
        raise VersionNotFoundError(
            f"no {kind} version at {loc.url}: the path does not exist. Check the path; a version "
            "path is the publication root followed by the version, e.g. s3://bucket/datasets/v1"
        ) from None
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{loc.child(META_FILE).url} is not valid JSON: {exc}") from exc
    return validate_meta(meta, kind, loc.url)


def is_incomplete(publisher: Publisher, loc: Location) -> bool:
    """Whether ``loc`` holds a publish that started and never committed: no meta.json, and either
    the claim or, when a publisher died while creating its claim, only that claim's temporary file."""
    if publisher.exists(loc.child(META_FILE)):
        return False
    if publisher.exists(loc.child(CLAIM_FILE)):
        return True
    try:
        with store_errors(loc, "list"):
            names = [posixpath.basename(p.rstrip("/")) for p in loc.fs.ls(loc.path, detail=False)]
    except (FileNotFoundError, NotADirectoryError):
        return False
    return bool(names) and all(name.startswith(TMP_PREFIX) for name in names)


def validate_meta(meta: Any, kind: str, where: str) -> dict[str, Any]:
    """Check the fields every reader relies on; raise :class:`MetadataError` naming the first bad one."""
    if not isinstance(meta, dict):
        raise MetadataError(f"meta.json at {where} must hold a JSON object")
    schema = meta.get("schema")
    if schema != SCHEMA_VERSION:
        raise MetadataError(
            f"meta.json at {where} has schema {schema!r}; this mlops reads schema {SCHEMA_VERSION}. "
            "Upgrade mlops-core if the version was written by a newer release."
        )
    if meta.get("kind") != kind:
        raise MetadataError(f"{where} holds a {meta.get('kind')!r}, not a {kind}")
    for key in ("name", "version", "created_at", "hash"):
        if not isinstance(meta.get(key), str):
            raise MetadataError(f"meta.json at {where}: {key!r} must be a string")
    tags = meta.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise MetadataError(f"meta.json at {where}: 'tags' must be a list of strings")
    libraries = meta.get("libraries")
    if not isinstance(libraries, dict) or not all(isinstance(v, str) for v in libraries.values()):
        raise MetadataError(f"meta.json at {where}: 'libraries' must map names to version strings")
    files = meta.get("files")
    if not isinstance(files, dict):
        raise MetadataError(f"meta.json at {where}: 'files' must be an object")
    for relpath, entry in files.items():
        safe_relpath(relpath, where)
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or len(entry["sha256"]) != 64
            or not isinstance(entry.get("size"), int)
            or isinstance(entry.get("size"), bool)
            or entry["size"] < 0
        ):
            raise MetadataError(f"meta.json at {where}: manifest entry for {relpath!r} is malformed")
    return meta


def safe_relpath(relpath: Any, where: str) -> str:
    """``relpath`` if it stays inside the version folder; otherwise a :class:`MetadataError`."""
    if (
        not isinstance(relpath, str)
        or not relpath
        or "\\" in relpath
        or "\0" in relpath
        or relpath.startswith("/")
        or any(part in ("", ".", "..") for part in relpath.split("/"))
        or posixpath.normpath(relpath) != relpath
        or relpath == META_FILE
    ):
        raise MetadataError(f"meta.json at {where} names an unsafe file path {relpath!r}; refusing to read it")
    return relpath


def manifest(meta: Mapping[str, Any]) -> dict[str, FileEntry]:
    """The validated manifest of a meta.json as :class:`FileEntry` objects."""
    return {rel: FileEntry(e["sha256"], e["size"]) for rel, e in meta["files"].items()}
