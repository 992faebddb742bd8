"""This machine's disks, through the operating system directly (no fsspec): exclusive creation by
hard link or no-replace rename, fsync before commit, renames into place, hard links, memory maps.

Every file and folder written here, temporaries included, gets the mode a plain ``open()`` or
``mkdir()`` gives in this process (0o666 and 0o777 less the umask): ``tempfile.mkstemp`` and
``mkdtemp`` (0600, 0700) are not used, so a version published under a umask of 022 is readable
by every user who can reach its folder."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

from mlops.errors import IntegrityError, InvalidPathError, SpecialFileError, StoreError, UnsafeLinkError
from mlops.store import cache
from mlops.store.base import (
    TMP_PREFIX,
    DirEntry,
    FileEntry,
    Location,
    Store,
    check_entry,
    folders_to_prune,
    missing_file,
    store_errors,
)
from mlops.store.hashing import chunks, hash_own_file, sha256_of_file
from mlops.utils import progress


class LocalStore(Store):
    """Files on this machine's disks (plain paths and ``file://`` URLs)."""

    transfer_workers: ClassVar[int] = 1  # local to local, threads only contend for the GIL and directory locks
    needs_sync: ClassVar[bool] = True

    @classmethod
    def locate(cls, url: str, storage_options: Mapping[str, Any] | None = None) -> Location:
        for prefix in ("file://", "local://"):
            if url.startswith(prefix):
                path = _holdable(os.path.abspath(url[len(prefix) :] or "/"))
                return Location(_LOCAL, path, url.rstrip("/") if len(url) > len(prefix) + 1 else url)
        path = _holdable(os.path.abspath(os.path.expanduser(url)))
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
                _check_regular(loc.path, st)
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
                    st = entry.stat()
                    _check_regular(entry.path, st)
                    out[rel] = st.st_size

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
            fd, tmp = _new_temporary_file(folder)
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
        from mlops.utils.concurrency import concurrently

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

    def delete_files(self, locs: Sequence[Location], *, prune: Location | None = None) -> None:
        """``unlink`` each file (a symbolic link is removed, never its target; a folder named here
        is left alone), then ``rmdir`` every empty folder below ``prune``, deepest first, and
        ``prune`` itself (an empty folder a serializer or a raw tree left is no content)."""
        if prune is not None:
            folders_to_prune((loc.path for loc in locs), prune.path, os.path.dirname)  # all inside, or nothing
        for loc in locs:
            with store_errors(loc, "remove"):
                try:
                    os.unlink(loc.path)
                except (FileNotFoundError, IsADirectoryError):
                    pass
                except PermissionError:  # some systems refuse to unlink a folder with EPERM
                    if not os.path.isdir(loc.path) or os.path.islink(loc.path):
                        raise
        if prune is None:
            return
        for folder, _dirs, _files in os.walk(prune.path, topdown=False):  # links to folders are not walked
            try:
                os.rmdir(folder)
            except OSError:  # not empty (something else is there), or gone
                pass

    def list_tree(self, loc: Location) -> dict[str, int]:
        files: dict[str, int] = {}
        with store_errors(loc, "list"):
            self._walk_links_as_files(loc.path, "", files)
        return dict(sorted(files.items()))

    def _walk_links_as_files(self, folder: str, prefix: str, out: dict[str, int]) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    self._walk_links_as_files(entry.path, f"{prefix}{entry.name}/", out)
                else:
                    out[f"{prefix}{entry.name}"] = entry.stat(follow_symlinks=False).st_size

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
                folder = _new_temporary_folder(root.path)
                break
            except FileNotFoundError:
                continue
        if folder is None:
            folder = _new_temporary_folder(root.path)
        try:
            yield folder
        finally:
            staged = LocalStore.locate(folder)
            with contextlib.suppress(OSError, StoreError):
                self.delete_files([staged.child(rel) for rel in self.list_tree(staged)], prune=staged)
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
        from mlops.utils.concurrency import concurrently

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
        from mlops.utils.concurrency import concurrently

        concurrently(lambda item: self.fetch_verified(loc.child(item[0]), item[1], item[0]), files.items())
        yield loc.path

    # --- optional primitives -------------------------------------------------------------------------

    def hard_link(self, src: Location, dest: Location) -> bool:
        """Declined (the caller copies) when ``src`` has other permissions than a file this process
        creates: a version published under a wider umask must not share a private file's inode."""
        if not isinstance(src.store, LocalStore):
            return False
        mode = file_creation_mode()
        try:
            if mode is not None and stat.S_IMODE(os.stat(src.path).st_mode) != mode:
                return False
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
        found: list[str] = []
        folders: list[str] = []
        with store_errors(loc, "remove the temporary files under"):
            for folder, dirs, files in os.walk(loc.path):
                for name in [n for n in dirs if n.startswith(TMP_PREFIX)]:
                    folders.append(os.path.join(folder, name))
                    dirs.remove(name)
                found.extend(os.path.join(folder, name) for name in files if name.startswith(TMP_PREFIX))
        self.delete_files([LocalStore.locate(path) for path in found])
        for path in folders:
            tmp = LocalStore.locate(path)
            self.delete_files([tmp.child(rel) for rel in self.list_tree(tmp)], prune=tmp)
        return len(found) + len(folders)

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


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISCHR, "a character device"),
)


