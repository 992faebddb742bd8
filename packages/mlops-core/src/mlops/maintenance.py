"""Finding and removing incomplete versions: what a publish that crashed or was killed leaves.

An incomplete version is a folder under a publication root without ``meta.json``. It is never
loaded or listed as a version, but it blocks publishing that version again until it is removed,
on purpose: removing it is safe only when no publisher is still writing it, which mlops can
check for publishers on this machine (their process id is in the claim) but not for others.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlops import layout, metadata, publication
from mlops.errors import RootNotFoundError
from mlops.store import Location, resolve

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncompleteVersion:
    """A version folder without meta.json."""

    path: str
    version: str
    started_at: str | None
    """When its publisher started (from the claim), if known."""
    host: str | None
    pid: int | None
    running: bool
    """True when its publisher is a live process on this machine: removing it would break that publish."""


def list_incomplete(
    root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
) -> list[IncompleteVersion]:
    """The incomplete versions under the publication root ``root``, oldest claim first."""
    loc = resolve(root, storage_options)
    found = [_describe(child) for child in _children(loc)]
    return sorted((f for f in found if f is not None), key=lambda f: (f.started_at or "", f.version))


def remove_incomplete(
    root: str | os.PathLike[str],
    *,
    versions: list[str] | None = None,
    older_than: float = 0.0,
    include_running: bool = False,
    dry_run: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """Delete incomplete versions under ``root`` and return their paths.

    Only folders without meta.json are touched (re-checked just before deletion). Skipped: those
    not named in ``versions`` (when given), those whose publish started less than ``older_than``
    seconds ago (use it when publishers on other machines may still be running), and those whose
    publisher is a live process on this machine unless ``include_running``. ``dry_run`` only
    reports what would be removed.
    """
    loc = resolve(root, storage_options)
    store = loc.store
    removed = []
    for item in list_incomplete(root, storage_options=storage_options):
        if versions is not None and item.version not in versions:
            continue
        if item.running and not include_running:
            logger.info("skipping %s: process %s on this machine is still publishing it", item.path, item.pid)
            continue
        if older_than and item.started_at and _age_seconds(item.started_at) < older_than:
            continue
        target = loc.child(item.version)
        if store.exists(target.child(metadata.META_FILE)):
            continue  # committed meanwhile: a version now, never removed
        if not dry_run:
            store.remove(target)
            logger.info("removed incomplete version %s", item.path)
        removed.append(item.path)
    if versions is None:  # staging folders of publishers killed before their version appeared
        for staging in _children(loc, hidden=True):
            stage = _describe(staging)
            if stage is None or (stage.running and not include_running):
                continue
            if older_than and stage.started_at and _age_seconds(stage.started_at) < older_than:
                continue
            if not dry_run:
                store.remove(staging)
            removed.append(staging.url)
    return removed


def _children(root: Location, hidden: bool = False) -> list[Location]:
    """Version folders under ``root`` or, with ``hidden``, the staging folders mlops left there."""
    try:
        return [root.child(name) for name in layout.version_folders(root, hidden=hidden)]
    except RootNotFoundError:
        return []


def _describe(version: Location) -> IncompleteVersion | None:
    store = version.store
    if store.exists(version.child(metadata.META_FILE)):
        return None
    claim: dict[str, Any] = {}
    try:
        raw = json.loads(store.read_bytes(version.child(layout.CLAIM_FILE)))  # staging folders hold one too
        claim = raw if isinstance(raw, dict) else {}
    except (OSError, ValueError):
        pass
    host = claim.get("host") if isinstance(claim.get("host"), str) else None
    pid = claim.get("pid") if isinstance(claim.get("pid"), int) else None
    started = claim.get("started_at") if isinstance(claim.get("started_at"), str) else None
    if pid == os.getpid() and host == socket.gethostname():  # this very process: ask it
        running = claim.get("token") in publication.ACTIVE_CLAIMS
    else:
        running = host == socket.gethostname() and pid is not None and _alive(pid)
    return IncompleteVersion(version.url, version.name, started, host, pid, running)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is not publishing anything
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _age_seconds(started_at: str) -> float:
    try:
        return time.time() - datetime.fromisoformat(started_at).timestamp()
    except ValueError:
        return float("inf")
