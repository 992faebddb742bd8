"""How much a publication root holds: each version's bytes, the bytes only it holds, and the
distinct bytes of the whole root (what deduplicated publishing stores on a local disk)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mlops.errors import MlopsError
from mlops.store import FileEntry, Location, resolve
from mlops.utils.concurrency import concurrently
from mlops.versions import layout


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
    folder: str = ""
    """The name of its folder: ``version`` unless the folder was copied or renamed."""


@dataclass(frozen=True)
class RootUsage:
    """Every version of a root, newest first, and the root's totals."""

    root: str
    versions: list[VersionUsage]
    bytes: int
    """The sum of the versions' bytes (what the root would hold without deduplication)."""
    distinct_bytes: int
    """The bytes of the distinct file contents (sha256, size) in the root."""
    damaged: dict[str, str] = field(default_factory=dict)
    """Versions whose meta.json or manifest cannot be read or validated (path -> reason): not
    counted in the totals (and the files they share with others count as the others' own)."""


def disk_usage(root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> RootUsage:
    """Per-version and unique bytes of the committed versions under ``root``, from their manifests
    (every manifest of the root is read, concurrently). Bookkeeping files (meta.json, manifest,
    signature) are not counted. Files are matched by content: on local disks deduplicated files are
    hard links, so ``distinct_bytes`` is what the data takes on disk; object stores keep each
    server-side copy as its own object, so there the root stores ``bytes``. A damaged version is
    left out of the counts and named in ``damaged`` with the reason (``mlops verify`` checks it)."""
    loc = resolve(root, storage_options)
    listing = layout.scan(loc)
    manifests = concurrently(
        lambda found: _manifest(loc.child(found.folder), found),
        listing.versions,
        workers=loc.store.transfer_workers,
    )
    damaged = dict(listing.unreadable)
    readable: list[tuple[layout.FoundVersion, dict[str, FileEntry]]] = []
    for found, files in zip(listing.versions, manifests, strict=True):
        if isinstance(files, str):
            damaged[found.path] = files
        else:
            readable.append((found, files))
    holders: Counter[FileEntry] = Counter()
    for _, files in readable:
        holders.update(set(files.values()))
    versions = [
        VersionUsage(
            version=v.record.version,
            path=v.path,
            files=len(files),
            bytes=sum(e.size for e in files.values()),
            unique_bytes=sum(e.size for e in set(files.values()) if holders[e] == 1),
            folder=v.folder,
        )
        for v, files in readable
    ]
    return RootUsage(
        root=loc.url,
        versions=versions,
        bytes=sum(v.bytes for v in versions),
        distinct_bytes=sum(entry.size for entry in holders),
        damaged=damaged,
    )


def _manifest(version: Location, found: layout.FoundVersion) -> dict[str, FileEntry] | str:
    """The version's files from its manifest, or why the manifest cannot be read."""
    try:
        return layout.read_manifest(version, found.record)
    except (MlopsError, OSError) as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
