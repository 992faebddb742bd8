"""Where artifacts live: one code path for every fsspec store.

A URL (or local path) is resolved once, at the edge, into a :class:`Location` that carries the
filesystem, the path inside it and the URL the user sees. Everything below works on locations and
never branches on ``"s3://"``. The few operations whose *semantics* differ between stores
(exclusive create, durability) live on :class:`Publisher`, which plugins can replace per URL scheme.
"""

from __future__ import annotations

import contextvars
import ctypes
import errno
import functools
import hashlib
import io
import mmap
import os
import posixpath
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import fsspec
import fsspec.callbacks
from fsspec.implementations.local import LocalFileOpener, LocalFileSystem

from mlops import progress
from mlops.errors import IntegrityError, MlopsError, StoreError

CHUNK_SIZE = 8 * 1024 * 1024
"""Bytes moved per read/write when streaming (large enough for sha256 and S3 to run at speed)."""
TMP_PREFIX = ".tmp-"
"""Prefix of the temporary files mlops creates next to a file it writes atomically."""
VERIFIED_CACHE_MIN = 1 << 20
"""Local files this large or larger are remembered as verified (see :func:`verify_file`); smaller
ones hash faster than a marker file is created."""
MAX_TRANSFERS = 8
"""Files moved at once: object stores are latency-bound, so small files go much faster in parallel."""

T = TypeVar("T")
R = TypeVar("R")


def concurrently(fn: Callable[[T], R], items: Iterable[T], workers: int = MAX_TRANSFERS) -> list[R]:
    """``[fn(item) for item in items]`` on a pool of threads (transfers wait on I/O and hashlib
    releases the GIL). The first failure is raised once running calls have finished; pending ones
    are cancelled. Progress reporting follows the calls into the threads."""
    items = list(items)
    if len(items) <= 1 or workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="mlops-transfer") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


@dataclass(frozen=True)
class Location:
    """A file or folder on some store: its filesystem, its path there, and its user-facing URL."""

    fs: fsspec.AbstractFileSystem
    path: str
    url: str

    def child(self, relpath: str) -> Location:
        """The location ``relpath`` (posix, relative) below this one."""
        relpath = relpath.strip("/")
        sep = os.sep if self.is_local and "://" not in self.url else "/"
        return Location(
            self.fs,
            posixpath.join(self.path, relpath),
            self.url.rstrip("/" + os.sep) + sep + relpath.replace("/", sep),
        )

    @property
    def name(self) -> str:
        """The last component of the path."""
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def is_local(self) -> bool:
        """True when the bytes are on this machine's disk (memory-mappable, renameable)."""
        return isinstance(self.fs, LocalFileSystem)

    def __str__(self) -> str:
        return self.url


def resolve(url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> Location:
    """Resolve a local path or fsspec URL into a :class:`Location` (the only place URLs are parsed)."""
    text = os.fspath(url)
    if not text:
        raise StoreError("an empty path was given; pass a local folder or a URL such as s3://bucket/key")
    try:
        fs, path = fsspec.url_to_fs(text, **(storage_options or {}))
    except (ImportError, ValueError) as exc:
        protocol = text.split("://", 1)[0] if "://" in text else "file"
        hint = ' (pip install "mlops-core[s3]")' if protocol in ("s3", "s3a") else ""
        raise StoreError(f"cannot open {text!r}: {exc}{hint}") from exc
    path = path.rstrip("/") or path
    if isinstance(fs, LocalFileSystem) and "://" not in text:
        text = os.path.abspath(text)
    return Location(fs, path, text.rstrip("/") if len(text) > 1 else text)


class PipelinedSha256:
    """sha256 computed on a helper thread, in order, one chunk in flight: the hash of a chunk runs
    while the caller writes that chunk (hashlib and file writes both release the GIL), so hashing
    adds little to the time of writing. Small chunks are hashed inline."""

    PIPELINE_MIN = 1 << 20

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._wait()
        if memoryview(data).nbytes < self.PIPELINE_MIN:
            self._sha.update(data)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-hash")
        self._pending = self._pool.submit(self._sha.update, data)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


@dataclass(frozen=True)
class FileEntry:
    """One line of a manifest: the sha256 and size of a stored file."""

    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}


class NonExclusiveStoreWarning(UserWarning):
    """Warned when a store cannot create files exclusively, so concurrent publishers of one version
    could both believe they won. Publish each version from one process only on such stores."""


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


