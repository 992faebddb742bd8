"""The contract every store fulfils (:class:`Store`, an abstract base class: what each store must
implement, what it may override, its optional capabilities), and the logic all stores share
(hashing while writing, verified reads). This module imports none of its implementations
(``mlops.store.local``, ``fsspec_store``, ``s3``); a plugin subclasses one of them for the URL
schemes it claims (see :func:`mlops.plugins.hookspecs.mlops_register_stores`)."""

from __future__ import annotations

import abc
import hashlib
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from mlops.errors import IntegrityError, MlopsError, StoreError
from mlops.store.hashing import PipelinedSha256, chunks
from mlops.utils import progress

TMP_PREFIX = ".tmp-"
"""Prefix of the temporary files and folders mlops creates next to what it writes atomically."""
MAX_TRANSFERS = 8
"""Files moved at once on latency-bound stores (object stores): small files go much faster in parallel."""


@dataclass(frozen=True)
class Location:
    """A file or folder on some store. ``path`` is the store's own (posix) path; ``url`` is what
    the user gave (local paths made absolute), extended with the store's separator by :meth:`child`."""

    store: Store
    path: str
    url: str
    sep: str = "/"

    def child(self, relpath: str) -> Location:
        """The location ``relpath`` (posix, relative) below this one."""
        relpath = relpath.strip("/")
        url = self.url.rstrip("/" + self.sep) + self.sep + relpath.replace("/", self.sep)
        return Location(self.store, posixpath.join(self.path, relpath), url, self.sep)

    @property
    def parent(self) -> Location:
        """The folder holding this location."""
        path = posixpath.dirname(self.path.rstrip("/")) or self.path
        cut = self.url.rstrip("/" + self.sep)
        cut = cut[: max(cut.rfind(self.sep), cut.rfind("/"))] or cut
        return Location(self.store, path, cut, self.sep)

    @property
    def name(self) -> str:
        """The last component of the path."""
        return posixpath.basename(self.path.rstrip("/"))

    def __str__(self) -> str:
        return self.url


class FileEntry(NamedTuple):
    """What a manifest says of one stored file: its sha256 and size (a tuple: millions of them are
    made when a large manifest is read)."""

    sha256: str
    size: int


@dataclass(frozen=True)
class DirEntry:
    """One entry of a folder listing."""

    name: str
    is_dir: bool


class NonExclusiveStoreWarning(UserWarning):
    """Warned when a store cannot create files exclusively, so concurrent publishers of one version
    could both believe they won. Publish each version from one process only on such stores."""


class StoreCapabilityWarning(UserWarning):
    """Warned once per store kind when an optional primitive (hard links, server-side copies) is
    missing and mlops falls back to moving the bytes."""


