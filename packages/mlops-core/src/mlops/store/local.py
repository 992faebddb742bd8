"""This machine's disks, through the operating system directly (no fsspec): exclusive creation by
hard link or no-replace rename, fsync before commit, renames into place, hard links, memory maps."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

from mlops import progress
from mlops.errors import IntegrityError, StoreError, UnsafeLinkError
from mlops.store import cache
from mlops.store.base import TMP_PREFIX, DirEntry, FileEntry, Store, check_entry, missing_file, store_errors
from mlops.store.hashing import chunks, hash_own_file, sha256_of_file
from mlops.store.location import Location


class LocalStore(Store):
    """Files on this machine's disks (plain paths and ``file://`` URLs)."""

    transfer_workers: ClassVar[int] = 1  # local to local, threads only contend for the GIL and directory locks
    needs_sync: ClassVar[bool] = True

    @classmethod
    def locate(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> Location:
        for prefix in ("file://", "local://"):
            if url.startswith(prefix):
                path = os.path.abspath(url[len(prefix) :] or "/")
                return Location(_LOCAL, path, url.rstrip("/") if len(url) > len(prefix) + 1 else url)
        path = os.path.abspath(os.path.expanduser(url))
        return Location(_LOCAL, path, path, os.sep)

    @property
    def kind(self) -> str:
        return "local"

    def serves(self, scheme: str) -> bool:
        return scheme in ("file", "local")

    # --- queries -------------------------------------------------------------------------------------

    def exists(self, loc: Location) -> bool:
        return os.path.lexists(loc.path)

    def is_dir(self, loc: Location) -> bool:
        return os.path.isdir(loc.path)

    def list_dir(self, loc: Location) -> list[DirEntry]:
        with store_errors(loc, "list"), os.scandir(loc.path) as entries:
            found = [DirEntry(e.name, e.is_dir()) for e in entries]
        return sorted(found, key=lambda e: e.name)

    def list_files(self, loc: Location, *, follow_outside_links: bool = False) -> dict[str, int]:
        with store_errors(loc, "list"):
            st = os.stat(loc.path)
            if not stat.S_ISDIR(st.st_mode):
                return {loc.name: st.st_size}
            files: dict[str, int] = {}
            root = os.path.realpath(loc.path)
            self._walk(loc.path, "", root, [(st.st_dev, st.st_ino)], follow_outside_links, files)
        return dict(sorted(files.items()))

    def _walk(
        self, folder: str, prefix: str, root: str, ancestors: list[tuple[int, int]], follow: bool, out: dict[str, int]
    ) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = f"{prefix}{entry.name}"
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not os.path.exists(entry.path):
                        raise UnsafeLinkError(f"{entry.path} is a broken symbolic link (to {os.readlink(entry.path)})")
                    if not follow and os.path.commonpath([root, target]) != root:
                        raise UnsafeLinkError(
                            f"{entry.path} is a symbolic link to {target}, outside the raw folder {root}; it is "
                            "not copied into the dataset unless you ask for it with follow_symlinks=True"
                        )
                if entry.is_dir():
                    st = entry.stat()
                    key = (st.st_dev, st.st_ino)
                    if key in ancestors:
                        raise UnsafeLinkError(
                            f"{entry.path} is a symbolic link loop (it leads back to a folder that contains it); "
                            "remove the link or point it elsewhere"
                        )
                    self._walk(entry.path, rel + "/", root, [*ancestors, key], follow, out)
                else:
                    out[rel] = entry.stat().st_size

    def read_bytes(self, loc: Location) -> bytes:
        with store_errors(loc, "read"), open(loc.path, "rb") as f:
            return f.read()

    def open_read(self, loc: Location) -> AbstractContextManager[Any]:
        return open(loc.path, "rb")

    # --- writes --------------------------------------------------------------------------------------

    def create_exclusive(self, loc: Location, data: bytes, *, durable: bool = True) -> None:
        """The bytes go to a temporary sibling first and are hard-linked into place (atomic,
        exclusive, never half-written). A missing parent folder is created holding the file in one
        step, by a rename that never replaces anything (see :func:`rename_noreplace`). With
        ``durable=False`` the disk is only asked to start writing the bytes back (no waiting), so
        that the caller's later :meth:`sync_many` finds little left to flush."""
        if not data:
            raise ValueError("create_exclusive needs a non-empty body")
        with store_errors(loc, "write"):
            folder = os.path.dirname(loc.path)
            if not os.path.isdir(folder):
                _create_folder_with_file(folder, os.path.basename(loc.path), data, durable)
                return
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    _flush(f.fileno(), durable)
                os.link(tmp, loc.path)
            except FileNotFoundError:
                # Our temporary file was removed under us: a resumer that won this very file (a
                # takeover marker) clears the .tmp-* files in the version, ours among them.
                if os.path.lexists(loc.path):
                    raise FileExistsError(f"{loc.path} was created by another writer") from None
                raise
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            if durable:
                fsync_dir(folder)

    def open_write(self, loc: Location) -> Any:
        try:  # opened directly: fsspec's wrapper costs more than a small file's write
            return open(loc.path, "wb")
        except FileNotFoundError:
            os.makedirs(os.path.dirname(loc.path), exist_ok=True)
            return open(loc.path, "wb")

    def finish_write(self, f: Any) -> None:
        f.flush()
        os.fsync(f.fileno())

    def sync(self, loc: Location) -> None:
        with store_errors(loc, "sync"):
            try:
                fsync_path(loc.path)
            except FileNotFoundError as exc:
                raise StoreError(f"{loc.url} vanished before it was made durable") from exc

    def sync_many(self, locs: Sequence[Location]) -> None:
        """Many files: one ``syncfs`` of their filesystem (it flushes their data and the folders
        holding them, and reports write-back errors since Linux 5.8), measured faster than one
        fsync each from a few hundred files on; fewer: an fsync each, on helper threads."""
        if len(locs) >= SYNCFS_MIN and _syncfs(os.path.dirname(locs[0].path)):
            return
        from mlops.concurrency import concurrently

        concurrently(self.sync, locs, workers=4)

    def written(self, loc: Location, entry: FileEntry) -> None:
        cache.remember_verified(loc.path, entry.sha256)

    def replace_file(self, loc: Location, data: bytes) -> None:
        folder = os.path.dirname(loc.path)
        tmp = os.path.join(folder, f"{TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with store_errors(loc, "replace"):
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, loc.path)
                fsync_dir(folder)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def remove(self, loc: Location) -> None:
        with store_errors(loc, "remove"):
            try:
                if os.path.isdir(loc.path) and not os.path.islink(loc.path):
                    shutil.rmtree(loc.path)
                else:
                    os.unlink(loc.path)
            except FileNotFoundError:
                pass

    def move_in(self, staged: Location, dest: Location) -> FileEntry:
        """Renamed when both are on this filesystem: the bytes are read once (to hash them, from a
        memory map) and never copied; the fsync runs while they are hashed."""
        if not isinstance(staged.store, LocalStore):
            return self.copy_from(staged, dest)
        with store_errors(dest, "write"):
            sha = hashlib.sha256()
            with open(staged.path, "rb") as f, ThreadPoolExecutor(1, thread_name_prefix="mlops-fsync") as pool:
                synced = pool.submit(os.fsync, f.fileno())
                size = hash_own_file(f, sha)
                synced.result()
            os.makedirs(os.path.dirname(dest.path), exist_ok=True)
            try:
                os.rename(staged.path, dest.path)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                return self.copy_from(staged, dest)  # another filesystem after all
        cache.remember_verified(dest.path, sha.hexdigest())
        return FileEntry(sha.hexdigest(), size)

    @contextmanager
    def staging(self, root: Location) -> Iterator[str]:
        created = not os.path.exists(root.path)
        folder = None
        for _attempt in range(3):  # another publisher may remove an empty root it had created
            os.makedirs(root.path, exist_ok=True)
            try:
                folder = tempfile.mkdtemp(dir=root.path, prefix=TMP_PREFIX)
                break
            except FileNotFoundError:
                continue
        if folder is None:
            folder = tempfile.mkdtemp(dir=root.path, prefix=TMP_PREFIX)
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            if created:
                try:
                    os.rmdir(root.path)  # created for the staging folder; nothing was published
                except OSError:
                    pass

    # --- verified reads ------------------------------------------------------------------------------

    def fetch_verified(self, loc: Location, entry: FileEntry, relpath: str, *, use_cache: bool = True) -> str:
        """Hashed in place. A file of at least :data:`~mlops.store.cache.VERIFIED_CACHE_MIN` bytes
        that this machine already hashed and that has not changed since (same inode, size, mtime,
        ctime) is not hashed again unless ``use_cache`` is false."""
        try:
            st, _key = cache.identity(loc.path)
        except FileNotFoundError as exc:
            raise missing_file(relpath, os.path.dirname(loc.url) or loc.url) from exc
        if use_cache and st.st_size == entry.size and cache.was_verified(st, entry.sha256):
            progress.advance(st.st_size)
            return loc.path
        if st.st_size != entry.size:
            raise IntegrityError(
                f"{relpath} is {st.st_size} bytes, the manifest says {entry.size}: the file is truncated or "
                "was changed after publication",
                file=relpath,
            )
        sha = hashlib.sha256()
        with open(loc.path, "rb") as f:
            for chunk in chunks(f):
                sha.update(chunk)
                progress.advance(len(chunk))
        check_entry(relpath, entry, sha.hexdigest(), st.st_size)
        cache.remember_verified(loc.path, entry.sha256)
        return loc.path

    def verify_files(self, loc: Location, files: Mapping[str, FileEntry]) -> None:
        """Small files are read and hashed in one tight loop (from the page cache, a thread per
        file costs more than the hash); files of a megabyte or more are hashed on helper threads."""
        from mlops.concurrency import concurrently

        large = [(rel, entry) for rel, entry in files.items() if entry.size >= VERIFY_THREADED_MIN]
        base = loc.path if os.sep == "/" else None
        done = 0
        for rel, entry in files.items():
            if entry.size >= VERIFY_THREADED_MIN:
                continue
            path = f"{base}/{rel}" if base is not None else os.path.join(loc.path, *rel.split("/"))
            try:
                data = _read_small(path, entry.size + 1)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
                raise missing_file(rel, loc.url) from exc
            if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
                check_entry(rel, entry, hashlib.sha256(data).hexdigest(), len(data))
            done += len(data)
            if done >= 1 << 20:  # progress in steps: a call per small file costs more than its hash
                progress.advance(done)
                done = 0
        progress.advance(done)
        concurrently(
            lambda item: self.fetch_verified(loc.child(item[0]), item[1], item[0], use_cache=False), large, workers=4
        )

    @contextmanager
    def local_folder(self, loc: Location, files: Mapping[str, FileEntry]) -> Iterator[str]:
        from mlops.concurrency import concurrently

        concurrently(lambda item: self.fetch_verified(loc.child(item[0]), item[1], item[0]), files.items())
        yield loc.path

    # --- optional primitives -------------------------------------------------------------------------

    def hard_link(self, src: Location, dest: Location) -> bool:
        if not isinstance(src.store, LocalStore):
            return False
        try:
            try:
                os.link(src.path, dest.path)
            except FileNotFoundError:
                if not os.path.exists(src.path):
                    return False
                os.makedirs(os.path.dirname(dest.path), exist_ok=True)
                os.link(src.path, dest.path)
        except OSError:  # another filesystem, too many links, a filesystem without hard links
            return False
        return True

    def abort_uploads(self, loc: Location) -> int:
        """Remove the temporary files and folders (``.tmp-*``) that writers killed inside
        :meth:`create_exclusive` left below ``loc``; return how many."""
        removed = 0
        with store_errors(loc, "remove the temporary files under"):
            for folder, dirs, files in os.walk(loc.path):
                for name in [n for n in dirs if n.startswith(TMP_PREFIX)]:
                    shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
                    dirs.remove(name)
                    removed += 1
                for name in files:
                    if name.startswith(TMP_PREFIX):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(os.path.join(folder, name))
                        removed += 1
        return removed

    def known_entry(self, loc: Location) -> FileEntry | None:
        """Hashed with ``read()`` (a source may change meanwhile); remembered only when the file's
        identity (inode, size, mtime, ctime) is the same before and after, so a file rewritten while
        it was hashed is hashed again next time."""
        try:
            before = os.stat(loc.path)
            sha256 = cache.remembered_sha256(before)
            if sha256 is not None:
                return FileEntry(sha256, before.st_size)
            sha256, size = sha256_of_file(loc.path)
            after = os.stat(loc.path)
        except OSError:
            return None
        if cache.identity_key(before) != cache.identity_key(after) or size != after.st_size:
            return None
        cache.remember_sha256(after, sha256)
        return FileEntry(sha256, size)

    def identity(self, loc: Location) -> object | None:
        try:
            st = os.stat(loc.path)
        except OSError:
            return None
        return st if cache.worth_remembering(st) else None

    def remember_entry(self, loc: Location, identity: object, entry: FileEntry) -> None:
        assert isinstance(identity, os.stat_result)
        try:
            after = os.stat(loc.path)
        except OSError:
            return
        if cache.identity_key(identity) == cache.identity_key(after) and after.st_size == entry.size:
            cache.remember_sha256(after, entry.sha256)

    def content_exists(self, loc: Location, entry: FileEntry) -> bool:
        try:
            return os.stat(loc.path).st_size == entry.size
        except OSError:
            return False


def _read_small(path: str, limit: int) -> bytes:
    """Up to ``limit`` bytes of the file at ``path``, read to its end or the limit with bare
    descriptor calls: ``open()`` would add a buffered reader, an ``fstat`` and a tty check per file,
    which is most of the cost of verifying a small file."""
    fd = os.open(path, _READ_FLAGS)
    try:
        data = os.read(fd, limit)
        while len(data) < limit and (more := os.read(fd, limit - len(data))):
            data += more
        return data
    finally:
        os.close(fd)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_LOCAL = LocalStore()
VERIFY_THREADED_MIN = 1 << 20
"""Files this large are verified on helper threads; smaller ones inline (see ``verify_files``)."""
SYNCFS_MIN = 256
"""From this many small files on, a publish flushes their filesystem once instead of each file."""


def _syncfs(folder: str) -> bool:
    """``syncfs(2)`` on the filesystem holding ``folder``; False where the call is missing (then the
    caller fsyncs each file). A failure to write back raises :class:`StoreError`."""
    libc = _libc()
    if libc is None or not hasattr(libc, "syncfs"):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            if err in (errno.ENOSYS, errno.EINVAL):
                return False
            raise StoreError(f"cannot flush the filesystem of {folder}: {os.strerror(err)}")
    finally:
        os.close(fd)
    return True


def _create_folder_with_file(folder: str, name: str, data: bytes, durable: bool = True) -> None:
    """Make ``folder`` appear holding ``name`` in one step: built as a hidden sibling, then renamed
    into place without ever replacing anything (a crash leaves no empty ``folder``, and a folder
    someone else made, even an empty one, makes this fail)."""
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(dir=parent, prefix=TMP_PREFIX)
    try:
        with open(os.path.join(staging, name), "wb") as f:
            f.write(data)
            f.flush()
            _flush(f.fileno(), durable)
        if durable:
            fsync_dir(staging)
        rename_noreplace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if durable:
        fsync_dir(parent)


_SYNC_FILE_RANGE_WRITE = 2


def _flush(fd: int, durable: bool) -> None:
    """fsync ``fd`` (``durable``), or only start writing its dirty pages back: Linux's
    ``sync_file_range(SYNC_FILE_RANGE_WRITE)`` queues them for the disk without waiting, so the
    disk stays busy while the caller goes on and a later flush has little left to do."""
    if durable:
        os.fsync(fd)
        return
    libc = _libc()
    if libc is not None and hasattr(libc, "sync_file_range"):
        libc.sync_file_range(fd, ctypes.c_int64(0), ctypes.c_int64(0), _SYNC_FILE_RANGE_WRITE)


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


def fsync_path(path: str) -> None:
    """fsync the file or folder at ``path`` by name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str) -> None:
    """fsync a folder's entries where the system allows it (some filesystems refuse; not fatal)."""
    try:
        fsync_path(folder)
    except OSError:
        pass
