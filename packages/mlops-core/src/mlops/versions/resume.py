"""Resuming a publish: taking over an incomplete version whose publisher is gone.

``publish(..., resume=True)`` calls :func:`take_over` before writing. The publisher of an incomplete
version is gone when it was a process on this machine that no longer runs, or, for publishers on
other machines (whose liveness cannot be checked), when its claim is older than ``older_than``
seconds. Of several resumers of one version exactly one wins: each creates the create-only marker
``.mlops-takeover-<token of the dead claim>``, and only its creator goes on. The winner then puts its
own claim in place, aborts the store's unfinished uploads under the version (S3 multipart uploads),
and keeps every file already there whose sha256 matches what it would write (see
:class:`mlops.versions.dedup.Deduplicator`); the rest is written and the version committed as usual.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import datetime

from mlops import metadata
from mlops.errors import PublicationPathAlreadyExistsError
from mlops.store import Location
from mlops.versions import layout
from mlops.versions.incomplete import list_incomplete
from mlops.versions.writer import PublishTarget, TakenOver, VersionWriter

TAKEOVER_PREFIX = ".mlops-takeover-"
"""Name prefix of the create-only markers resumers race for (removed when the version is committed)."""
logger = logging.getLogger(__name__)


def writer(target: PublishTarget) -> VersionWriter:
    """The :class:`VersionWriter` of ``target``'s version; with ``target.resume``, one that takes
    over the incomplete version there when its publisher is gone (a new version when there is none)."""
    root, version = target.root, target.version
    new = VersionWriter(root, version)
    return new.resuming(take_over(root, version, new.claim, target.older_than)) if target.resume else new


def take_over(root: Location, version: str, claim: bytes, older_than: float = 0.0) -> TakenOver | None:
    """Take over the incomplete version ``root/version`` when its publisher is gone; ``None`` when
    there is no incomplete version there (the publish then goes the usual way). Raises
    :class:`~mlops.errors.PublicationPathAlreadyExistsError` when its publisher may still run or
    another resumer won."""
    loc = root.child(version)
    store = root.store
    if not store.exists(loc) or store.exists(loc.child(metadata.META_FILE)) or not layout.is_incomplete(loc):
        return None
    token = _claim_token(loc)  # read before the liveness check: the marker names the claim found dead
    found = [item for item in list_incomplete(root.url, storage_options=_options(root)) if item.version == version]
    if not found:
        return None
    item = found[0]
    if not _gone(item.running, item.host, item.started_at, older_than):
        raise PublicationPathAlreadyExistsError(
            f"{loc.url} is being published by process {item.pid} on {item.host or 'an unknown machine'} "
            f"(started {item.started_at or 'at an unknown time'}); wait for it, or, if it is dead on another "
            "machine, resume with older_than=SECONDS so claims older than that count as abandoned"
        )
    marker = f"{TAKEOVER_PREFIX}{token}"
    try:
        store.create_exclusive(loc.child(marker), claim)
    except FileExistsError:
        raise PublicationPathAlreadyExistsError(
            f"another process is already resuming {loc.url}; wait for it to commit, then load the version"
        ) from None
    store.replace_file(loc.child(layout.CLAIM_FILE), claim)
    aborted = store.abort_uploads(loc)
    files = {
        rel: size
        for rel, size in store.list_files(loc).items()
        if rel not in (layout.CLAIM_FILE, metadata.META_FILE) and not rel.startswith(TAKEOVER_PREFIX)
    }
    logger.info("resuming %s: %d file(s) already there, %d unfinished upload(s) aborted", loc.url, len(files), aborted)
    return TakenOver(loc, files, marker)


def _options(root: Location) -> dict[str, object] | None:
    options = root.store.storage_options
    return dict(options) if options else None


def _gone(running: bool, host: str | None, started_at: str | None, older_than: float) -> bool:
    if running:
        return False
    if host == socket.gethostname():
        return True  # checked: no such live process here
    return older_than > 0 and _age(started_at) >= older_than


def _age(started_at: str | None) -> float:
    if started_at is None:
        return float("inf")
    try:
        return time.time() - datetime.fromisoformat(started_at).timestamp()
    except ValueError:
        return float("inf")


def _claim_token(loc: Location) -> str:
    """The dead claim's token (what resumers race on), or ``none`` when its claim never got written."""
    try:
        claim = json.loads(loc.store.read_bytes(loc.child(layout.CLAIM_FILE)))
    except (OSError, ValueError):
        return "none"
    token = claim.get("token") if isinstance(claim, dict) else None
    return token if isinstance(token, str) and token.isalnum() else "none"
