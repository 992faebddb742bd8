"""How much a publication root holds: each version's bytes, the bytes only it holds, and the
distinct bytes of the whole root (what deduplicated publishing stores on a local disk)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mlops import layout
from mlops.concurrency import concurrently
from mlops.store import FileEntry, resolve


@dataclass(frozen=True)
class VersionUsage:
    """One version's share of its root."""

    version: str
    path: str
    files: int
    bytes: int
    """The size of its data files, as a tool copying the folder would count it."""
    unique_bytes: int
    """Bytes of the files no other version of the root holds: what removing it frees on a local disk."""


@dataclass(frozen=True)
class RootUsage:
    """Every version of a root, newest first, and the root's totals."""

    root: str
    versions: list[VersionUsage]
    bytes: int
    """The sum of the versions' bytes (what the root would hold without deduplication)."""
    distinct_bytes: int
    """The bytes of the distinct file contents (sha256, size) in the root."""


def disk_usage(root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> RootUsage:
    """Per-version and unique bytes of the committed versions under ``root``, from their manifests
    (every manifest of the root is read, concurrently). Bookkeeping files (meta.json, manifest,
    signature) are not counted. Files are matched by content: on local disks deduplicated files are
    hard links, so ``distinct_bytes`` is what the data takes on disk; object stores keep each
    server-side copy as its own object, so there the root stores ``bytes``."""
    loc = resolve(root, storage_options)
    found = layout.scan(loc).versions
    folders = [loc.child(v.path.rstrip("/").rsplit("/", 1)[-1]) for v in found]
    manifests = concurrently(
        lambda item: layout.read_manifest(item[0], item[1].record),
        list(zip(folders, found, strict=True)),
        workers=loc.store.transfer_workers,
    )
    holders: Counter[FileEntry] = Counter()
    for files in manifests:
        holders.update(set(files.values()))
    versions = [
        VersionUsage(
            version=v.record.version,
            path=v.path,
            files=len(files),
            bytes=sum(e.size for e in files.values()),
            unique_bytes=sum(e.size for e in set(files.values()) if holders[e] == 1),
        )
        for v, files in zip(found, manifests, strict=True)
    ]
    return RootUsage(
        root=loc.url,
        versions=versions,
        bytes=sum(v.bytes for v in versions),
        distinct_bytes=sum(entry.size for entry in holders),
    )