@contextmanager
def store_errors(loc: Location, action: str) -> Iterator[None]:
    """Turn any failure of the store (OSError, botocore or aiohttp errors...) into a
    :class:`StoreError` naming the location; ``FileNotFoundError``/``FileExistsError`` and mlops'
    own errors pass through because callers act on them."""
    try:
        yield
    except (MlopsError, FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary with third-party storage code
        raise StoreError(f"cannot {action} {loc.url}: {type(exc).__name__}: {exc}") from exc


def check_entry(relpath: str, entry: FileEntry, sha256: str, size: int) -> None:
    """Raise :class:`IntegrityError` naming ``relpath`` unless ``(sha256, size)`` is ``entry``."""
    if size != entry.size or sha256 != entry.sha256:
        raise IntegrityError(
            f"{relpath} does not match its sha256 in the manifest (expected {entry.sha256[:12]}..., "
            f"{entry.size} bytes; found {sha256[:12] or '-'}..., {size} bytes): the file was changed or "
            "truncated after publication; do not trust this version",
            file=relpath,
        )


def folders_to_prune(paths: Iterable[str], top: str, dirname: Callable[[str], str]) -> list[str]:
    """The folders from each of ``paths`` up to and including ``top``, deepest first; raises
    ``ValueError`` when a path is not strictly inside ``top`` (nothing is deleted then)."""
    top = top.rstrip("/\\") or top
    found = {top}
    for path in paths:
        folder = dirname(path)
        while len(folder) > len(top) and folder not in found:
            found.add(folder)
            folder = dirname(folder)
        if len(folder) > len(top):
            continue  # joined a chain already walked up to ``top``
        if folder != top:
            raise ValueError(f"{path} is not inside {top}")
    return sorted(found, key=len, reverse=True)


def missing_file(relpath: str, where: str) -> IntegrityError:
    return IntegrityError(f"{relpath} is listed in the manifest but missing from {where}", file=relpath)


class Store(abc.ABC):
    """How files are read and written on one kind of store.

    Every method takes :class:`Location` objects made by this store (``loc.store is self``), except
    the ``src`` of :meth:`copy_from` and of the optional copies, which may live on any store.

    The contract, in three parts:

    - **Must implement** (abstract: a subclass that lacks one cannot be instantiated, and a plugin
      registering it is refused): :meth:`locate`, the queries :meth:`exists`, :meth:`is_dir`,
      :meth:`list_dir`, :meth:`list_files`, :meth:`read_bytes`, :meth:`open_read`, the writes
      :meth:`create_exclusive`, :meth:`open_write`, :meth:`replace_file`, :meth:`delete_files`,
      and the verified read :meth:`fetch_verified`.
    - **May override** (shared logic built on those primitives, correct for every store, which a
      store can do faster): :meth:`read_many`, :meth:`list_tree`, :meth:`staging`,
      :meth:`local_folder`, :meth:`verify_files`, :meth:`finish_write`, :meth:`sync`,
      :meth:`sync_many`, :meth:`written`, :meth:`write_stream`, :meth:`copy_from`,
      :meth:`move_in`, :meth:`read_verified`, :meth:`read_cached_verified`.
    - **Optional capabilities** (the default says "cannot", and the caller falls back to moving
      or reading the bytes): :meth:`hard_link`, :meth:`server_copy`, :meth:`abort_uploads`,
      :meth:`content_exists`, :meth:`known_entry`, :meth:`identity`, :meth:`remember_entry`.
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    """URL schemes a plugin store claims (the built-in stores are chosen by :func:`~mlops.store.resolve`)."""
    transfer_workers: ClassVar[int] = MAX_TRANSFERS
    """Files this store moves at once in a batch (1 where threads only contend, as on local disks)."""
    needs_sync: ClassVar[bool] = False
    """True when files written with ``durable=False`` must be passed to :meth:`sync` before commit."""

    @classmethod
    @abc.abstractmethod
    def locate(cls, url: str, storage_options: Mapping[str, Any] | None) -> Location:
        """The :class:`Location` of ``url`` on a store of this class."""

    @property
    def kind(self) -> str:
        """A short name of the kind of store, for messages (``local``, ``s3``...)."""
        return type(self).__name__

    @property
    def storage_options(self) -> Mapping[str, Any] | None:
        """The options this store was opened with, to open related URLs the same way."""
        return None

    def serves(self, scheme: str) -> bool:
        """Whether URLs of ``scheme`` are on this kind of store (so they take its storage options)."""
        return scheme in self.schemes

    # --- must implement: queries ---------------------------------------------------------------------

    @abc.abstractmethod
    def exists(self, loc: Location) -> bool:
        """Whether a file, or a folder holding anything, is at ``loc`` (bypassing listing caches)."""

    @abc.abstractmethod
    def is_dir(self, loc: Location) -> bool:
        """Whether ``loc`` is a folder (a prefix holding objects on object stores)."""

    @abc.abstractmethod
    def list_dir(self, loc: Location) -> list[DirEntry]:
        """The entries directly inside the folder ``loc``, sorted by name; ``FileNotFoundError``
        when there is no such folder, ``NotADirectoryError`` when ``loc`` is a file."""

    @abc.abstractmethod
    def list_files(self, loc: Location, *, follow_outside_links: bool = False) -> dict[str, int]:
        """``{relative posix path: size}`` of every file below ``loc`` (``{name: size}`` if ``loc``
        is a file). Stores with symbolic links refuse links that lead outside ``loc`` unless
        ``follow_outside_links``, and refuse link loops, with :class:`~mlops.errors.UnsafeLinkError`;
        named pipes, sockets and devices with :class:`~mlops.errors.SpecialFileError`."""

    @abc.abstractmethod
    def read_bytes(self, loc: Location) -> bytes:
        """The whole content of a small file (meta.json, a claim, a pickle), in one request."""

    @abc.abstractmethod
    def open_read(self, loc: Location) -> AbstractContextManager[Any]:
        """Open the file ``loc`` for a streamed binary read."""

    # --- must implement: writes ----------------------------------------------------------------------

    @abc.abstractmethod
    def create_exclusive(self, loc: Location, data: bytes, *, durable: bool = True) -> None:
        """Create a file holding ``data`` if and only if nothing is at ``loc``: exactly one of several
        concurrent callers succeeds, the others get ``FileExistsError``. ``data`` must not be empty.
        ``durable=False`` skips the flush to stable storage: the caller then calls :meth:`sync_many`
        before anything depends on the file (a publish does, before its commit). A store that
        cannot create exclusively checks, writes, and warns with :class:`NonExclusiveStoreWarning`."""

    @abc.abstractmethod
    def open_write(self, loc: Location) -> Any:
        """Open ``loc`` for a streamed binary write (parents are created as needed)."""

    @abc.abstractmethod
    def replace_file(self, loc: Location, data: bytes) -> None:
        """Replace the file at ``loc`` with ``data`` so readers see the old or the new bytes, never a mix."""

    @abc.abstractmethod
    def delete_files(self, locs: Sequence[Location], *, prune: Location | None = None) -> None:
        """Delete exactly the files ``locs``, the only way mlops deletes from a store.

        Each location names one file by its exact path: it is never read as a pattern, a folder
        named here is left alone (never removed with its content), and a missing file is fine. There is no
        order among ``locs``: a caller that needs one (meta.json first, the claim last) makes one
        call per step. With ``prune``, a folder holding every one of ``locs``, the empty folders
        below it are then removed, deepest first, and ``prune`` itself if empty (on stores that
        have folders: an object store's prefix vanishes with its last object). Callers decide
        what to delete; see :mod:`mlops.versions.deletion`."""

    # --- must implement: verified reads --------------------------------------------------------------

    @abc.abstractmethod
    def fetch_verified(self, loc: Location, entry: FileEntry, relpath: str, *, use_cache: bool = True) -> str:
        """A local path holding the bytes of ``loc``, returned only once they match ``entry``
        (:func:`check_entry`); ``use_cache=False`` reads the store again even where a verified
        copy is kept on this machine."""

    # --- may override: shared logic built on the primitives ------------------------------------------

    def read_many(self, locs: Sequence[Location]) -> list[bytes | FileNotFoundError]:
        """The bytes of each file in ``locs``, or ``FileNotFoundError`` for a missing one, in order;
        concurrent where the store allows. Any other failure raises :class:`StoreError`."""
        from mlops.utils.concurrency import concurrently

        def one(loc: Location) -> bytes | FileNotFoundError:
            try:
                return self.read_bytes(loc)
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                return FileNotFoundError(str(exc))

        return concurrently(one, locs, workers=self.transfer_workers)

    def list_tree(self, loc: Location) -> dict[str, int]:
        """``{relative posix path: size}`` of every file below the folder ``loc`` as it is stored:
        what deleting the folder's files deletes. Unlike :meth:`list_files`, a symbolic link is
        listed as a file and never followed (deleting it removes the link, not its target).
        Default: :meth:`list_files` (stores without links)."""
        return self.list_files(loc)

    def finish_write(self, f: Any) -> None:  # noqa: B027 - a no-op by default
        """Make a file opened by :meth:`open_write` durable before it is closed (nothing by default)."""

    def sync(self, loc: Location) -> None:  # noqa: B027 - a no-op by default
        """Make a file written with ``durable=False`` durable (nothing by default: object stores
        hold what they acknowledged)."""

    def sync_many(self, locs: Sequence[Location]) -> None:
        """Make several files written with ``durable=False`` durable (default: :meth:`sync` each)."""
        for loc in locs:
            self.sync(loc)

    @contextmanager
    def staging(self, root: Location) -> Iterator[str]:
        """A fresh local folder for files about to be published under ``root``, removed afterwards.
        Default: a temporary folder of this machine; local stores place it on the store's
        filesystem so files are moved in, not copied."""
        folder = tempfile.mkdtemp(prefix="mlops-staging-")
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def local_folder(self, loc: Location, files: Mapping[str, FileEntry]) -> Iterator[str]:
        """A local folder holding the verified ``files`` of the folder ``loc`` by relative path, for
        frameworks that load from a folder. Default: each file fetched (:meth:`fetch_verified`)
        and linked, or copied, into a temporary folder; local stores give the folder itself."""
        from mlops.utils.concurrency import concurrently

        fetched = concurrently(lambda item: self.fetch_verified(loc.child(item[0]), item[1], item[0]), files.items())
        directory = tempfile.mkdtemp(prefix="mlops-load-")
        try:
            for relpath, src in zip(files, fetched, strict=True):
                dest = os.path.join(directory, *relpath.split("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                try:
                    os.link(src, dest)
                except OSError:
                    shutil.copyfile(src, dest)
            yield directory
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def verify_files(self, loc: Location, files: Mapping[str, FileEntry]) -> None:
        """Read every file of the folder ``loc`` again (no cache) and check it against ``files``;
        raises :class:`IntegrityError` naming the first that does not match. Default: the files
        fetched side by side (object stores are latency-bound)."""
        from mlops.utils.concurrency import concurrently

        concurrently(
            lambda item: self.fetch_verified(loc.child(item[0]), item[1], item[0], use_cache=False),
            files.items(),
            workers=max(self.transfer_workers, MAX_TRANSFERS),
        )

    # --- optional capabilities: the default declines, the caller falls back ------------------------

    def hard_link(self, src: Location, dest: Location) -> bool:
        """Make ``dest`` the very file ``src`` is (same inode); False where the store cannot, and the
        caller writes the bytes instead."""
        return False

    def content_exists(self, loc: Location, entry: FileEntry) -> bool:
        """Whether a file of ``entry``'s size is at ``loc``: the cheap check of a file that
        :meth:`hard_link` just placed. False when in doubt, and by default: the caller then
        writes the bytes instead."""
        return False

    def server_copy(self, src: Location, dest: Location) -> bool:
        """Copy ``src`` to ``dest`` inside the store, no bytes through this machine; False where the
        store cannot (another store, or no such operation), and the caller copies the bytes."""
        return False

    def abort_uploads(self, loc: Location) -> int:
        """Abort the unfinished uploads (S3 multipart uploads) below ``loc`` that a killed writer left,
        so they stop costing storage; return how many. Nothing to do on most stores."""
        return 0

    def known_entry(self, loc: Location) -> FileEntry | None:
        """The sha256 and size of the file ``loc`` when this machine can learn them without moving its
        bytes over a network (local files: hashed once, then remembered while unchanged); ``None``
        otherwise, and the caller copies the file without looking for an identical one."""
        return None

    def identity(self, loc: Location) -> object | None:
        """A token that changes whenever the file at ``loc`` may have changed, where the store can
        tell cheaply (local files: their stat); ``None`` otherwise, or where remembering is not worth it."""
        return None

    def remember_entry(self, loc: Location, identity: object, entry: FileEntry) -> None:  # noqa: B027 - a no-op by default
        """Record that the file at ``loc``, still as :meth:`identity` found it, holds ``entry``: a
        copy hashed it on the way, so :meth:`known_entry` need not read it again. No-op by default."""

    # --- may override: writes and verified reads built on the primitives ---------------------------

    def write_stream(self, loc: Location, data: Iterable[bytes | memoryview], *, durable: bool = True) -> FileEntry:
        """Write ``data`` to ``loc``, hashing it on the way; return its manifest entry.

        ``durable=False`` skips the flush to stable storage: the caller then calls :meth:`sync`
        (a publish does, on helper threads, before meta.json is written)."""
        sha = PipelinedSha256()
        size = 0
        try:
            with store_errors(loc, "write"), self.open_write(loc) as f:
                for chunk in data:
                    sha.update(chunk)  # hashed on a helper thread while this thread writes it
                    f.write(chunk)
                    n = memoryview(chunk).nbytes
                    size += n
                    progress.advance(n)
                if durable:
                    self.finish_write(f)
        finally:
            sha.close()
        entry = FileEntry(sha.hexdigest(), size)
        self.written(loc, entry)
        return entry

    def written(self, loc: Location, entry: FileEntry) -> None:  # noqa: B027 - a no-op by default
        """Called once a file with ``entry`` was written at ``loc`` (local stores remember it as verified)."""

    def copy_from(self, src: Location, dest: Location, *, durable: bool = True) -> FileEntry:
        """Copy one file byte for byte from any store to ``dest``, hashing while writing."""
        try:
            with store_errors(src, "read"), src.store.open_read(src) as fin:
                return self.write_stream(dest, chunks(fin), durable=durable)
        except FileNotFoundError as exc:
            raise StoreError(f"{src.url} vanished while it was being copied") from exc

    def move_in(self, staged: Location, dest: Location) -> FileEntry:
        """Move a file staged by this process (in :meth:`staging`) to ``dest``, hashing it (default: copy)."""
        return self.copy_from(staged, dest)

    def read_verified(self, loc: Location, entry: FileEntry, relpath: str) -> bytes:
        """The bytes of a small file, returned only once their sha256 matches ``entry`` (the bytes
        checked are the bytes returned: nothing can change in between)."""
        try:
            data = self.read_bytes(loc)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise missing_file(relpath, loc.url) from exc
        check_entry(relpath, entry, hashlib.sha256(data).hexdigest(), len(data))
        progress.advance(len(data))
        return data

    def read_cached_verified(self, loc: Location, entry: FileEntry, relpath: str) -> bytes:
        """The bytes of a chunk, checked against ``entry`` just before they are returned; remote
        stores keep the chunk in the local content cache, so a second read costs no transfer."""
        return self.read_verified(loc, entry, relpath)
