"""Ways to damage a committed version, as disks, careless scripts and newer releases do, each with
what the reason mlops gives for it says; and a small root holding one of each (for the catalog)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import fsspec

from mlops import VersionedDatasetBuilder
from sample_processors import CsvProcessor, write_raw

XSS_FOLDER = "<img src=x onerror=alert(1)>"
"""A legal folder name on local disks that must never reach a page unescaped."""


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return fs, path


def truncate_manifest(version: str) -> None:
    fs, path = _fs(version)
    data = fs.cat_file(f"{path}/manifest.jsonl")
    fs.pipe_file(f"{path}/manifest.jsonl", data[: len(data) // 2])


def remove_manifest(version: str) -> None:
    fs, path = _fs(version)
    fs.rm_file(f"{path}/manifest.jsonl")


def garbage_meta(version: str) -> None:
    fs, path = _fs(version)
    fs.pipe_file(f"{path}/meta.json", b'{"schema": 2, "kind": "data')


def unknown_schema(version: str) -> None:
    fs, path = _fs(version)
    meta = json.loads(fs.cat_file(f"{path}/meta.json"))
    fs.pipe_file(f"{path}/meta.json", json.dumps({**meta, "schema": 99}).encode())


def unreadable(version: str, name: str) -> None:
    """Make a local file impossible to open: a symbolic link to itself (reading fails with ELOOP;
    the tests run as root, whom file modes do not stop)."""
    os.remove(f"{version}/{name}")
    os.symlink(name, f"{version}/{name}")


@dataclass(frozen=True)
class Damage:
    """One way to damage a version."""

    apply: Callable[[str], None]
    reason: str
    """A part of the reason mlops gives."""
    in_meta: bool
    """Whether meta.json is what is damaged (listing reads meta.json only)."""
    local_only: bool = False


DAMAGES = {
    "truncated manifest": Damage(truncate_manifest, "does not match the sha256 recorded in meta.json", False),
    "missing manifest": Damage(remove_manifest, "the manifest manifest.jsonl of", False),
    "garbage meta.json": Damage(garbage_meta, "is not valid JSON", True),
    "unknown schema": Damage(unknown_schema, "schema 99 is not one this mlops reads", True),
    "unreadable meta.json": Damage(lambda v: unreadable(v, "meta.json"), "cannot read", True, local_only=True),
    "unreadable manifest": Damage(lambda v: unreadable(v, "manifest.jsonl"), "cannot read", False, local_only=True),
}


def build_damaged_store(folder: str) -> dict[str, str]:
    """A local root of dataset versions: ``v1`` intact, ``v1-copy`` a copy of its folder, and one
    damaged version per kind of damage (folders ``truncated``, ``missing``, ``unknown`` and
    :data:`XSS_FOLDER` with a garbage meta.json). Returns the root and each version's path."""
    root = os.path.join(folder, "datasets", "damaged")
    raw = write_raw(os.path.join(folder, "raw"), n=24)
    paths = {"root": root}
    for name in ("v1", "truncated", "missing", "unknown", XSS_FOLDER):
        paths[name] = VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, name)
    shutil.copytree(paths["v1"], os.path.join(root, "v1-copy"))
    paths["v1-copy"] = os.path.join(root, "v1-copy")
    truncate_manifest(paths["truncated"])
    remove_manifest(paths["missing"])
    unknown_schema(paths["unknown"])
    garbage_meta(paths[XSS_FOLDER])
    return paths
