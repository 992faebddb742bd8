"""Removing one committed version: under a claim, meta.json first, then its files.

Deleting meta.json is the single step that makes the version disappear (it is what makes a folder
a version), so listings and loads see it whole or not at all. Before that, the folder gets a
publish claim (created create-only), so a removal killed at any later step leaves an incomplete
version (claimed, no meta.json) that ``mlops clean`` removes, never an unclaimed folder. Every
file is deleted by its exact name (see :mod:`mlops.versions.deletion`): a version named ``v*`` is just that
folder. Other versions never share a file object with this one (local dedup uses hard links,
object stores server-side copies), so removing it cannot change them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mlops.errors import VersionInUseError
from mlops.metadata import DatasetRecord, ModelRecord
from mlops.store import Location
from mlops.versions import deletion, layout
from mlops.versions.aliases import current_events, locate_version


@dataclass(frozen=True)
class RemovedVersion:
    """What :func:`remove_version` removed (or, with ``dry_run``, would remove)."""

    path: str
    kind: str
    name: str
    version: str
    files: int
    """Files of the version, its bookkeeping (manifest, signature, meta.json) included."""
    bytes: int
    dry_run: bool


def remove_version(
    path: str | os.PathLike[str],
    *,
    if_unused_by: str | os.PathLike[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> RemovedVersion:
    """Delete the committed version at ``path``: a claim first, then meta.json (it vanishes from
    listings and loads at once), then every other file of its folder, the claim last. Raises
    :class:`~mlops.errors.NotAVersionFolderError` (nothing deleted) when the folder holds versions
    of its own.

    ``if_unused_by`` (a models root) refuses with :class:`~mlops.errors.VersionInUseError` while a
    model there was trained on this dataset. A version an alias of its root names (``production``)
    is refused the same way, naming the aliases: move or remove them first, or pass ``force=True``
    to remove it anyway (the aliases then name a version that is gone). ``dry_run`` only reports
    what would be removed, and refuses what a real run would refuse.
    """
    loc = locate_version(path, storage_options)
    record = layout.read_record(loc)
    if not force:
        _refuse_if_aliased(loc)
    if if_unused_by is not None and isinstance(record, DatasetRecord):
        _refuse_if_used(loc, record, if_unused_by, storage_options)
    removal = deletion.plan(loc, states=("committed",))
    removed = RemovedVersion(
        loc.url, record.kind, record.name, record.version, len(removal.files), removal.bytes, dry_run
    )
    if not dry_run:
        deletion.remove(removal)
    return removed


def _refuse_if_aliased(loc: Location) -> None:
    """Refuse to remove a version that an alias of its root names now (any alias, signed or not:
    the check protects, it does not trust)."""
    root = loc.parent
    aliases = sorted(alias for alias, event in current_events(root, verify=False).items() if event.version == loc.name)
    if aliases:
        named = ", ".join(repr(a) for a in aliases)
        raise VersionInUseError(
            f"{loc.url} is what alias(es) {named} of {root.url} name now; removing it would leave them naming "
            f"a version that is gone. Move them first (`mlops alias set {root.url} {aliases[0]} OTHER_VERSION`) "
            f"or remove them (`mlops alias rm {root.url} {aliases[0]}`), or pass force=True (`mlops rm --force`)"
        )


def _refuse_if_used(
    loc: Location, record: DatasetRecord, models_root: str | os.PathLike[str], storage_options: dict[str, Any] | None
) -> None:
    from mlops.versions.listing import scan_root

    models = [  # matched on the dataset's content hash, as mlops.models_trained_on does
        found
        for found in scan_root(models_root, storage_options=storage_options).versions
        if isinstance(found.record, ModelRecord) and found.record.dataset.hash == record.hash
    ]
    if models:
        names = ", ".join(m.path for m in models[:3]) + (" ..." if len(models) > 3 else "")
        raise VersionInUseError(
            f"{len(models)} model version(s) under {os.fspath(models_root)} were trained on {loc.url} "
            f"({record.name} {record.version}): {names}. Remove those models first, or drop --if-unused-by."
        )
