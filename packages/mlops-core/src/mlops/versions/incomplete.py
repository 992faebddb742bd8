"""Finding and removing incomplete versions: what a publish (or a removal) that crashed or was killed left.

An incomplete version is a folder of a publication root that holds a publish claim
(``.mlops-publishing``) and no meta.json. It is never loaded or listed as a version, but it blocks
publishing that version again until it is removed, on purpose: removing it is safe only when no
publisher is still writing it, which mlops can check for publishers on this machine (their process
id is in the claim) but not for others.

:func:`remove_incomplete` (``mlops clean``) removes those, and the hidden staging folders
(``.tmp-*`` holding a claim) a killed local publish leaves, and nothing else: only directly inside a
folder it recognised as a publication root (some of its folders are versions or claimed), never a
folder without a claim (a user's ``ROOT/notes``), never a committed version. Pointed at anything
else it raises :class:`~mlops.errors.NotAPublicationRootError` and removes nothing.
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

from mlops import metadata
from mlops.errors import NotAPublicationRootError, NotAVersionFolderError, NoVersionsError, RootNotFoundError
from mlops.store import Location, resolve
from mlops.store.base import TMP_PREFIX
from mlops.versions import deletion, layout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncompleteVersion:
    """A version folder holding a publish claim and no meta.json."""

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
    """The incomplete versions under the publication root ``root``, oldest claim first (none when
    ``root`` does not exist yet)."""
    loc = resolve(root, storage_options)
    try:
        listing = layout.scan(loc)
    except RootNotFoundError:
        return []
    found = [_describe(loc.child(_name_in(loc, url))) for url in listing.incomplete]
    return sorted(found, key=lambda f: (f.started_at or "", f.version))


def remove_incomplete(
    root: str | os.PathLike[str],
    *,
    versions: list[str] | None = None,
    older_than: float = 0.0,
    include_running: bool = False,
    dry_run: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """Delete the incomplete versions under the publication root ``root`` (and the staging folders
    killed local publishes left there) and return their paths; ``dry_run`` returns exactly those
    paths and deletes nothing.

    Skipped: those not named in ``versions`` (when given; staging folders then too), those whose
    publish started less than ``older_than`` seconds ago or at an unknown time (use it when
    publishers on other machines may still be running), and those whose publisher is a live process
    on this machine unless ``include_running``. A folder is re-identified just before its deletion:
    one committed meanwhile is a version, never removed. Raises
    :class:`~mlops.errors.NotAPublicationRootError` (nothing removed) when ``root`` is not a
    publication root.
    """
    loc = resolve(root, storage_options)
    chosen: list[deletion.Removal] = []
    for target, item in _leftovers(loc):
        if versions is not None and (item.version not in versions or item.version.startswith(TMP_PREFIX)):
            continue
        if item.running and not include_running:
            logger.info("skipping %s: process %s on this machine is still publishing it", item.path, item.pid)
            continue
        if older_than and not _older_than(item.started_at, older_than):
            continue
        try:
            chosen.append(deletion.plan(target, states=("incomplete", "staging")))
        except NotAVersionFolderError as exc:
            logger.warning("not removing %s: %s", target.url, exc)
    if dry_run:
        return [removal.loc.url for removal in chosen]
    removed = []
    for removal in chosen:
        try:
            deletion.remove(removal)
        except NotAVersionFolderError as exc:  # committed meanwhile: a version now
            logger.warning("not removing %s: %s", removal.loc.url, exc)
            continue
        logger.info("removed incomplete version %s", removal.loc.url)
        removed.append(removal.loc.url)
    return removed


def _leftovers(root: Location) -> list[tuple[Location, IncompleteVersion]]:
    """The incomplete versions and claimed staging folders directly inside ``root``, once ``root``
    is recognised as a publication root (else :class:`NotAPublicationRootError`)."""
    store = root.store
    try:
        listing = layout.scan(root)
    except NoVersionsError:
        if store.exists(root.child(metadata.META_FILE)):
            raise NotAPublicationRootError(
                f"{root.url} is a version, not a publication root: `mlops clean` removes incomplete versions "
                f"directly inside a root; pass the folder it was published under ({root.parent.url}). To remove "
                "this version, use `mlops rm`."
            ) from None
        raise NotAPublicationRootError(f"{root.url} is a file, not a publication root") from None
    incomplete = [root.child(_name_in(root, url)) for url in listing.incomplete]
    staging = [
        folder
        for folder in (root.child(name) for name in layout.version_folders(root, hidden=True))
        if store.exists(folder.child(layout.CLAIM_FILE))
    ]
    if not (listing.versions or listing.unreadable or incomplete or staging) and store.list_dir(root):
        names = [_name_in(root, url) for url in listing.other]
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        raise NotAPublicationRootError(
            f"{root.url} is not a publication root: none of its folders is a version or an incomplete publish"
            + (f" ({shown})" if shown else "")
            + ". `mlops clean` removes only incomplete versions directly inside a root (the folder given to "
            "publish()); if these folders are publication roots, run it on each of them"
            + (f", e.g. `mlops clean {listing.other[0]}`." if names else ".")
        )
    return [(folder, _describe(folder)) for folder in [*incomplete, *staging]]


def _name_in(root: Location, url: str) -> str:
    """The name of the folder of ``root`` whose URL (as :meth:`Location.child` makes it) is ``url``."""
    return url[len(root.url.rstrip("/" + root.sep)) + len(root.sep) :]


def _describe(version: Location) -> IncompleteVersion:
    claim = _read_claim(version)
    host = claim.get("host") if isinstance(claim.get("host"), str) else None
    pid = claim.get("pid") if isinstance(claim.get("pid"), int) else None
    started = claim.get("started_at") if isinstance(claim.get("started_at"), str) else None
    if pid == os.getpid() and host == socket.gethostname():  # this very process: ask it
        running = claim.get("token") in layout.ACTIVE_CLAIMS
    else:
        running = host == socket.gethostname() and pid is not None and _alive(pid)
    return IncompleteVersion(version.url, version.name, started, host, pid, running)


def _read_claim(version: Location) -> dict[str, Any]:
    """The claim of ``version``; when its publisher died creating it, the claim's temporary file."""
    store = version.store
    try:
        candidates = (
            [version.child(layout.CLAIM_FILE)]
            if store.exists(version.child(layout.CLAIM_FILE))
            else [
                version.child(e.name) for e in store.list_dir(version) if e.name.startswith(TMP_PREFIX) and not e.is_dir
            ]
        )
    except (FileNotFoundError, NotADirectoryError):
        return {}
    for candidate in candidates:
        try:
            raw = json.loads(store.read_bytes(candidate))
        except (OSError, ValueError):
            continue
        if isinstance(raw, dict):
            return raw
    return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # not a process id this system can have
        return False
    try:  # a zombie (killed, not yet reaped by its parent) is not publishing anything
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _older_than(started_at: str | None, seconds: float) -> bool:
    """Whether a publish that started at ``started_at`` started over ``seconds`` ago; False when
    the time is unknown or unreadable (then it may still be running somewhere: kept)."""
    if started_at is None:
        return False
    try:
        return time.time() - datetime.fromisoformat(started_at).timestamp() >= seconds
    except ValueError:
        return False
