"""Every other filesystem through fsspec: object stores (Azure Blob, GCS...),
memory://, and any fsspec implementation. Create-only writes use the filesystem's mode ``"xb"``
(object stores send a conditional write, ``If-None-Match: *``); reads of remote files go through
the local content cache, verified before use. What one kind of filesystem does better through its
own service API lives in a subclass, chosen once by :func:`~mlops.store.resolve`."""

from __future__ import annotations

import asyncio
import hashlib
import os
import posixpath
import tempfile
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import fsspec
import fsspec.callbacks
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from mlops.errors import InvalidPathError, StoreError
from mlops.store import cache
from mlops.store.base import (
    DirEntry,
    FileEntry,
    Location,
    NonExclusiveStoreWarning,
    Store,
    check_entry,
    folders_to_prune,
    missing_file,
    store_errors,
)
from mlops.store.hashing import CHUNK_SIZE, chunks, sha256_of_own_file
from mlops.utils import progress
from mlops.utils.install import STORE_EXTRAS, install_command

_GLOB_CHARACTERS = frozenset("*?[")
"""Characters that make fsspec's multi-path calls treat a path as a pattern."""
_CONCURRENT_READS = 64
"""Small files requested at once by :meth:`FsspecStore.read_many` on async filesystems."""
_FOLDER_FILESYSTEMS = (MemoryFileSystem, LocalFileSystem)
"""Filesystems whose folders exist apart from their files, so an emptied one is removed (``rmdir``).
Elsewhere ``rmdir`` means nothing for a prefix, or removes a whole bucket or container."""


