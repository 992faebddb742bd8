"""Finding versions: what a publication root holds, the newest one, and the models of a dataset.

A publication root is the folder versions are published under (``s3://bucket/models/points``);
each complete version is a sub-folder holding ``meta.json``. Listing a root costs one listing call
of the root plus one concurrent batch of ``meta.json`` reads (concurrent on async stores such as
S3), whatever the number of versions; manifests are never read. Folders without ``meta.json`` are
incomplete versions and are never listed here: see :func:`mlops.versions.incomplete.list_incomplete`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlops.errors import NoVersionsError
from mlops.metadata import AnyRecord
from mlops.store import resolve
from mlops.versions import layout
from mlops.versions.aliases import locate_version
from mlops.versions.layout import FoundVersion, RootListing

__all__ = [
    "RootListing",
    "VersionInfo",
    "latest",
    "list_versions",
    "no_versions_message",
    "scan_root",
    "version_info",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionInfo:
    """One complete version, as its meta.json describes it (``size`` sums its files' sizes)."""

    version: str
    path: str
    kind: str
    name: str
    created_at: str
    tags: tuple[str, ...]
    hash: str
    size: int

    @classmethod
    def from_record(cls, record: AnyRecord, path: str) -> VersionInfo:
        """The summary of the parsed meta.json found at ``path``."""
        return cls(
            version=record.version,
            path=path,
            kind=record.kind,
            name=record.name,
            created_at=record.created_at,
            tags=record.tags,
            hash=record.hash,
            size=record.total_bytes,
        )

    @classmethod
    def of(cls, found: FoundVersion) -> VersionInfo:
        return cls.from_record(found.record, found.path)

    @property
    def folder(self) -> str:
        """The name of the version's folder: ``version`` unless the folder was copied or renamed."""
        return layout.folder_name(self.path)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, for ``mlops --json`` and scripts."""
        return {
            "version": self.version,
            "folder": self.folder,
            "path": self.path,
            "kind": self.kind,
            "name": self.name,
            "created_at": self.created_at,
            "tags": list(self.tags),
            "hash": self.hash,
            "size": self.size,
        }


def scan_root(root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> RootListing:
    """List the publication root ``root`` once and read every version's meta.json concurrently.

    Raises :class:`~mlops.errors.RootNotFoundError` when ``root`` does not exist and
    :class:`~mlops.errors.NoVersionsError` when ``root`` is itself a version or a file.
    """
    return layout.scan(resolve(root, storage_options))


def list_versions(
    path: str | os.PathLike[str],
    tags: Iterable[str] | str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> list[VersionInfo]:
    """The complete versions under the publication root ``path``, newest first (by ``created_at``).

    ``tags`` keeps only versions carrying every one of them (a single string is one tag).
    Incomplete versions are left out; :func:`mlops.versions.incomplete.list_incomplete` lists them.
    """
    wanted = _tag_set(tags)
    listing = scan_root(path, storage_options=storage_options)
    return [VersionInfo.of(found) for found in listing.versions if wanted <= set(found.record.tags)]


def latest(
    path: str | os.PathLike[str],
    tags: Iterable[str] | str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """The path of the newest complete version under ``path`` (carrying every tag in ``tags``).

    Raises :class:`~mlops.errors.NoVersionsError` when there is none.
    """
    listing = scan_root(path, storage_options=storage_options)
    wanted = _tag_set(tags)
    for found in listing.versions:
        if wanted <= set(found.record.tags):
            return found.path
    raise NoVersionsError(no_versions_message(listing, wanted))


def version_info(path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> VersionInfo:
    """The summary of the single version at ``path`` (a dataset or a model)."""
    loc = locate_version(path, storage_options)
    return VersionInfo.from_record(layout.read_record(loc), loc.url)


def no_versions_message(listing: RootListing, tags: set[str] | frozenset[str] = frozenset()) -> str:
    """Why ``listing`` offers no version, and what to do next (shared with the ``mlops`` tool)."""
    tagged = f" tagged {', '.join(sorted(tags))}" if tags else ""
    if listing.versions and tags:
        return f"no version under {listing.root}{tagged} ({len(listing.versions)} without those tags)"
    message = (
        f"no complete version under {listing.root}{tagged}: the path does not exist or holds no published "
        "version. A root is the folder given to publish(), e.g. s3://bucket/datasets/points"
    )
    if listing.incomplete:
        message += f" ({len(listing.incomplete)} incomplete: see `mlops ls --incomplete`)"
    if listing.unreadable:
        message += f" ({len(listing.unreadable)} damaged: their meta.json cannot be read)"
    if listing.other and not listing.versions:
        names = ", ".join(url.rstrip("/").rsplit("/", 1)[-1] for url in listing.other[:3])
        more = " ..." if len(listing.other) > 3 else ""
        message += f" (its folders: {names}{more}; pass one of them if it is a publication root)"
    return message


def _tag_set(tags: Iterable[str] | str | None) -> set[str]:
    if tags is None:
        return set()
    return {tags} if isinstance(tags, str) else set(tags)