class Publisher:
    """How artifacts are written to and read from a store; the default works for every fsspec URL.

    A plugin can register a subclass for particular URL schemes (see
    :func:`mlops.hookspecs.mlops_register_publishers`) to change how exclusive creation or
    durability is achieved on a store that needs it.
    """

    schemes: tuple[str, ...] = ()
    """URL schemes this publisher claims; the default publisher claims every scheme."""

    # --- queries ------------------------------------------------------------------------------------

    def exists(self, loc: Location) -> bool:
        """Whether a file, or a folder holding anything, is at ``loc`` (bypassing listing caches)."""
        self._invalidate(loc)
        with store_errors(loc, "check"):
            return bool(loc.fs.exists(loc.path))

    def is_dir(self, loc: Location) -> bool:
        """Whether ``loc`` is a folder (a prefix holding objects on object stores)."""
        self._invalidate(loc)
        with store_errors(loc, "check"):
            return bool(loc.fs.isdir(loc.path))

    def list_files(self, loc: Location) -> dict[str, int]:
        """``{relative posix path: size}`` of every file below ``loc`` (``{name: size}`` if ``loc``
        is a file), from one recursive listing."""
        self._invalidate(loc)
        with store_errors(loc, "list"):
            if not loc.fs.isdir(loc.path):
                return {loc.name: int(loc.fs.size(loc.path) or 0)}
            base = loc.path.rstrip("/") + "/"
            found = loc.fs.find(loc.path, withdirs=False, detail=True)
        files = {}
        for path, info in found.items():
            rel = path[len(base) :] if path.startswith(base) else posixpath.basename(path)
            files[rel] = int(info.get("size") or 0)
        return dict(sorted(files.items()))

    def read_bytes(self, loc: Location) -> bytes:
        """The whole content of a small, non-empty file (meta.json, a claim, a pickle), in one
        request on object stores."""
        with store_errors(loc, "read"):
            try:
                return bytes(loc.fs.cat_file(loc.path, start=0))
            except FileNotFoundError:
                raise
            except OSError:  # e.g. S3 refuses a range of an empty (truncated) object: ask plainly
                return bytes(loc.fs.cat_file(loc.path))

    # --- writes -------------------------------------------------------------------------------------

    def create_exclusive(self, loc: Location, data: bytes) -> None:
        """Create a file holding ``data`` if and only if nothing is at ``loc``: exactly one of
        several concurrent callers succeeds, the others get ``FileExistsError``.

        Locally the bytes go to a temporary sibling first and are hard-linked into place (atomic,
        exclusive, and never half-written); elsewhere the store's create-only write is used (S3:
        ``If-None-Match: *``). ``data`` must not be empty: S3 sends no condition for empty bodies.
        A store without create-only writes gets a check-then-write and a
        :class:`NonExclusiveStoreWarning`.
        """
        if not data:
            raise ValueError("create_exclusive needs a non-empty body")
        try:
            with store_errors(loc, "write"):
                if loc.is_local:
                    self._create_exclusive_local(loc, data)
                else:
                    self._create_exclusive_remote(loc, data)
        finally:
            self._invalidate(loc)

    def _create_exclusive_local(self, loc: Location, data: bytes) -> None:
        folder = os.path.dirname(loc.path)
        if not os.path.isdir(folder):
            self._create_folder_with_file(folder, os.path.basename(loc.path), data)
            return
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, loc.path)
        finally:
            os.unlink(tmp)
        _fsync_dir(folder)

    @staticmethod
    def _create_folder_with_file(folder: str, name: str, data: bytes) -> None:
        """Make ``folder`` appear holding ``name`` in one step: built as a hidden sibling, then
        renamed into place without ever replacing anything (a crash leaves no empty ``folder``,
        and a folder someone else made, even an empty one, makes this fail)."""
        parent = os.path.dirname(folder)
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(dir=parent, prefix=TMP_PREFIX)
        try:
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(staging)
            rename_noreplace(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _fsync_dir(parent)

    def _create_exclusive_remote(self, loc: Location, data: bytes) -> None:
        try:
            f = loc.fs.open(loc.path, "xb")
        except (ValueError, NotImplementedError):  # the store has no create-only mode
            self._create_check_then_write(loc, data)
            return
        try:
            with f:
                f.write(data)
        except FileExistsError:
            # A create-only write can be retried by the client after a lost success reply; then the
            # "existing" object is our own. Compare bytes before reporting a loss.
            try:
                if self.read_bytes(loc) == data:
                    return
            except (OSError, StoreError):
                pass
            raise

    def _create_check_then_write(self, loc: Location, data: bytes) -> None:
        protocol = loc.fs.protocol if isinstance(loc.fs.protocol, str) else loc.fs.protocol[0]
        if protocol not in _warned_non_exclusive:
            _warned_non_exclusive.add(protocol)
            warnings.warn(
                f"the {protocol}:// store cannot create files exclusively: two processes publishing the "
                "same version at the same moment could both succeed. Publish each version from one process.",
                NonExclusiveStoreWarning,
                stacklevel=4,
            )
        if loc.fs.exists(loc.path):
            raise FileExistsError(loc.url)
        with loc.fs.open(loc.path, "wb") as f:
            f.write(data)

    def open_write(self, loc: Location) -> Any:
        """Open ``loc`` for a streamed binary write (parents are created as needed)."""
        with store_errors(loc, "write"):
            if not loc.is_local:
                return loc.fs.open(loc.path, "wb")
            try:  # local files are opened directly: fsspec's wrapper costs more than a small file's write
                return open(loc.path, "wb")
            except FileNotFoundError:
                os.makedirs(os.path.dirname(loc.path), exist_ok=True)
                return open(loc.path, "wb")

    def finish_write(self, f: Any) -> None:
        """Flush a file opened by :meth:`open_write` to durable storage before it is closed."""
        if isinstance(f, (io.BufferedWriter, LocalFileOpener)):
            f.flush()
            os.fsync(f.fileno())

    def sync(self, loc: Location) -> None:
        """Make a file written with ``durable=False`` durable (fsync a local file; remote stores
        hold what they acknowledged, so there is nothing to do)."""
        if not loc.is_local:
            return
        with store_errors(loc, "sync"):
            try:
                _fsync_path(loc.path)
            except FileNotFoundError as exc:
                raise StoreError(f"{loc.url} vanished before it was made durable") from exc

    def remove(self, loc: Location) -> None:
        """Delete a file or a whole folder; missing paths are fine."""
        try:
            with store_errors(loc, "remove"):
                if loc.fs.exists(loc.path):
                    loc.fs.rm(loc.path, recursive=True)
        except FileNotFoundError:
            pass
        finally:
            self._invalidate(loc)

    # --- streaming ----------------------------------------------------------------------------------

    def write_stream(self, loc: Location, chunks: Iterable[bytes | memoryview], *, durable: bool = True) -> FileEntry:
        """Write ``chunks`` to ``loc``, hashing them on the way; returns the manifest entry.

        ``durable=False`` skips the fsync of a local file: the caller then calls :meth:`sync`
        (a publish does, on a helper thread, before meta.json is written)."""
        sha = PipelinedSha256()
        size = 0
        try:
            with store_errors(loc, "write"):
                with self.open_write(loc) as f:
                    for chunk in chunks:
                        sha.update(chunk)  # hashed on a helper thread while this thread writes it
                        f.write(chunk)
                        n = memoryview(chunk).nbytes
                        size += n
                        progress.advance(n)
                    if durable:
                        self.finish_write(f)
        finally:
            sha.close()
        digest = sha.hexdigest()
        if loc.is_local:
            remember_verified(loc.path, digest)
        return FileEntry(digest, size)

    def move_from(self, src: Location, dest: Location) -> FileEntry:
        """Move a local file into place, hashing it: renamed when both are on the same local
        filesystem (the bytes are read once and never copied; the fsync runs while they are
        hashed), copied otherwise."""
        if not (src.is_local and dest.is_local):
            return self.copy_from(src, dest)
        with store_errors(dest, "write"):
            sha = hashlib.sha256()
            with open(src.path, "rb") as f, ThreadPoolExecutor(1, thread_name_prefix="mlops-fsync") as pool:
                synced = pool.submit(os.fsync, f.fileno())
                size = _hash_own_file(f, sha)
                synced.result()
            os.makedirs(os.path.dirname(dest.path), exist_ok=True)
            try:
                os.rename(src.path, dest.path)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                return self.copy_from(src, dest)  # another filesystem after all
        remember_verified(dest.path, sha.hexdigest())
        return FileEntry(sha.hexdigest(), size)

    def staging_dir(self, root: Location) -> str:
        """A fresh local folder for files about to be published under ``root``: on the store's
        own filesystem when it is local (so they are moved in, not copied), else a temporary one.
        The caller removes it; a crash leaves a hidden ``.tmp-*`` folder that
        :func:`mlops.maintenance.remove_incomplete` sweeps."""
        if not root.is_local:
            return tempfile.mkdtemp(prefix="mlops-staging-")
        for _attempt in range(3):  # another publisher may remove an empty root it had created
            os.makedirs(root.path, exist_ok=True)
            try:
                return tempfile.mkdtemp(dir=root.path, prefix=TMP_PREFIX)
            except FileNotFoundError:
                continue
        return tempfile.mkdtemp(dir=root.path, prefix=TMP_PREFIX)

    def copy_from(self, src: Location, dest: Location, *, durable: bool = True) -> FileEntry:
        """Copy one file byte for byte from any store to any store, hashing while writing
        (``durable`` as for :meth:`write_stream`)."""
        try:
            with store_errors(src, "read"):
                with open(src.path, "rb") if src.is_local else src.fs.open(src.path, "rb") as fin:
                    return self.write_stream(dest, _chunks(fin), durable=durable)
        except FileNotFoundError as exc:
            raise StoreError(f"{src.url} vanished while it was being copied") from exc

    def fetch_verified(self, loc: Location, entry: FileEntry, relpath: str, *, use_cache: bool = True) -> str:
        """A local path holding the verified bytes of ``loc``.

        Local files are hashed in place. Remote files are downloaded into the local content cache
        (``MLOPS_CACHE_DIR``, default ``~/.cache/mlops``) under their sha256 and hashed before
        they are used; a blob already in the cache is not downloaded again unless ``use_cache`` is false.
        """
        if loc.is_local:
            verify_file(loc.path, entry, relpath, use_cache=use_cache)
            return loc.path
        blob = os.path.join(cache_dir(), "blobs", entry.sha256[:2], entry.sha256)
        if use_cache and os.path.exists(blob) and os.path.getsize(blob) == entry.size:
            progress.advance(entry.size)
            return blob
        os.makedirs(os.path.dirname(blob), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(blob), prefix=".part-")
        os.close(fd)
        try:
            try:
                with store_errors(loc, "read"):
                    size = _download(loc, tmp, entry.size)
            except FileNotFoundError as exc:
                raise IntegrityError(
                    f"{relpath} is listed in meta.json but missing from {loc.url}", file=relpath
                ) from exc
            if size != entry.size:
                _check(relpath, entry, "", size)
            _check(relpath, entry, _sha256_of(tmp), size)
            os.replace(tmp, blob)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return blob

    def read_verified(self, loc: Location, entry: FileEntry, relpath: str) -> bytes:
        """The bytes of a small file, returned only once their sha256 matches ``entry`` (the bytes
        checked are the bytes returned: nothing can change in between)."""
        try:
            data = self.read_bytes(loc)
        except FileNotFoundError as exc:
            raise IntegrityError(f"{relpath} is listed in meta.json but missing from {loc.url}", file=relpath) from exc
        _check(relpath, entry, hashlib.sha256(data).hexdigest(), len(data))
        progress.advance(len(data))
        return data

    @staticmethod
    def _invalidate(loc: Location) -> None:
        try:
            loc.fs.invalidate_cache(loc.path)
        except Exception:  # noqa: BLE001 - a cache we cannot clear only costs freshness
            pass


_warned_non_exclusive: set[str] = set()


def _download(loc: Location, dest: str, expected_size: int) -> int:
    """Download the remote file to the local path ``dest``; return how many bytes arrived.

    A small file takes one request (a ranged GET: no HEAD first). Larger ones go through the
    store's own ``get_file``, which streams them (s3fs splits large objects into concurrent
    parts of its block size), so mlops downloads exactly as fast as ``fs.get``."""
    if expected_size <= CHUNK_SIZE:
        # A range skips the HEAD request on object stores, but S3 refuses ranges of empty objects.
        data = loc.fs.cat_file(loc.path, start=0) if expected_size else loc.fs.cat_file(loc.path)
        with open(dest, "wb") as f:
            f.write(data)
        progress.advance(len(data))
        return len(data)
    loc.fs.get_file(loc.path, dest, callback=_ProgressCallback(progress.advancer()))
    return os.path.getsize(dest)


class _ProgressCallback(fsspec.callbacks.Callback):  # type: ignore[misc]  # fsspec is untyped
    """Forwards the byte counts fsspec reports (from its own event loop) to the progress bar."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        super().__init__()
        self._advance = advance

    def relative_update(self, inc: int = 1) -> None:
        self.value += inc
        self._advance(inc)


def _sha256_of(path: str) -> str:
    """The sha256 of a file mlops itself just wrote (a download in the cache)."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        _hash_own_file(f, sha, report=False)
    return sha.hexdigest()


def _hash_own_file(f: Any, sha: Any, *, report: bool = True) -> int:
    """Feed the open local file ``f`` to ``sha``; return its size.

    The file is memory-mapped rather than read: hashing straight from the page cache skips a
    copy (about a quarter faster here). Only for files mlops itself wrote (staged or downloaded):
    a mapped file that someone truncates meanwhile would crash the process, so files in a store
    are read with ``read()`` instead (:func:`verify_file`)."""
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        return 0
    with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mapped, memoryview(mapped) as view:
        for start in range(0, size, CHUNK_SIZE):
            sha.update(view[start : start + CHUNK_SIZE])
            if report:
                progress.advance(min(CHUNK_SIZE, size - start))
    return size


def _identity(path: str) -> tuple[os.stat_result, str]:
    """The stat of a local file and a key that changes whenever its content can have changed
    (ctime cannot be set back by users: any rewrite, rename over or chmod changes it)."""
    st = os.stat(path)
    return st, f"{st.st_dev}-{st.st_ino}-{st.st_size}-{st.st_mtime_ns}-{st.st_ctime_ns}"


def _verified_marker(key: str, sha256: str) -> str:
    return os.path.join(cache_dir(), "verified", sha256[:2], f"{sha256}-{key}")


def remember_verified(path: str, sha256: str) -> None:
    """Record that the local file at ``path``, as it is now, has ``sha256`` (hashed while it was
    written or read), so loading it again needs no second hash pass. Files smaller than
    ``VERIFIED_CACHE_MIN`` are not recorded: hashing them again is cheaper than the record."""
    try:
        st, key = _identity(path)
        if st.st_size < VERIFIED_CACHE_MIN:
            return
        marker = _verified_marker(key, sha256)
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        with open(marker, "a"):
            pass
    except OSError:  # a cache we cannot write only costs a later hash pass
        pass


def verify_file(path: str, entry: FileEntry, relpath: str, *, use_cache: bool = True) -> None:
    """Raise :class:`IntegrityError` unless the local file at ``path`` matches ``entry``.

    A file of at least ``VERIFIED_CACHE_MIN`` bytes that this machine already hashed (while
    publishing or loading it) and that has not changed since (same inode, size, mtime and ctime) is
    not hashed again unless ``use_cache`` is false.
    """
    try:
        st, key = _identity(path)
    except FileNotFoundError as exc:
        raise IntegrityError(f"{relpath} is listed in meta.json but missing", file=relpath) from exc
    size = st.st_size
    cached = use_cache and size == entry.size and size >= VERIFIED_CACHE_MIN
    if cached and os.path.exists(_verified_marker(key, entry.sha256)):
        progress.advance(size)
        return
    if size != entry.size:
        raise IntegrityError(
            f"{relpath} is {size} bytes, meta.json says {entry.size}: the file is truncated or "
            "was changed after publication",
            file=relpath,
        )
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in _chunks(f):
            sha.update(chunk)
            progress.advance(len(chunk))
    _check(relpath, entry, sha.hexdigest(), size)
    remember_verified(path, entry.sha256)


def _check(relpath: str, entry: FileEntry, sha256: str, size: int) -> None:
    if size != entry.size or sha256 != entry.sha256:
        raise IntegrityError(
            f"{relpath} does not match its sha256 in meta.json (expected {entry.sha256[:12]}..., "
            f"{entry.size} bytes; found {sha256[:12]}..., {size} bytes): the file was changed or "
            "truncated after publication; do not trust this version",
            file=relpath,
        )


def _chunks(f: Any) -> Iterator[bytes]:
    while True:
        chunk = f.read(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def rename_noreplace(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst``, raising ``FileExistsError`` if ``dst`` exists, atomically.

    ``os.rename`` silently replaces an empty destination folder; Linux's ``renameat2`` with
    ``RENAME_NOREPLACE`` does not. Where that call is missing (other systems, old kernels or
    filesystems without it) the fallback checks then renames, leaving a microsecond-wide window.
    """
    libc = _libc()
    if libc is not None:
        if libc.renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(err, os.strerror(err), dst)
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), dst)
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst)
    os.rename(src, dst)


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        return libc
    except (OSError, AttributeError):
        return None


def _fsync_path(path: str) -> None:
    """fsync the file or folder at ``path`` by name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: str) -> None:
    """fsync a folder's entries where the system allows it (some filesystems refuse; not fatal)."""
    try:
        _fsync_path(folder)
    except OSError:
        pass


def cache_dir() -> str:
    """The local content cache for remote files (``MLOPS_CACHE_DIR`` or ``~/.cache/mlops``)."""
    return os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops"
    )


def materialize(files: dict[str, str], directory: str) -> None:
    """Lay verified local files out under ``directory`` by relative path (hard links when the
    filesystem allows, copies otherwise), for frameworks that load from a folder."""
    for relpath, src in files.items():
        dest = os.path.join(directory, *relpath.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
