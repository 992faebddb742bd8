"""Writing one version: input checks, the create-only claim, streamed files, meta.json last.

Datasets and models share this path. The protocol, identical on every store:

1. refuse if anything is already at ``ROOT/VERSION`` (a version, a leftover, or a stranger's folder);
2. create ``ROOT/VERSION/.mlops-publishing`` create-only: of concurrent publishers exactly one wins,
   and the losers fail before they write a byte;
3. stream every file into place, hashing while writing (each byte is written once, never read back);
   local files are fsynced on helper threads as soon as each is written, so the disk flushes
   one while the next is written;
4. once every file is durable, write ``manifest.jsonl`` (every file's sha256 and size), then create
   ``meta.json`` create-only, recording the manifest's sha256: from this instant the version
   exists, whole;
5. remove the claim.

A failure in 3 or 4 removes what this publisher wrote. A publisher killed outright leaves the claim,
so the version reads as incomplete, never as published.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

import numpy as np

from mlops import metadata
from mlops.errors import MlopsError, PublicationPathAlreadyExistsError
from mlops.metadata import AnyRecord, PublishStats
from mlops.metadata import manifest as manifest_codec
from mlops.metadata.environment import environment_files
from mlops.metadata.names import check_name, check_tags, check_version
from mlops.store import FileEntry, Location, resolve
from mlops.store.hashing import CHUNK_SIZE, sha256_of_file
from mlops.utils.concurrency import concurrently
from mlops.versions import deletion, layout
from mlops.versions.dedup import Deduplicator, npy_entry

if TYPE_CHECKING:
    from mlops.trust.keys import SigningKey

SYNC_THREADS = 4
"""Local fsyncs in flight at once during a publish (they wait on the disk, not on the CPU)."""
SYNC_EACH_MIN = 1 << 20
"""Files this large are fsynced on a helper thread as soon as they are written (the disk flushes one
while the next is written); smaller ones are made durable together before the commit, which for
many files is one filesystem flush instead of one fsync each (see ``Store.sync_many``)."""
logger = logging.getLogger(__name__)
ACTIVE_CLAIMS = layout.ACTIVE_CLAIMS
"""Tokens of the claims this process holds right now (see mlops.versions.incomplete)."""


def timestamp() -> str:
    """The current local time in ISO 8601 with microseconds, e.g. ``2021-12-19T06:59:00.451852``."""
    return datetime.now().isoformat(timespec="microseconds")


def signing_key(key: str | os.PathLike[str] | SigningKey | None) -> SigningKey | None:
    """The key a publish signs with: ``key`` (a private key file) or ``MLOPS_SIGNING_KEY``; ``None``
    when neither is set (set but blank: :class:`~mlops.errors.SigningKeyError`). Loaded (and checked:
    format, permissions) before anything is written; the trust package is imported only when a key
    is asked for."""
    if key is None and "MLOPS_SIGNING_KEY" not in os.environ:
        return None
    from mlops.trust.policy import signing_key_from

    return signing_key_from(key)


_key_for = signing_key  # for callers whose own argument is named signing_key


class PublishOptions(TypedDict, total=False):
    """The keyword arguments that every ``publish`` takes, a dataset's and a model's alike; all are
    optional (the defaults are :func:`publish_target`'s)."""

    name: str | None
    """The dataset's or model's name; default: the last folder of ``path``."""
    tags: list[str] | None
    """Labels stored in meta.json, to find versions by (``mlops ls --tag``)."""
    signing_key: str | os.PathLike[str] | None
    """A private key file from ``mlops keygen`` (default: ``MLOPS_SIGNING_KEY``) that signs the
    version: its ``mlops.sig`` covers every file."""
    storage_options: dict[str, Any] | None
    """Passed to fsspec to write to ``path``."""
    progress: bool | None
    """Show a progress bar; default: when stderr is a terminal and the work takes over a second."""
    resume: bool
    """Take over an incomplete version of that name whose publisher is gone (a dead process on this
    machine, or a claim older than ``older_than`` seconds): the files it wrote that match are kept,
    the rest written (see :mod:`mlops.versions.resume`)."""
    older_than: float
    """With ``resume``: how old, in seconds, a claim from another machine must be to count as abandoned."""


class RecordIdentity(TypedDict):
    """The fields of meta.json that say which version a record is, the same for every kind."""

    schema: int
    name: str
    version: str
    created_at: str
    tags: tuple[str, ...]


class PublishTarget(NamedTuple):
    """Where, as what and how a publish writes, every argument checked before anything is written."""

    root: Location
    version: str
    name: str
    tags: list[str]
    created_at: str
    key: SigningKey | None
    progress: bool | None
    resume: bool
    older_than: float

    def identity(self) -> RecordIdentity:
        """The record's fields that say which version this is."""
        return {
            "schema": metadata.SCHEMA_VERSION,
            "name": self.name,
            "version": self.version,
            "created_at": self.created_at,
            "tags": tuple(self.tags),
        }


def publish_target(
    path: str | os.PathLike[str], version: str | None, default_name: str, **options: Any
) -> PublishTarget:
    """The checked arguments of a ``publish``; a keyword that is not a :class:`PublishOptions` key is
    refused as Python refuses one (``TypeError``), naming ``publish`` and the keywords it takes."""
    unknown = sorted(set(options) - set(PublishOptions.__annotations__))
    if unknown:
        raise TypeError(
            f"publish() got an unexpected keyword argument {unknown[0]!r}; besides its own (a dataset's raw and "
            f"follow_symlinks, a model's serializer) it takes {', '.join(PublishOptions.__annotations__)}"
        )
    return _checked_target(path, version, default_name, **options)


def _checked_target(
    path: str | os.PathLike[str],
    version: str | None,
    default_name: str,
    *,
    name: str | None = None,
    tags: Any = None,
    signing_key: str | os.PathLike[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool | None = None,
    resume: bool = False,
    older_than: float = 0.0,
) -> PublishTarget:
    """The checked arguments of a ``publish`` (see :class:`PublishOptions`): ``version=None`` is the
    publication timestamp, ``name=None`` the root's last folder (or ``default_name``), and the
    signing key is loaded (and its file checked) now."""
    created_at = timestamp()
    version = check_version(created_at if version is None else version)
    checked_tags = check_tags(tags)
    root = resolve(path, storage_options)
    if name is not None:
        chosen = check_name(name)
    else:
        chosen = check_name(root.name or default_name, default_from=f"the last folder of {root.url!r}")
    key = _key_for(signing_key)
    return PublishTarget(root, version, chosen, checked_tags, created_at, key, progress, resume, older_than)


@dataclass(frozen=True)
class TakenOver:
    """An incomplete version this process now owns: the files its dead publisher left, and the marker."""

    loc: Location
    files: dict[str, int]
    """``{relpath: size}`` of the files already there (bookkeeping files of mlops excluded)."""
    marker: str


class StagingClaim:
    """Marks a staging folder as in use by this process, so that a cleanup of incomplete
    versions running meanwhile leaves it alone (see :mod:`mlops.versions.incomplete`)."""

    def __init__(self, folder: str) -> None:
        self.token, claim = layout.new_claim()
        ACTIVE_CLAIMS.add(self.token)
        with open(os.path.join(folder, layout.CLAIM_FILE), "wb") as f:
            f.write(claim)

    def release(self) -> None:
        ACTIVE_CLAIMS.discard(self.token)


class VersionWriter:
    """Writes the files of one version under the claim protocol described in this module.

    Use as a context manager: on an exception inside the block everything written is removed.
    """

    def __init__(self, root: Location, version: str) -> None:
        self.store = root.store
        self.loc = root.child(check_version(version))
        self.entries: dict[str, FileEntry] = {}
        self._token, self._claim = layout.new_claim()
        self._touched: set[str] = set()
        """Files this publisher started writing (a failed publish deletes them, written or half-written)."""
        self._owned: set[str] = set()
        """Folders of the version whose every file this publisher writes (a chunked tensor's)."""
        self._claimed = False
        self._committed = False
        self._syncing: list[Future[None]] = []
        self._unsynced: list[Location] = []
        self._sync_pool: ThreadPoolExecutor | None = None
        self._sync_lock = threading.Lock()
        self._dedup = Deduplicator(root, self.loc)
        self._takeover_marker: str | None = None
        self.stats: PublishStats | None = None
        """What the commit wrote and reused (set by :meth:`commit`)."""

    @property
    def claim(self) -> bytes:
        """The bytes of this publisher's claim (what :func:`mlops.versions.resume.take_over` puts in place)."""
        return self._claim

    def resuming(self, taken: TakenOver | None) -> VersionWriter:
        """Write into the incomplete version ``taken`` (already claimed for this writer by
        :func:`mlops.versions.resume.take_over`), keeping the files there that match; ``None``: a new version."""
        if taken is not None:
            self._takeover_marker = taken.marker
            self._dedup.keep_existing(taken.files)
        return self

    def __enter__(self) -> VersionWriter:
        if self._takeover_marker is not None:
            ACTIVE_CLAIMS.add(self._token)
            self._claimed = True
            return self
        self._refuse_existing()
        ACTIVE_CLAIMS.add(self._token)
        try:
            self.store.create_exclusive(self.loc.child(layout.CLAIM_FILE), self._claim)
        except FileExistsError:
            ACTIVE_CLAIMS.discard(self._token)
            raise PublicationPathAlreadyExistsError(
                f"{self.loc.url} is being published by another process right now; choose another version"
            ) from None
        except BaseException:
            ACTIVE_CLAIMS.discard(self._token)
            raise
        self._claimed = True
        if self.store.exists(self.loc.child(metadata.META_FILE)):
            # A racer committed and released its claim between our first check and our claim.
            deletion.delete_files(deletion.held(self.loc), [layout.CLAIM_FILE])
            self._claimed = False
            ACTIVE_CLAIMS.discard(self._token)
            raise PublicationPathAlreadyExistsError(f"version {self.loc.url} already exists; choose another version")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._stop_syncing()
            if exc_type is not None and self._claimed and not self._committed:
                self.abort()
        finally:
            ACTIVE_CLAIMS.discard(self._token)

    def _refuse_existing(self) -> None:
        if not self.store.exists(self.loc):
            return
        if self.store.exists(self.loc.child(metadata.META_FILE)):
            raise PublicationPathAlreadyExistsError(
                f"version {self.loc.url} already exists; versions are immutable: publish under another version"
            )
        if layout.is_incomplete(self.loc):
            raise PublicationPathAlreadyExistsError(
                f"{self.loc.url} holds an incomplete version: another process is publishing it, or a publish "
                "crashed there. If no publish is running, remove it with "
                "mlops.versions.incomplete.remove_incomplete(ROOT) or `mlops clean ROOT`, then publish again."
            )
        raise PublicationPathAlreadyExistsError(
            f"{self.loc.url} already exists and is not an mlops version; refusing to write into it. "
            "Remove it or choose another version."
        )

    # --- files ---------------------------------------------------------------------------------------

    def write_array(self, relpath: str, array: np.ndarray) -> FileEntry:
        """Store ``array`` as a ``.npy`` file, streamed and hashed chunk by chunk (or reused, see
        :mod:`mlops.versions.dedup`: hashed first when a committed file of the root has its size)."""
        dest = self.loc.child(relpath)
        self._touched.add(relpath)
        size = len(next(_npy_chunks(array))) + array.nbytes
        entry = self._dedup.place(
            relpath,
            dest,
            size,
            lambda: npy_entry(_npy_chunks(array)),
            lambda: self.store.write_stream(dest, _npy_chunks(array), durable=False),
        )
        return self._record(relpath, entry, dest)

    def write_bytes(self, relpath: str, data: bytes) -> FileEntry:
        """Store a small in-memory file (or reuse an identical committed one)."""
        dest = self.loc.child(relpath)
        self._touched.add(relpath)
        entry = self._dedup.place(
            relpath,
            dest,
            len(data),
            lambda: FileEntry(hashlib.sha256(data).hexdigest(), len(data)),
            lambda: self.store.write_stream(dest, iter([data]), durable=False),
        )
        return self._record(relpath, entry, dest)

    def write_produced(
        self, relpath: str, known: Callable[[], FileEntry | None], produce: Callable[[], bytes]
    ) -> tuple[FileEntry, bool]:
        """Store the small file that ``produce()`` makes (an encoded Parquet part), calling it only
        when needed: ``known()`` may give the entry the bytes would have (remembered from an earlier
        encoding of the same input), and a committed file of the root with that entry is reused
        without producing anything. Returns the entry and whether the file was produced here."""
        dest = self.loc.child(relpath)
        self._touched.add(relpath)
        produced: list[bool] = []

        def write() -> FileEntry:
            data = produce()
            produced.append(True)
            return self.store.write_stream(dest, iter([data]), durable=False)

        entry = self._dedup.place(relpath, dest, None, known, write)
        return self._record(relpath, entry, dest), bool(produced)

    def copy(self, relpath: str, src: Location) -> FileEntry:
        """Copy one file from any store into the version (or reuse an identical committed one when
        the source's store knows its sha256 cheaply: local files)."""
        dest = self.loc.child(relpath)
        self._touched.add(relpath)

        def write() -> FileEntry:  # the copy hashes the source: remembered, a later publish skips reading it
            before = src.store.identity(src)
            entry = self.store.copy_from(src, dest, durable=False)
            if before is not None:
                src.store.remember_entry(src, before, entry)
            return entry

        entry = self._dedup.place(relpath, dest, None, lambda: src.store.known_entry(src), write)
        return self._record(relpath, entry, dest)

    def write_environment(self) -> None:
        """Record the publishing environment: ``environment/pylock.toml`` (every installed
        distribution, PEP 751) and ``environment/python.json`` (read once per process, see
        :mod:`mlops.metadata.environment`). Listed in the manifest like every file, so verification
        and signatures cover them; left out of the content hash, which identifies the data whatever
        environment published it."""
        for relpath, data in environment_files().items():
            self.write_bytes(relpath, data)

    def write_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Store several arrays (``{relpath: array}``) at once."""
        concurrently(lambda item: self.write_array(*item), arrays.items())

    def copy_many(self, files: list[tuple[str, Location]]) -> None:
        """Copy several files (``(relpath, source)`` pairs) into the version, as many at once as the
        stores on either side move well (object stores are latency-bound; local disk to local disk
        goes one after the other, where threads only contend for the GIL and directory locks)."""
        workers = max([self.store.transfer_workers, *(src.store.transfer_workers for _, src in files)])
        concurrently(lambda item: self.copy(*item), files, workers=workers)

    def move_many(self, files: list[tuple[str, Location]]) -> None:
        """Move several staged local files (``(relpath, source)`` pairs) into the version."""
        concurrently(lambda item: self._move(*item), files)

    def _move(self, relpath: str, staged: Location) -> FileEntry:
        dest = self.loc.child(relpath)
        self._touched.add(relpath)

        def entry_of() -> FileEntry:
            sha256, size = sha256_of_file(staged.path)
            return FileEntry(sha256, size)

        entry = self._dedup.place(
            relpath, dest, os.path.getsize(staged.path), entry_of, lambda: self.store.move_in(staged, dest)
        )
        return self._record(relpath, entry)

    def writing(self, relpaths: Iterable[str], *, folder: str | None = None) -> None:
        """Note what someone else (Dask tasks) is about to write into the version for this writer:
        the files ``relpaths``, and with ``folder`` every file below that folder of the version (a
        chunked tensor's). A failed publish deletes them, and only them, with its own files."""
        self._touched.update(relpaths)
        if folder is not None:
            self._owned.add(folder)

    def record_written(self, relpath: str, entry: FileEntry) -> None:
        """Add a file that someone else wrote into the version for this writer (a Dask task on a
        worker) to the manifest and the publish's counts. If it is not durable yet, pass it to
        :meth:`sync_before_commit` too."""
        self._dedup.wrote(relpath, entry.size)
        self._record(relpath, entry)

    def sync_before_commit(self, locs: list[Location]) -> None:
        """Make these files and folders of the version durable before meta.json is written, together
        with the other small files (one flush of the filesystem for many, see ``Store.sync_many``)."""
        if self.store.needs_sync:
            with self._sync_lock:
                self._unsynced.extend(locs)

    def _record(self, relpath: str, entry: FileEntry, unsynced: Location | None = None) -> FileEntry:
        """Add a written file to the manifest; ``unsynced``: a file still to be made durable, which
        a helper thread now does while the caller goes on writing (small files wait for the commit)."""
        self.entries[relpath] = entry
        if unsynced is not None and self.store.needs_sync:
            with self._sync_lock:
                if entry.size < SYNC_EACH_MIN:
                    self._unsynced.append(unsynced)
                    return entry
                if self._sync_pool is None:
                    self._sync_pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="mlops-fsync")
                self._syncing.append(self._sync_pool.submit(self.store.sync, unsynced))
        return entry

    def _wait_until_durable(self) -> None:
        """Block until every file written so far is durable; the first fsync failure is raised."""
        pending, self._syncing = self._syncing, []
        for future in pending:
            future.result()
        small, self._unsynced = self._unsynced, []
        if small:
            self.store.sync_many(small)

    def _stop_syncing(self) -> None:
        if self._sync_pool is not None:
            self._sync_pool.shutdown(wait=True, cancel_futures=True)
            self._sync_pool = None
        self._syncing = []
        self._unsynced = []

    # --- end -----------------------------------------------------------------------------------------

    def commit(
        self,
        record: AnyRecord,
        *,
        signing_key: SigningKey | None = None,
        signature: Callable[[bytes], bytes | None] | None = None,
    ) -> str:
        """Write the manifest of every file written, then meta.json (making the version exist) from
        ``record`` completed with the manifest's reference, release the claim, return the version's URL.

        With ``signing_key``, ``mlops.sig`` (a signature over every file, meta.json included) is
        written just before meta.json; ``signature`` instead gives those bytes from meta.json's (a
        republish keeping its source's signature), or ``None`` to leave the version unsigned."""
        for relpath, rewritten in self._dedup.confirm().items():
            self._record(relpath, rewritten, self.loc.child(relpath))
        leftovers = self._dedup.leftovers()  # what an interrupted publish wrote and this one does not
        if leftovers:
            deletion.delete_files(deletion.held(self.loc), leftovers, prune=True)
        self.stats = self._dedup.stats()
        entries = dict(sorted(self.entries.items()))
        manifest_bytes = manifest_codec.encode(entries)
        record = replace(
            record,
            schema=metadata.SCHEMA_VERSION,
            manifest=manifest_codec.reference(manifest_bytes, entries),
            inline_files=None,
            publish=self.stats,
        )
        meta_bytes = metadata.dump(record)
        signed: bytes | None = None
        if signing_key is not None:
            from mlops.versions.signing import covered_files, signature_for

            signed = signature_for(self.loc, covered_files(record, entries, meta_bytes), signing_key)
        elif signature is not None:
            signed = signature(meta_bytes)
        if not self._claim_is_ours():  # removed as incomplete (by a cleanup on another machine) while we wrote
            raise PublicationPathAlreadyExistsError(
                f"the claim on {self.loc.url} was removed while this publish was running (by a cleanup of "
                "incomplete versions?); publish again"
            )
        self._wait_until_durable()  # meta.json must never be on disk before the files it lists
        self.store.write_stream(self.loc.child(metadata.MANIFEST_FILE), [manifest_bytes], durable=True)
        if signed is not None:
            self.store.write_stream(self.loc.child(metadata.SIGNATURE_FILE), [signed], durable=True)
        self.store.create_exclusive(self.loc.child(metadata.META_FILE), meta_bytes)
        self._committed = True
        deletion.delete_files(deletion.held(self.loc), [*self._bookkeeping()])
        logger.info("published %s: %s", self.loc.url, self.stats.describe())
        return self.loc.url

    def abort(self) -> None:
        """Delete exactly what this publisher wrote (the files it started to write, every file of
        the folders it owned), then, when nothing else is left in the version folder, its claim and
        the folder. Anything else there (what a killed publish this one resumed left, or a
        stranger's file) stays under the claim: an incomplete version, never visible, that
        :func:`mlops.versions.incomplete.remove_incomplete` removes. Nothing is deleted once meta.json is
        there, nor when the claim is no longer this publisher's. If the store fails meanwhile (it is
        often why we abort), the original error is what the caller sees."""
        folder = deletion.held(self.loc)
        try:
            if self.store.exists(self.loc.child(metadata.META_FILE)):
                logger.warning("not cleaning up %s after a failed publish: it holds a meta.json", self.loc.url)
                return
            if not self._claim_is_ours():
                logger.warning(
                    "not cleaning up %s after a failed publish: its claim is not ours any more", self.loc.url
                )
                return
            written = self._touched | set(self.entries) | {metadata.MANIFEST_FILE, metadata.SIGNATURE_FILE}
            for owned in sorted(self._owned):
                if self.store.exists(self.loc.child(owned)):
                    written |= {f"{owned}/{rel}" for rel in self.store.list_tree(self.loc.child(owned))}
            deletion.delete_files(folder, sorted(written), prune=True)
            bookkeeping = set(self._bookkeeping())
            left = [rel for rel in self.store.list_tree(self.loc) if rel not in bookkeeping]
            if left:
                logger.warning(
                    "after a failed publish, %s still holds %d file(s) this publish did not write (%s); it stays "
                    "an incomplete version: `mlops clean ROOT` removes it",
                    self.loc.url, len(left), ", ".join(left[:3]),
                )  # fmt: skip
            else:
                deletion.delete_files(folder, sorted(bookkeeping), prune=True)
        except (MlopsError, OSError) as exc:
            logger.warning(
                "could not clean up %s after a failed publish (%s); it stays an incomplete version", self.loc.url, exc
            )
        finally:
            self._claimed = False

    def _bookkeeping(self) -> list[str]:
        """This publisher's own files that are not the version's: the claim (and a resume's marker)."""
        return [layout.CLAIM_FILE, *([self._takeover_marker] if self._takeover_marker else [])]

    def _claim_is_ours(self) -> bool:
        try:
            return self.store.read_bytes(self.loc.child(layout.CLAIM_FILE)) == self._claim
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False


def _npy_chunks(array: np.ndarray) -> Iterator[bytes | memoryview]:
    """The bytes of ``array`` in ``.npy`` format (header, then data in 8 MB slices), as ``np.save``
    writes them but without copying a contiguous array."""
    header = io.BytesIO()
    fields = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(header, fields)
    except ValueError:  # a header too large for format 1.0 (very many fields or dimensions)
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, fields)
    yield header.getvalue()
    flat = array.T.reshape(-1) if fields["fortran_order"] else np.ascontiguousarray(array).reshape(-1)
    raw = flat.view(np.uint8)
    for start in range(0, raw.nbytes, CHUNK_SIZE):
        yield memoryview(raw[start : start + CHUNK_SIZE])  # type: ignore[arg-type]