def _check_regular(path: str, st: os.stat_result) -> None:
    """Refuse a file that is not a regular file: reading a named pipe waits for a writer forever,
    and sockets and devices hold no bytes to copy."""
    if stat.S_ISREG(st.st_mode):
        return
    kind = next((name for test, name in _SPECIAL_KINDS if test(st.st_mode)), "a special file")
    link = f"a symbolic link to {os.path.realpath(path)}, which is " if os.path.islink(path) else ""
    raise SpecialFileError(
        f"{path} is {link}{kind}, not a regular file: only files and folders can be published. Move it "
        "out of the raw folder, or publish with raw='link' to record the folder without copying it"
    )


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


NAME_MAX = 255
"""Longest file or folder name, in bytes, on the filesystems of Linux, macOS and Windows."""


def _holdable(path: str) -> str:
    """``path`` if a local filesystem can hold it; else :class:`InvalidPathError`, raised before
    anything is written (otherwise creating its parent folders would succeed and the path itself fail)."""
    problem = None
    try:
        encoded = os.fsencode(path)
    except UnicodeEncodeError as exc:
        problem = f"{path[exc.start : exc.end]!r} cannot be encoded for this filesystem ({exc.reason})"
    else:
        longest = max(encoded.split(os.fsencode(os.sep)), key=len)
        if len(longest) > NAME_MAX:
            problem = f"a folder or file name in it is {len(longest)} bytes long; the limit is {NAME_MAX}"
    if problem is not None:
        raise InvalidPathError(f"cannot use the local path {path!r}: {problem}; choose another path")
    return path


def _create_folder_with_file(folder: str, name: str, data: bytes, durable: bool = True) -> None:
    """Make ``folder`` appear holding ``name`` in one step: built as a hidden sibling, then renamed
    into place without ever replacing anything (a crash leaves no empty ``folder``, and a folder
    someone else made, even an empty one, makes this fail)."""
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    staging = _new_temporary_folder(parent)
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


def file_creation_mode() -> int | None:
    """The permission bits of a file ``open()`` creates in this process (0o666 less the umask),
    read from Linux's ``/proc/self/status`` (``os.umask`` can only be read by changing it, which
    races with other threads); ``None`` where that file is missing."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _new_temporary_file(folder: str) -> tuple[int, str]:
    """A new, empty hidden file in ``folder`` (descriptor open for writing, path), created with the
    mode ``open(path, "wb")`` would give it."""
    path = os.path.join(folder, f"{TMP_PREFIX}{uuid.uuid4().hex}")
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CREATE_FLAGS, 0o666), path


def _new_temporary_folder(parent: str) -> str:
    """A new, empty hidden folder in ``parent``, created with the mode ``os.mkdir`` gives by default."""
    path = os.path.join(parent, f"{TMP_PREFIX}{uuid.uuid4().hex}")
    os.mkdir(path, 0o777)
    return path


_CREATE_FLAGS = getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
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
