"""Every other filesystem through fsspec: object stores (S3, Azure Blob, GCS), memory://, and any
fsspec implementation. Create-only writes use the store's conditional write (S3 and Azure:
``If-None-Match: *`` through mode ``"xb"``); reads of remote files go through the local content
cache, verified before use."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import posixpath
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
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
from mlops.utils.install import install_command

_GLOB_CHARACTERS = frozenset("*?[")
"""Characters that make fsspec's multi-path calls treat a path as a pattern."""
_DELETE_BATCH = 1000
"""Keys one S3 DeleteObjects request may name."""
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


class FsspecStore(Store):
    """A store served by an fsspec filesystem (``fs``), with the storage options it was opened with."""

    def __init__(self, fs: fsspec.AbstractFileSystem) -> None:
        self.fs = fs

    @classmethod
    def locate(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> Location:
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
            protocol = url.split("://", 1)[0] if "://" in url else "file"
            extra = {"s3": "s3", "s3a": "s3", "az": "azure", "abfs": "azure", "abfss": "azure"}.get(protocol)
            hint = f"; to add support for it run: {install_command(extra)}" if extra else ""
            raise StoreError(f"cannot open {url!r}: {exc}{hint}") from exc
        path = path.rstrip("/") or path
        return Location(cls(fs), path, url.rstrip("/") if len(url) > 1 else url)

    @property
    def kind(self) -> str:
        protocol = self.fs.protocol
        return str(protocol if isinstance(protocol, str) else protocol[0])

    @property
    def storage_options(self) -> Mapping[str, Any] | None:
        return getattr(self.fs, "storage_options", None)

    def serves(self, scheme: str) -> bool:
        protocols = (self.fs.protocol,) if isinstance(self.fs.protocol, str) else tuple(self.fs.protocol)
        return scheme in {p.lower() for p in protocols} or super().serves(scheme)

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
            except Exception:  # noqa: BLE001 - S3 and Azure refuse a range of an empty object: ask plainly
                return bytes(self.fs.cat_file(loc.path))

    def read_many(self, locs: Sequence[Location]) -> list[bytes | FileNotFoundError]:
        """On async stores the files are requested concurrently (one ranged GET each: no HEAD
        first), each by its exact name: not through ``fs.cat``, which expands patterns. A file
        the batch could not read is asked for again alone (S3 and Azure refuse a range of an
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
        """The store's create-only write (S3: ``If-None-Match: *``). A store without one gets a
        check-then-write and a :class:`NonExclusiveStoreWarning`."""
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
        """A file of this same store is copied inside it, no bytes through this machine for the
        write: S3 computes the copy's SHA-256 itself (CopyObject with ``ChecksumAlgorithm``), so
        nothing moves at all; on other stores with a server-side copy (Azure, GCS) the copy is read
        back once to hash it: one download instead of a download and an upload, and the sha256 is
        that of the very bytes stored. Anything else is streamed, hashed while written."""
        if src.store == self:
            entry = self._copy_hashed_by_server(src, dest)
            if entry is None and self.server_copy(src, dest):
                entry = self._hash_stored(dest)
            if entry is not None:
                self.written(dest, entry)
                return entry
        return super().copy_from(src, dest, durable=durable)

    def _copy_hashed_by_server(self, src: Location, dest: Location) -> FileEntry | None:
        """S3: one CopyObject asking the service for the copy's SHA-256, then one HEAD for it and
        the size. ``None`` (the caller falls back) where the service does not give a whole-object
        SHA-256 (S3-compatible services without checksums, composite checksums of multipart
        copies) or refuses the copy (over 5 GB)."""
        request = self._s3_copy_request(src, dest)
        if request is None:
            return None
        call, copy = request
        dest_bucket, dest_key = copy["Bucket"], copy["Key"]
        try:
            with store_errors(dest, "copy"):
                try:
                    call("copy_object", **copy, ChecksumAlgorithm="SHA256")
                except FileNotFoundError as exc:
                    raise StoreError(f"{src.url} vanished while it was being copied") from exc
                except Exception:  # noqa: BLE001 - refused (too large, no checksums): the caller falls back
                    return None
                head = call("head_object", Bucket=dest_bucket, Key=dest_key, ChecksumMode="ENABLED")
        finally:
            self._invalidate(dest)
        checksum = head.get("ChecksumSHA256")
        if not isinstance(checksum, str) or "-" in checksum or head.get("ChecksumType", "FULL_OBJECT") != "FULL_OBJECT":
            return None  # the copy stays; the caller's fallback copies over it
        try:
            digest = base64.b64decode(checksum, validate=True)
        except ValueError:
            return None
        if len(digest) != hashlib.sha256().digest_size:
            return None
        size = int(head["ContentLength"])
        progress.advance(size)
        return FileEntry(digest.hex(), size)

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
        """S3: DeleteObjects requests naming each key (up to 1000 a request). Elsewhere: the
        filesystem's single-file delete (``rm_file``), side by side. Never ``fs.rm``, which
        expands patterns (``v*`` would be every version) and whole folders. Folders are removed
        (``rmdir``) only on filesystems that have them apart from their files (memory://): the
        folders the deleted files were in, and with ``prune`` the empty ones below it."""
        folders = folders_to_prune((loc.path for loc in locs), prune.path, posixpath.dirname) if prune else []
        try:
            if getattr(self.fs, "call_s3", None) is not None:
                self._delete_objects(locs)
            else:
                from mlops.utils.concurrency import concurrently

                concurrently(self._delete_one, locs, workers=self.transfer_workers)
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

    def _delete_objects(self, locs: Sequence[Location]) -> None:
        """S3 DeleteObjects with the exact keys, in batches of the 1000 keys one request may name."""
        call = self.fs.call_s3
        by_bucket: dict[str, list[Location]] = {}
        for loc in locs:
            by_bucket.setdefault(loc.path.partition("/")[0], []).append(loc)
        for bucket, batch in by_bucket.items():
            for start in range(0, len(batch), _DELETE_BATCH):
                part = batch[start : start + _DELETE_BATCH]
                with store_errors(part[0], "remove"):
                    reply = call(
                        "delete_objects",
                        Bucket=bucket,
                        Delete={"Objects": [{"Key": loc.path.partition("/")[2]} for loc in part], "Quiet": True},
                    )
                failed = [e for e in reply.get("Errors") or [] if e.get("Code") != "NoSuchKey"]
                if failed:
                    first = failed[0]
                    raise StoreError(
                        f"cannot remove s3://{bucket}/{first.get('Key')}: {first.get('Code')}: {first.get('Message')}"
                        + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
                    )

    @contextmanager
    def staging(self, root: Location) -> Iterator[str]:
        folder = tempfile.mkdtemp(prefix="mlops-staging-")
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

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
        store's own ``get_file``, which streams them (s3fs splits large objects into concurrent
        parts), so mlops downloads exactly as fast as ``fs.get``."""
        if expected_size <= CHUNK_SIZE:
            # A range skips the HEAD request on object stores, but S3 refuses ranges of empty objects.
            data = self.fs.cat_file(loc.path, start=0) if expected_size else self.fs.cat_file(loc.path)
            with open(dest, "wb") as f:
                f.write(data)
            progress.advance(len(data))
            return len(data)
        self.fs.get_file(loc.path, dest, callback=_ProgressCallback(progress.advancer()))
        return os.path.getsize(dest)

    @contextmanager
    def local_folder(self, loc: Location, files: Mapping[str, FileEntry]) -> Iterator[str]:
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

    # --- optional primitives -------------------------------------------------------------------------

    def server_copy(self, src: Location, dest: Location) -> bool:
        """``fs.cp_file`` inside one filesystem (S3 CopyObject, Azure copy-from-URL, memory); not
        ``fs.copy``, which expands patterns."""
        if src.store != self:
            return False
        try:
            with store_errors(dest, "copy"):
                if not self._copy_object(src, dest):
                    self.fs.cp_file(src.path, dest.path)
        except (NotImplementedError, FileNotFoundError, StoreError):
            return False
        finally:
            self._invalidate(dest)
        return True

    def _s3_copy_request(self, src: Location, dest: Location) -> tuple[Any, dict[str, Any]] | None:
        """s3fs' request function and the arguments of a CopyObject of ``src`` to ``dest``; ``None``
        where this filesystem is not S3."""
        call = getattr(self.fs, "call_s3", None)
        if call is None:
            return None
        bucket, _, key = src.path.partition("/")
        dest_bucket, _, dest_key = dest.path.partition("/")
        return call, {"Bucket": dest_bucket, "Key": dest_key, "CopySource": {"Bucket": bucket, "Key": key}}

    def _copy_object(self, src: Location, dest: Location) -> bool:
        """S3: one CopyObject request (``fs.cp_file`` first asks for the source's size, a second
        request per file); False elsewhere, and for objects over CopyObject's 5 GB limit."""
        request = self._s3_copy_request(src, dest)
        if request is None:
            return False
        call, copy = request
        try:
            call("copy_object", **copy)
        except FileNotFoundError:
            raise
        except Exception:  # noqa: BLE001 - too large for one CopyObject, or refused: fs.cp_file decides
            return False
        return True

    def abort_uploads(self, loc: Location) -> int:
        """S3 (``call_s3`` on the filesystem): list the multipart uploads under the prefix, abort each."""
        call = getattr(self.fs, "call_s3", None)
        if call is None:
            return 0
        bucket, _, key = loc.path.partition("/")
        prefix = f"{key.rstrip('/')}/"
        with store_errors(loc, "abort the unfinished uploads under"):
            listed = call("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
            uploads = listed.get("Uploads") or []
            for upload in uploads:
                call("abort_multipart_upload", Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return len(uploads)

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
