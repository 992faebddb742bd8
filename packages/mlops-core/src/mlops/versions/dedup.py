"""Deduplicated publishing: a file already in a committed version of the root is not written again.

Before the publisher writes a file whose sha256 it can learn cheaply (a tensor or a small file in
memory, a raw file on local disk), it looks the (sha256, size) up in a :class:`ContentIndex` of the
root; on a match the store places the existing file at the new path without moving its bytes:
a hard link on local disks (same inode: every version folder stays complete, and removing one
version only drops a name), a server-side copy on object stores (S3 CopyObject). Where the store
cannot, or the existing file vanished, the file is written as usual.

The index holds the manifests of the :data:`INDEX_VERSIONS` newest committed versions: one listing
of the root and its meta.json files (what ``mlops ls`` reads), then that many manifests, read
concurrently; older versions are not looked at, so a publish costs the same on a root of any age.

A version being removed while it is linked to is detected: before the commit, each version a file
was reused from must still have the meta.json it had when the index was read (a removal deletes
meta.json first; a republish under the same name writes a new one). Otherwise every file reused
from it is unlinked and written again from the source.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mlops import metadata
from mlops.errors import MlopsError
from mlops.metadata import PublishStats
from mlops.store import FileEntry, Location
from mlops.store.hashing import chunks
from mlops.versions import deletion, layout

INDEX_VERSIONS = 3
"""Newest committed versions of a root whose files a publish can reuse."""
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A committed file holding some content: its location and the version folder it is in."""

    loc: Location
    version: Location


@dataclass
class ContentIndex:
    """``(sha256, size)`` -> files of committed versions under one root that hold those bytes."""

    files: dict[FileEntry, list[Candidate]] = field(default_factory=dict)
    sizes: set[int] = field(default_factory=set)
    metas: dict[str, bytes] = field(default_factory=dict)
    """The meta.json bytes of each indexed version (by URL), as read when the index was built."""

    @classmethod
    def of_root(cls, root: Location, versions: int = INDEX_VERSIONS) -> ContentIndex:
        """The index of the ``versions`` newest committed versions under ``root`` (empty for a new
        root). A root that cannot be read gives an empty index: dedup only saves work."""
        index = cls()
        if versions <= 0 or not root.store.exists(root):
            return index
        try:
            newest = layout.scan(root).versions[:versions]
            locs = [root.child(found.path.rstrip("/").rsplit("/", 1)[-1]) for found in newest]
            metas = root.store.read_many([loc.child(metadata.META_FILE) for loc in locs])
            for loc, raw in zip(locs, metas, strict=True):
                if isinstance(raw, FileNotFoundError):
                    continue
                index._add(loc, raw)
        except MlopsError as exc:
            logger.warning("not deduplicating against %s: %s", root.url, exc)
            return cls()
        return index

    def _add(self, version: Location, raw: bytes) -> None:
        record = metadata.parse(raw, version.url)
        self.metas[version.url] = raw
        for relpath, entry in layout.read_manifest(version, record).items():
            self.files.setdefault(entry, []).append(Candidate(version.child(relpath), version))
            self.sizes.add(entry.size)

    def find(self, entry: FileEntry) -> list[Candidate]:
        """The committed files holding exactly ``entry``'s bytes, newest version first."""
        return self.files.get(entry, [])


@dataclass
class _Reused:
    relpath: str
    entry: FileEntry
    source: Candidate
    dest: Location
    rewrite: Callable[[], FileEntry]


