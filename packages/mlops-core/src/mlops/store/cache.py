"""This machine's caches: downloaded blobs by sha256, and records of local files already verified.

A local file that mlops hashed (while writing or reading it) is remembered by its identity (device,
inode, size, mtime, ctime), so loading it again needs no second hash pass; any rewrite, rename over
or chmod changes ctime, which users cannot set back, so a changed file is always hashed again.
"""

from __future__ import annotations

import os

VERIFIED_CACHE_MIN = 1 << 20
"""Local files this large or larger are remembered as verified; smaller ones hash faster than a
marker file is created."""


def cache_dir() -> str:
    """The local content cache for remote files (``MLOPS_CACHE_DIR`` or ``~/.cache/mlops``)."""
    return os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops"
    )


def blob_path(sha256: str) -> str:
    """Where the downloaded bytes with this sha256 are kept."""
    return os.path.join(cache_dir(), "blobs", sha256[:2], sha256)


def identity(path: str) -> tuple[os.stat_result, str]:
    """The stat of a local file and a key that changes whenever its content can have changed."""
    st = os.stat(path)
    return st, identity_key(st)


def identity_key(st: os.stat_result) -> str:
    return f"{st.st_dev}-{st.st_ino}-{st.st_size}-{st.st_mtime_ns}-{st.st_ctime_ns}"


def _marker(key: str, sha256: str) -> str:
    return os.path.join(cache_dir(), "verified", sha256[:2], f"{sha256}-{key}")


def remember_verified(path: str, sha256: str) -> None:
    """Record that the local file at ``path``, as it is now, has ``sha256``. Files smaller than
    :data:`VERIFIED_CACHE_MIN` are not recorded: hashing them again is cheaper than the record."""
    try:
        st, key = identity(path)
        if st.st_size < VERIFIED_CACHE_MIN:
            return
        marker = _marker(key, sha256)
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        with open(marker, "a"):
            pass
    except OSError:  # a cache we cannot write only costs a later hash pass
        pass


def was_verified(st: os.stat_result, sha256: str) -> bool:
    """Whether the file with this stat was recorded as holding ``sha256``."""
    return st.st_size >= VERIFIED_CACHE_MIN and os.path.exists(_marker(identity_key(st), sha256))


def _hash_record(st: os.stat_result) -> str:
    key = identity_key(st)
    return os.path.join(cache_dir(), "hashes", key[-2:], key)


HASH_RECORD_MIN = 64 * 1024
"""Source files this large or larger have their sha256 remembered; reading a smaller one again
costs what reading its record would."""


def worth_remembering(st: os.stat_result) -> bool:
    """Whether a source file of this stat is large enough for its sha256 to be remembered."""
    return st.st_size >= HASH_RECORD_MIN


def remembered_sha256(st: os.stat_result) -> str | None:
    """The sha256 recorded for the local file with this stat (see :func:`remember_sha256`), if any."""
    if not worth_remembering(st):
        return None
    try:
        with open(_hash_record(st)) as f:
            sha256 = f.read().strip()
    except OSError:
        return None
    return sha256 if len(sha256) == 64 else None


def remember_sha256(st: os.stat_result, sha256: str) -> None:
    """Record that the local file with this stat (device, inode, size, mtime, ctime) holds ``sha256``,
    so a publish that meets it unchanged does not read it again (files from :data:`HASH_RECORD_MIN` on)."""
    if not worth_remembering(st):
        return
    record = _hash_record(st)
    try:
        os.makedirs(os.path.dirname(record), exist_ok=True)
        tmp = f"{record}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(sha256)
        os.replace(tmp, record)
    except OSError:  # a cache we cannot write only costs a later hash pass
        pass
