"""The one way mlops deletes: files named one by one, inside a folder identified as a version's.

Every removal goes through here: ``mlops rm`` (:func:`mlops.remove_version`), ``mlops clean``
(:func:`mlops.remove_incomplete`), a failed publish cleaning up after itself, and the files a
publish replaces in the folder it holds the claim of. From here, :meth:`Store.delete_files
<mlops.store.Store.delete_files>` deletes each file by its exact path: never a pattern (a version
or a root named ``v*`` or ``data[1]`` is just a name), never a folder with whatever it holds.

A folder is identified before anything in it is deleted, as:

- ``committed``: it holds ``meta.json``, a version;
- ``incomplete``: no meta.json, and the publish claim ``.mlops-publishing`` (or, when a publisher
  died while creating its claim, only that claim's temporary files ``.tmp-*``);
- ``staging``: a hidden ``.tmp-*`` folder of a root holding a claim (a local publish stages its
  files there);
- ``held``: the folder this process holds the claim of (a publish writing it), nothing read.

Anything else is refused with :class:`~mlops.errors.NotAVersionFolderError`, and so is a folder one
of whose sub-folders is a version or holds a claim: a publication root is never deleted whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mlops import metadata
from mlops.errors import MetadataError, NotAVersionFolderError
from mlops.store import Location
from mlops.store.base import TMP_PREFIX
from mlops.versions import layout

State = Literal["committed", "incomplete", "staging", "held"]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionFolder:
    """A folder identified as a version's (see the module's docstring for ``state``)."""

    loc: Location
    state: State


@dataclass(frozen=True)
class Removal(VersionFolder):
    """An identified folder and what removing it deletes: every file below it, as listed once."""

    files: dict[str, int]
    """``{relative path: size}`` of every file below the folder (links as files, never followed)."""

    @property
    def bytes(self) -> int:
        return sum(self.files.values())


def held(loc: Location) -> VersionFolder:
    """The version folder whose claim the caller holds (a publisher writing it)."""
    return VersionFolder(loc, "held")


def identify(loc: Location) -> VersionFolder:
    """``loc`` as a version folder, from its meta.json or its claim; else
    :class:`~mlops.errors.NotAVersionFolderError`."""
    store = loc.store
    if store.exists(loc.child(metadata.META_FILE)):
        return VersionFolder(loc, "committed")
    if loc.name.startswith(TMP_PREFIX):
        if store.exists(loc.child(layout.CLAIM_FILE)):
            return VersionFolder(loc, "staging")
    elif layout.is_incomplete(loc):
        return VersionFolder(loc, "incomplete")
    raise NotAVersionFolderError(
        f"{loc.url} is not a version folder: it holds no meta.json and no publish claim "
        f"({layout.CLAIM_FILE}). mlops deletes only what it can identify as its own; if this folder is "
        "not yours to keep, delete it with your own tools."
    )


def plan(loc: Location, *, states: Iterable[State]) -> Removal:
    """Identify ``loc`` (one of ``states``) and list what removing it deletes, refusing a folder
    that holds versions of its own. Nothing is deleted."""
    folder = identify(loc)
    wanted = set(states)
    if folder.state not in wanted:
        raise NotAVersionFolderError(
            f"{loc.url} is a {folder.state} version, not {' or '.join(sorted(wanted))}: not removed"
        )
    files = loc.store.list_tree(loc)
    _refuse_a_root(loc, files)
    return Removal(folder.loc, folder.state, files)


def remove(removal: Removal) -> None:
    """Delete the folder :func:`plan` identified and listed, so that at every instant it is a
    version or an incomplete one, never something else:

    1. a committed version gets a claim first (create-only; if one is there, it stays claimed);
    2. meta.json goes: the version disappears from listings and loads at once;
    3. every other file listed (and any that appeared meanwhile) goes;
    4. the claim goes last, then the folders left empty.

    Killed at any step, what is left is an incomplete version (claimed, no meta.json) that
    ``mlops clean`` recognises and removes.
    """
    loc, store = removal.loc, removal.loc.store
    token, claim = layout.new_claim()
    layout.ACTIVE_CLAIMS.add(token)
    try:
        if removal.state == "committed":
            try:
                store.create_exclusive(loc.child(layout.CLAIM_FILE), claim)
            except FileExistsError:
                pass  # claimed already (another removal): it stays claimed until the end
            delete_files(removal, [metadata.META_FILE])
        elif store.exists(loc.child(metadata.META_FILE)):
            raise NotAVersionFolderError(f"{loc.url} was committed meanwhile: a version now, not removed")
        bookkeeping = (metadata.META_FILE, layout.CLAIM_FILE)
        delete_files(removal, [rel for rel in removal.files if rel not in bookkeeping], prune=True)
        appeared = [rel for rel in _listing(loc) if rel != layout.CLAIM_FILE]
        if metadata.META_FILE in appeared:  # a publisher that was still running committed meanwhile
            raise NotAVersionFolderError(f"{loc.url} was committed while it was being removed; left as it is")
        if appeared:
            delete_files(removal, appeared, prune=True)
        delete_files(removal, [layout.CLAIM_FILE], prune=True)
    finally:
        layout.ACTIVE_CLAIMS.discard(token)
    logger.info("removed %s (%d files)", loc.url, len(removal.files))


def delete_files(folder: VersionFolder, relpaths: Iterable[str], *, prune: bool = False) -> None:
    """Delete exactly the files ``relpaths`` (posix paths relative to the identified ``folder``,
    none leading outside it) and, with ``prune``, then the folders left empty up to ``folder``
    itself."""
    locs = [folder.loc.child(_checked(rel)) for rel in relpaths]
    if locs or prune:
        folder.loc.store.delete_files(locs, prune=folder.loc if prune else None)


def _listing(loc: Location) -> dict[str, int]:
    """What is below the folder ``loc`` now (nothing once its last file went with it)."""
    try:
        return loc.store.list_tree(loc)
    except (FileNotFoundError, NotADirectoryError):
        return {}


def _checked(relpath: str) -> str:
    parts = relpath.split("/")
    if not relpath or relpath.startswith("/") or "\\" in relpath or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{relpath!r} is not a plain relative path inside a version folder")
    return relpath


def _refuse_a_root(loc: Location, files: dict[str, int]) -> None:
    """Refuse to remove ``loc`` whole when one of its sub-folders is a version (a meta.json mlops
    can read) or holds a publish claim: then ``loc`` is (also) a publication root."""
    suspects = sorted(
        {
            rel.split("/", 1)[0]
            for rel in files
            if rel.count("/") == 1 and rel.split("/", 1)[1] in (metadata.META_FILE, layout.CLAIM_FILE)
        }
    )
    for name in suspects:
        sub = loc.child(name)
        if f"{name}/{layout.CLAIM_FILE}" in files or _is_version_meta(sub):
            raise NotAVersionFolderError(
                f"{loc.url} holds versions of its own ({sub.url} is one, or is being published): it is a "
                "publication root, never removed whole. Remove its versions one by one first."
            )


def _is_version_meta(version: Location) -> bool:
    """Whether the meta.json in ``version`` is a version's: one mlops reads, or a damaged one that
    still says it is a dataset's or a model's (a file of that name among raw data is neither)."""
    try:
        raw = version.store.read_bytes(version.child(metadata.META_FILE))
    except FileNotFoundError:
        return False
    try:
        metadata.parse(raw, version.url)
        return True
    except MetadataError:
        pass
    try:
        obj = json.loads(raw)
    except ValueError:
        return False
    return isinstance(obj, dict) and obj.get("kind") in ("dataset", "model")