class Deduplicator:
    """The reuse decisions of one publish into ``root`` (of the version folder ``version``, whose
    claim the publisher holds): places known files, counts what happened."""

    def __init__(self, root: Location, version: Location) -> None:
        self.root = root
        self.version = version
        self._index: ContentIndex | None = None
        self._lock = threading.Lock()
        self._reused: dict[str, _Reused] = {}
        self._written: dict[str, int] = {}
        self._existing: dict[str, int] = {}
        self._kept: dict[str, int] = {}

    def keep_existing(self, files: dict[str, int]) -> None:
        """Files (``{relpath: size}``) an interrupted publish of this version left: each is kept when
        it holds exactly what this publish would write there (see :mod:`mlops.versions.resume`)."""
        self._existing = dict(files)

    def wrote(self, relpath: str, size: int) -> None:
        """Count a file this publish wrote without :meth:`place` (a Dask task wrote it): never a leftover."""
        with self._lock:
            self._existing.pop(relpath, None)
            self._written[relpath] = size

    def leftovers(self) -> list[str]:
        """Files the interrupted publish left that this publish did not keep (to remove before the commit)."""
        with self._lock:
            return sorted(self._existing)

    @property
    def index(self) -> ContentIndex:
        with self._lock:
            if self._index is None:
                self._index = ContentIndex.of_root(self.root)
            return self._index

    def place(
        self,
        relpath: str,
        dest: Location,
        size: int | None,
        entry_of: Callable[[], FileEntry | None],
        write: Callable[[], FileEntry],
    ) -> FileEntry:
        """Put the file ``relpath`` at ``dest``: reused from a committed version when one holds the
        same bytes, else ``write()``. ``size`` (when known) skips hashing for sizes no indexed file
        has; ``entry_of`` gives the file's sha256 and size, or ``None`` when they cannot be learned
        cheaply."""
        with self._lock:
            there = self._existing.pop(relpath, None)
        if there is not None:
            kept = self._keep(dest, there, size, entry_of)
            if kept is not None:
                with self._lock:
                    self._kept[relpath] = kept.size
                return kept
            self._delete(dest)  # never written through: it may be a hard link into another version
        index = self.index
        entry = entry_of() if index.sizes and (size is None or size in index.sizes) else None
        if entry is not None:
            for candidate in index.find(entry):
                if self._reuse(candidate, dest, entry):
                    with self._lock:
                        self._reused[relpath] = _Reused(relpath, entry, candidate, dest, write)
                    return entry
        written = write()
        with self._lock:
            self._written[relpath] = written.size
        return written

    def _keep(
        self, dest: Location, there: int, size: int | None, entry_of: Callable[[], FileEntry | None]
    ) -> FileEntry | None:
        if size is not None and size != there:
            return None
        entry = entry_of()
        if entry is None or entry.size != there or _sha256_at(dest) != entry.sha256:
            return None
        dest.store.written(dest, entry)
        return entry

    def _reuse(self, candidate: Candidate, dest: Location, entry: FileEntry) -> bool:
        """Place ``candidate`` at ``dest``: a hard link, checked to hold ``entry``'s size (a stat), or
        a server-side copy, which the store confirmed whole (no second request per file)."""
        store = dest.store
        if store.hard_link(candidate.loc, dest):
            if store.content_exists(dest, entry):
                store.written(dest, entry)
                return True
            self._delete(dest)
            return False
        return store.server_copy(candidate.loc, dest)

    def confirm(self) -> dict[str, FileEntry]:
        """Check that every version a file was reused from still has the meta.json it had when the
        index was read; write again (from the source) each file reused from one that changed or
        is being removed. Returns the entries of the files written again."""
        sources = {item.source.version.url: item.source.version for item in self._reused.values()}
        if not sources:
            return {}
        store = self.root.store
        current = store.read_many([loc.child(metadata.META_FILE) for loc in sources.values()])
        index = self.index
        gone = {url for url, raw in zip(sources, current, strict=True) if raw != index.metas.get(url)}
        rewritten: dict[str, FileEntry] = {}
        for item in [item for item in self._reused.values() if item.source.version.url in gone]:
            logger.info("%s was removed or replaced while this publish reused it; writing %s", item.source.version.url,
                        item.relpath)  # fmt: skip
            self._delete(item.dest)  # unlinked first: writing through a hard link would change the other version
            rewritten[item.relpath] = item.rewrite()
            with self._lock:
                del self._reused[item.relpath]
                self._written[item.relpath] = rewritten[item.relpath].size
        return rewritten

    def _delete(self, dest: Location) -> None:
        """Delete the file ``dest`` of the version this publish holds the claim of."""
        prefix = self.version.path.rstrip("/") + "/"
        if not dest.path.startswith(prefix):
            raise ValueError(f"{dest.url} is not in {self.version.url}")
        deletion.delete_files(deletion.held(self.version), [dest.path[len(prefix) :]])

    def stats(self) -> PublishStats:
        """What this publish wrote and reused so far."""
        with self._lock:
            return PublishStats(
                files_written=len(self._written),
                bytes_written=sum(self._written.values()),
                files_reused=len(self._reused) + len(self._kept),
                bytes_reused=sum(item.entry.size for item in self._reused.values()) + sum(self._kept.values()),
            )


def _sha256_at(loc: Location) -> str | None:
    """The sha256 of the file at ``loc`` (read through its store), ``None`` when it cannot be read."""
    sha = hashlib.sha256()
    try:
        with loc.store.open_read(loc) as f:
            for chunk in chunks(f):
                sha.update(chunk)
    except (OSError, MlopsError):
        return None
    return sha.hexdigest()


def npy_entry(chunks: Iterable[bytes | memoryview]) -> FileEntry:
    """The sha256 and size of the bytes ``chunks`` yields (a file about to be written from memory)."""
    sha = hashlib.sha256()
    size = 0
    for chunk in chunks:
        sha.update(chunk)
        size += memoryview(chunk).nbytes
    return FileEntry(sha.hexdigest(), size)