def _deletes_exact_names(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether ``fs.rm_file`` deletes one exact name: fsspec's async default runs the recursive,
    pattern-expanding ``_rm`` instead when an implementation has no ``_rm_file`` of its own."""
    from fsspec.asyn import AsyncFileSystem

    return not isinstance(fs, AsyncFileSystem) or type(fs)._rm_file is not AsyncFileSystem._rm_file


_warned_non_exclusive: set[str] = set()


def open_url(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem serving ``url`` (``storage_options`` go to it) and the path of ``url``
    on it; a :class:`StoreError` with the install command when its implementation is missing, an
    :class:`InvalidPathError` for a URL no object store can name."""
    try:
        url.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPathError(
            f"cannot use {url!r}: {url[exc.start : exc.end]!r} has no UTF-8 form (a lone surrogate); "
            "object keys are UTF-8: choose a path without it"
        ) from None
    try:
        fs, path = fsspec.url_to_fs(url, **dict(storage_options or {}))
    except (ImportError, ValueError) as exc:
        extra = STORE_EXTRAS.get(url.split("://", 1)[0] if "://" in url else "file")
        hint = f"; to add support for it run: {install_command(extra)}" if extra else ""
        raise StoreError(f"cannot open {url!r}: {exc}{hint}") from exc
    return fs, str(path)


def protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    """The URL schemes of ``fs``'s implementation, lower case (``fs.protocol`` is a string or a tuple)."""
    protocol = fs.protocol
    return tuple(p.lower() for p in ((protocol,) if isinstance(protocol, str) else protocol))


class FsspecStore(Store):
    """A store served by an fsspec filesystem (``fs``), with the storage options it was opened with."""

    def __init__(self, fs: fsspec.AbstractFileSystem) -> None:
        self.fs = fs

    @classmethod
    def locate(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> Location:
        fs, path = open_url(url, storage_options)
        return cls.on(fs, path, url)

    @classmethod
    def on(cls, fs: fsspec.AbstractFileSystem, path: str, url: str) -> Location:
        """The :class:`Location` of ``url``, at ``path`` of the filesystem ``fs`` (from :func:`open_url`),
        on a store of this class."""
        return Location(cls(fs), path.rstrip("/") or path, url.rstrip("/") if len(url) > 1 else url)

    @property
    def kind(self) -> str:
        return protocols(self.fs)[0]

    @property
    def storage_options(self) -> Mapping[str, Any] | None:
        return getattr(self.fs, "storage_options", None)

    def serves(self, scheme: str) -> bool:
        return scheme in protocols(self.fs) or super().serves(scheme)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FsspecStore) and type(other) is type(self) and other.fs is self.fs

    def __hash__(self) -> int:
        return hash((type(self), id(self.fs)))

    def _invalidate(self, loc: Location) -> None:
        try:
            self.fs.invalidate_cache(loc.path)
        except Exception:  # noqa: BLE001 - a cache we cannot clear only costs freshness
            pass

    # --- queries -------------------------------------------------------------------------------------

    def exists(self, loc: Location) -> bool:
        self._invalidate(loc)
        with store_errors(loc, "check"):
            return bool(self.fs.exists(loc.path))

    def is_dir(self, loc: Location) -> bool:
        self._invalidate(loc)
        with store_errors(loc, "check"):
            return bool(self.fs.isdir(loc.path))

    def list_dir(self, loc: Location) -> list[DirEntry]:
        self._invalidate(loc)
        with store_errors(loc, "list"):
            entries = self.fs.ls(loc.path, detail=True)
        own = loc.path.rstrip("/")
        found: dict[str, DirEntry] = {}
        for entry in entries:
            full = str(entry["name"]).rstrip("/")
            is_dir = entry.get("type") == "directory"
            if full == own:
                if not is_dir:
                    raise NotADirectoryError(loc.url)
                continue  # some object stores list a folder's own placeholder
            name = full.rsplit("/", 1)[-1]
            found[name] = DirEntry(name, is_dir or found.get(name, DirEntry(name, False)).is_dir)
        return sorted(found.values(), key=lambda e: e.name)

    def list_files(self, loc: Location, *, follow_outside_links: bool = False) -> dict[str, int]:
        self._invalidate(loc)
        with store_errors(loc, "list"):
            if not self.fs.isdir(loc.path):
                return {loc.name: int(self.fs.size(loc.path) or 0)}
            base = loc.path.rstrip("/") + "/"
            found = self.fs.find(loc.path, withdirs=False, detail=True)
        files = {}
        for path, info in found.items():
            rel = path[len(base) :] if path.startswith(base) else os.path.basename(path)
            files[rel] = int(info.get("size") or 0)
        return dict(sorted(files.items()))

    def read_bytes(self, loc: Location) -> bytes:
        with store_errors(loc, "read"):
            try:
                return bytes(self.fs.cat_file(loc.path, start=0))
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                raise
            except Exception:  # noqa: BLE001 - object stores refuse a range of an empty object: ask plainly
                return bytes(self.fs.cat_file(loc.path))

    def read_many(self, locs: Sequence[Location]) -> list[bytes | FileNotFoundError]:
        """On async stores the files are requested concurrently (one ranged GET each: no HEAD
        first), each by its exact name: not through ``fs.cat``, which expands patterns. A file
        the batch could not read is asked for again alone (object stores refuse a range of an
        empty object)."""
        found: list[Any] = self._cat_files([loc.path for loc in locs]) if len(locs) > 1 else [None] * len(locs)
        results: list[bytes | FileNotFoundError] = []
        for loc, value in zip(locs, found, strict=True):
            if not isinstance(value, (bytes, bytearray, memoryview, FileNotFoundError)):
                try:
                    value = self.read_bytes(loc)
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                    value = exc
                except StoreError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the boundary with third-party storage code
                    raise StoreError(f"cannot read {loc.url}: {type(exc).__name__}: {exc}") from exc
            if isinstance(value, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
                results.append(FileNotFoundError(loc.url))
            else:
                results.append(bytes(value))
        return results

    def _cat_files(self, paths: list[str]) -> list[Any]:
        """The bytes (or the exception) of each path, requested concurrently on async filesystems
        with their single-file ``_cat_file``; ``None`` for each path elsewhere (read one by one)."""
        if not (getattr(self.fs, "async_impl", False) and hasattr(self.fs, "_cat_file")):
            return [None] * len(paths)
        from fsspec.asyn import sync

        async def all_of() -> list[Any]:
            limit = asyncio.Semaphore(_CONCURRENT_READS)

            async def one(path: str) -> Any:
                async with limit:
                    return await self.fs._cat_file(path, start=0)

            return await asyncio.gather(*(one(path) for path in paths), return_exceptions=True)

        found: list[Any] = sync(self.fs.loop, all_of)
        return found

    def open_read(self, loc: Location) -> AbstractContextManager[Any]:
        return self.fs.open(loc.path, "rb")  # type: ignore[no-any-return]

    # --- writes --------------------------------------------------------------------------------------

    def create_exclusive(self, loc: Location, data: bytes, *, durable: bool = True) -> None:
        """The filesystem's create-only write (mode ``"xb"``; object stores: ``If-None-Match: *``). A
        filesystem without one gets a check-then-write and a :class:`NonExclusiveStoreWarning`."""
        if not data:
            raise ValueError("create_exclusive needs a non-empty body")
        try:
            with store_errors(loc, "write"):
                try:
                    f = self.fs.open(loc.path, "xb")
                except (ValueError, NotImplementedError):  # the store has no create-only mode
                    self._create_check_then_write(loc, data)
                    return
                try:
                    with f:
                        f.write(data)
                except FileExistsError:
                    # A create-only write can be retried by the client after a lost success reply;
                    # then the "existing" object is our own. Compare bytes before reporting a loss.
                    try:
                        if self.read_bytes(loc) == data:
                            return
                    except (OSError, StoreError):
                        pass
                    raise
        finally:
            self._invalidate(loc)

    def _create_check_then_write(self, loc: Location, data: bytes) -> None:
        if self.kind not in _warned_non_exclusive:
            _warned_non_exclusive.add(self.kind)
            warnings.warn(
                f"the {self.kind}:// store cannot create files exclusively: two processes publishing the "
                "same version at the same moment could both succeed. Publish each version from one process.",
                NonExclusiveStoreWarning,
                stacklevel=5,
            )
        if self.fs.exists(loc.path):
            raise FileExistsError(loc.url)
        with self.fs.open(loc.path, "wb") as f:
            f.write(data)

    def open_write(self, loc: Location) -> Any:
        return self.fs.open(loc.path, "wb")

    def copy_from(self, src: Location, dest: Location, *, durable: bool = True) -> FileEntry:
        """A file of this same store is copied inside it (:meth:`server_copy`), no bytes through this
        machine for the write, then read back once to hash it: one download instead of a download
        and an upload, and the sha256 is that of the very bytes stored. Anything else is
        streamed, hashed while written."""
        if src.store == self and self.server_copy(src, dest):
            entry = self._hash_stored(dest)
            self.written(dest, entry)
            return entry
        return super().copy_from(src, dest, durable=durable)

    def _hash_stored(self, loc: Location) -> FileEntry:
        """The sha256 and size of the file at ``loc``, read through once."""
        self._invalidate(loc.parent)  # a listing cached before the copy (adlfs) would say it is missing
        sha = hashlib.sha256()
        size = 0
        with store_errors(loc, "read"), self.open_read(loc) as f:
            for chunk in chunks(f):
                sha.update(chunk)
                size += len(chunk)
                progress.advance(len(chunk))
        return FileEntry(sha.hexdigest(), size)

    def replace_file(self, loc: Location, data: bytes) -> None:
        """The bytes go to a hidden sibling, which is then copied over ``loc`` inside the store (one
        object replacement) and deleted. ``cp_file``, not ``mv``: fsspec's ``mv`` expands patterns."""
        folder, name = loc.path.rstrip("/").rsplit("/", 1)
        tmp = Location(self, f"{folder}/.{name}.{uuid.uuid4().hex}.tmp", f"{loc.url}.tmp")
        try:
            self.write_stream(tmp, [data])
            with store_errors(loc, "replace"):
                self.fs.cp_file(tmp.path, loc.path)
        finally:
            self.delete_files([tmp])
            self._invalidate(loc)

    def delete_files(self, locs: Sequence[Location], *, prune: Location | None = None) -> None:
        """The filesystem's single-file delete (``rm_file``) of each, side by side. Never ``fs.rm``, which
        expands patterns (``v*`` would be every version) and whole folders. Folders are removed
        (``rmdir``) only on filesystems that have them apart from their files (memory://): the
        folders the deleted files were in, and with ``prune`` the empty ones below it."""
        folders = folders_to_prune((loc.path for loc in locs), prune.path, posixpath.dirname) if prune else []
        try:
            self._delete(locs)
        finally:
            for loc in locs:
                self._invalidate(loc)
        if isinstance(self.fs, MemoryFileSystem) and prune is not None:  # folders made apart from any file
            below = prune.path.rstrip("/") + "/"
            made = {d for d in self.fs.pseudo_dirs if d.startswith(below)}
            folders = sorted({*folders, *made}, key=len, reverse=True)
        if isinstance(self.fs, _FOLDER_FILESYSTEMS):
            for folder in folders:
                try:
                    self.fs.rmdir(folder)
                except (OSError, NotImplementedError):  # not empty, or no such folder of its own
                    pass
                self._invalidate(Location(self, folder, folder))

    def _delete(self, locs: Sequence[Location]) -> None:
        """Delete each of ``locs`` by its exact name (a missing one is fine)."""
        from mlops.utils.concurrency import concurrently

        concurrently(self._delete_one, locs, workers=self.transfer_workers)

    def _delete_one(self, loc: Location) -> None:
        if _GLOB_CHARACTERS.intersection(loc.path) and not _deletes_exact_names(self.fs):
            raise StoreError(
                f"cannot delete {loc.url}: this {self.kind} filesystem has no delete of one exact name, and "
                "its recursive delete would read the name as a pattern; delete it with the store's own tools"
            )
        with store_errors(loc, "remove"):
            try:
                self.fs.rm_file(loc.path)
            except FileNotFoundError:
                pass

    # --- verified reads ------------------------------------------------------------------------------

    def fetch_verified(self, loc: Location, entry: FileEntry, relpath: str, *, use_cache: bool = True) -> str:
        """Downloaded into the local content cache (``MLOPS_CACHE_DIR``, default ``~/.cache/mlops``)
        under its sha256 and hashed before it is used; a blob already in the cache is not
        downloaded again unless ``use_cache`` is false."""
        blob = cache.blob_path(entry.sha256)
        if use_cache and os.path.exists(blob) and os.path.getsize(blob) == entry.size:
            progress.advance(entry.size)
            return blob
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(blob), prefix=".part-")
        os.close(fd)
        try:
            try:
                with store_errors(loc, "read"):
                    size = self._download(loc, tmp, entry.size)
            except FileNotFoundError as exc:
                raise missing_file(relpath, loc.url) from exc
            if size != entry.size:
                check_entry(relpath, entry, "", size)
            check_entry(relpath, entry, sha256_of_own_file(tmp), size)
            os.replace(tmp, blob)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return blob

    def read_cached_verified(self, loc: Location, entry: FileEntry, relpath: str) -> bytes:
        """Fetched once into the content cache (one GET of that object), then read from there and
        checked again: the bytes returned are the bytes hashed."""
        with open(self.fetch_verified(loc, entry, relpath), "rb") as f:
            data = f.read()
        check_entry(relpath, entry, hashlib.sha256(data).hexdigest(), len(data))
        return data

    def _download(self, loc: Location, dest: str, expected_size: int) -> int:
        """A small file takes one request (a ranged GET: no HEAD first). Larger ones go through the
        store's own ``get_file``, which streams them (some split large objects into concurrent
        parts), so mlops downloads exactly as fast as ``fs.get``."""
        if expected_size <= CHUNK_SIZE:
            # A range skips the HEAD request on object stores, but some refuse ranges of empty objects.
            data = self.fs.cat_file(loc.path, start=0) if expected_size else self.fs.cat_file(loc.path)
            with open(dest, "wb") as f:
                f.write(data)
            progress.advance(len(data))
            return len(data)
        self.fs.get_file(loc.path, dest, callback=_ProgressCallback(progress.advancer()))
        return os.path.getsize(dest)

    # --- optional capabilities -------------------------------------------------------------------------

    def server_copy(self, src: Location, dest: Location) -> bool:
        """``fs.cp_file`` inside one filesystem (a server-side copy on object stores, a copy in
        memory://); not ``fs.copy``, which expands patterns."""
        if src.store != self:
            return False
        try:
            with store_errors(dest, "copy"):
                self._copy_inside(src, dest)
        except (NotImplementedError, FileNotFoundError, StoreError):
            return False
        finally:
            self._invalidate(dest)
        return True

    def _copy_inside(self, src: Location, dest: Location) -> None:
        """Copy ``src`` to ``dest``, both on this filesystem."""
        self.fs.cp_file(src.path, dest.path)

    def content_exists(self, loc: Location, entry: FileEntry) -> bool:
        self._invalidate(loc)
        try:
            return int(self.fs.info(loc.path).get("size") or 0) == entry.size
        except Exception:  # noqa: BLE001 - in doubt, the caller writes the bytes
            return False


class _ProgressCallback(fsspec.callbacks.Callback):  # type: ignore[misc]  # fsspec is untyped
    """Forwards the byte counts fsspec reports (from its own event loop) to the progress bar."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        super().__init__()
        self._advance = advance

    def relative_update(self, inc: int = 1) -> None:
        self.value += inc
        self._advance(inc)
