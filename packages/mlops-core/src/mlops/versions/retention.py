"""Retention: removing the versions of a root that a policy no longer keeps (``mlops.gc``).

A version is kept when any rule keeps it: among the ``keep_last`` newest, younger than
``keep_days``, carrying one of ``keep_tags``. Whatever the rules say, a version is never removed
while an alias names it, while it is a dataset a model under one of the ``models`` roots was
trained on (matched by content hash, as :func:`mlops.models_trained_on` matches), or while it is
younger than ``grace`` seconds (a publish that just committed may be about to get an alias or a
model). Incomplete versions (publishes in flight or crashed), damaged ones and folders that are
not versions are never touched: ``mlops clean`` handles the first kind, people the others.

Deciding costs what listing costs (one listing, every meta.json, the aliases' current records):
``dry_run`` reads no manifest. Each removal then goes as :func:`mlops.remove_version`'s does
(a claim, meta.json first, then the files), after the aliases were read once more.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, overload

from mlops.errors import MlopsError, RetentionPolicyError
from mlops.metadata import ModelRecord
from mlops.store import FileEntry, Location, resolve
from mlops.utils.concurrency import concurrently
from mlops.versions import deletion, layout
from mlops.versions.aliases import current_events
from mlops.versions.layout import FoundVersion
from mlops.versions.removal import RemovedVersion

__all__ = ["GcReport", "gc"]

DEFAULT_GRACE = 3600
"""Seconds a new version is kept whatever the policy (``grace=0`` turns it off)."""
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GcReport(Sequence[RemovedVersion]):
    """What :func:`gc` removed (or, with ``dry_run``, would remove): a sequence of
    :class:`~mlops.RemovedVersion`, newest first, with why every other version was kept."""

    root: str
    removed: list[RemovedVersion]
    kept: dict[str, str] = field(default_factory=dict)
    """Path of every version kept -> why (``"keep-last"``, ``"alias production"``, ``"grace"``...)."""
    failed: dict[str, str] = field(default_factory=dict)
    """Path of every version whose removal failed -> the error (the others were still removed)."""
    bytes_freed: int = 0
    """Bytes of data files freed, each distinct content counted once, and none that a kept version
    also holds. With ``dry_run`` (no manifest read) an upper bound: the removed versions' sizes."""
    exact: bool = True
    """False when ``bytes_freed`` is the upper bound of a dry run."""
    dry_run: bool = False

    @overload
    def __getitem__(self, index: int) -> RemovedVersion: ...
    @overload
    def __getitem__(self, index: slice) -> list[RemovedVersion]: ...
    def __getitem__(self, index: int | slice) -> RemovedVersion | list[RemovedVersion]:
        return self.removed[index]

    def __len__(self) -> int:
        return len(self.removed)

    def __iter__(self) -> Iterator[RemovedVersion]:
        return iter(self.removed)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, for ``mlops gc --json``."""
        return {
            "root": self.root,
            "dry_run": self.dry_run,
            "removed": [
                {"path": r.path, "kind": r.kind, "name": r.name, "version": r.version, "bytes": r.bytes}
                for r in self.removed
            ],
            "kept": dict(self.kept),
            "failed": dict(self.failed),
            "bytes_freed": self.bytes_freed,
            "exact": self.exact,
        }


def gc(
    root: str | os.PathLike[str],
    *,
    keep_last: int | None = None,
    keep_days: float | None = None,
    keep_tags: Iterable[str] | str = (),
    models: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] = (),
    grace: float = DEFAULT_GRACE,
    dry_run: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> GcReport:
    """Remove the versions of ``root`` outside the retention policy (see the module's docstring):
    at least one of ``keep_last``, ``keep_days``, ``keep_tags`` must be given, else
    :class:`~mlops.errors.RetentionPolicyError` (nothing is removed). Returns a :class:`GcReport`:
    the versions removed (``dry_run``: that would be), why each other version was kept, and the
    bytes freed."""
    tags = {keep_tags} if isinstance(keep_tags, str) else set(keep_tags)
    model_roots = [models] if isinstance(models, (str, os.PathLike)) else list(models)
    _check_policy(keep_last, keep_days, tags, grace)
    loc = resolve(root, storage_options)
    listing = layout.scan(loc)
    aliased = _aliased(loc)
    trained = _trained_on(model_roots, storage_options)
    now = datetime.now(timezone.utc)
    kept: dict[str, str] = {}
    doomed: list[FoundVersion] = []
    for rank, found in enumerate(listing.versions):
        reasons = _reasons(found, rank, now, keep_last, keep_days, tags, aliased, trained, grace)
        if reasons:
            kept[found.path] = ", ".join(reasons)
        else:
            doomed.append(found)
    if dry_run:
        removed = [_summary(found, found.record.total_bytes, True) for found in doomed]
        return GcReport(loc.url, removed, kept, bytes_freed=sum(r.bytes for r in removed), exact=False, dry_run=True)
    return _remove(loc, listing.versions, doomed, kept)


def _check_policy(keep_last: int | None, keep_days: float | None, tags: set[str], grace: float) -> None:
    if keep_last is None and keep_days is None and not tags:
        raise RetentionPolicyError(
            "gc needs a retention rule: keep_last=N, keep_days=D or keep_tags=[...] (`--keep-last`, `--keep-days`, "
            "`--keep-tag`); without one it would remove every version no alias names"
        )
    if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0):
        raise RetentionPolicyError(f"keep_last must be a whole number >= 0, got {keep_last!r}")
    for name, value in (("keep_days", keep_days), ("grace", grace)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise RetentionPolicyError(f"{name} must be a number >= 0, got {value!r}")
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise RetentionPolicyError(f"keep_tags must be non-empty strings, got {tag!r}")


def _aliased(root: Location) -> dict[str, list[str]]:
    """``{version folder: [aliases naming it]}``, every record read as it is: under a trust policy
    too, an alias keeps its version (removing is what must be safe, not reading)."""
    named: dict[str, list[str]] = {}
    for alias, event in current_events(root, verify=False).items():
        if event.version is not None:
            named.setdefault(event.version, []).append(alias)
    return named


def _trained_on(model_roots: list[str | os.PathLike[str]], storage_options: dict[str, Any] | None) -> dict[str, str]:
    """``{dataset content hash: a model trained on it}`` over every model of ``model_roots``."""
    hashes: dict[str, str] = {}
    for models_root in model_roots:
        for found in layout.scan(resolve(models_root, storage_options)).versions:
            if isinstance(found.record, ModelRecord):
                hashes.setdefault(found.record.dataset.hash, found.path)
    return hashes


def _reasons(
    found: FoundVersion,
    rank: int,
    now: datetime,
    keep_last: int | None,
    keep_days: float | None,
    tags: set[str],
    aliased: dict[str, list[str]],
    trained: dict[str, str],
    grace: float,
) -> list[str]:
    """Why ``found`` (the ``rank``-th newest) is kept; empty when nothing keeps it."""
    record = found.record
    reasons = []
    age = _age(record.created_at, now)
    if keep_last is not None and rank < keep_last:
        reasons.append("keep-last")
    if age is None:
        reasons.append(f"created_at {record.created_at!r} unreadable")
    else:
        if keep_days is not None and age <= timedelta(days=keep_days):
            reasons.append("keep-days")
        if grace and age < timedelta(seconds=grace):
            reasons.append("grace")
    reasons += [f"tag {tag}" for tag in sorted(tags & set(record.tags))]
    reasons += [f"alias {alias}" for alias in sorted(aliased.get(found.folder, ()))]
    if record.kind == "dataset" and record.hash in trained:
        reasons.append(f"dataset of model {trained[record.hash]}")
    return reasons


def _age(created_at: str, now: datetime) -> timedelta | None:
    """How old a version is: ``created_at`` without a time zone is the publisher's local time."""
    try:
        created = datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        return None
    if created.tzinfo is None:
        created = created.astimezone()
    return now - created


def _summary(found: FoundVersion, size: int, dry_run: bool, files: int = 0) -> RemovedVersion:
    record = found.record
    count = files or record.file_count
    return RemovedVersion(found.path, record.kind, record.name, record.version, count, size, dry_run)


def _remove(root: Location, versions: list[FoundVersion], doomed: list[FoundVersion], kept: dict[str, str]) -> GcReport:
    """Remove ``doomed`` one by one (aliases read again just before), measuring the bytes freed
    from the manifests: distinct contents of the removed versions that no kept version holds."""
    if not doomed:
        return GcReport(root.url, [], kept)
    doomed_paths = {found.path for found in doomed}
    manifests = concurrently(
        lambda found: _manifest(root.child(found.folder), found), versions, workers=root.store.transfer_workers
    )
    held: set[FileEntry] = set()
    freed_entries: set[FileEntry] = set()
    for found, files in zip(versions, manifests, strict=True):
        (freed_entries if found.path in doomed_paths else held).update(files.values())
    aliased = _aliased(root)  # again: an alias set since the decision keeps its version
    removed: list[RemovedVersion] = []
    failed: dict[str, str] = {}
    for found in doomed:
        if found.folder in aliased:
            kept[found.path] = ", ".join(f"alias {a}" for a in aliased[found.folder])
            continue
        try:
            removal = deletion.plan(root.child(found.folder), states=("committed",))
            deletion.remove(removal)
        except (MlopsError, OSError) as exc:
            failed[found.path] = " ".join(str(exc).split()) or type(exc).__name__
            logger.warning("gc: cannot remove %s: %s", found.path, exc)
            continue
        removed.append(_summary(found, removal.bytes, False, len(removal.files)))
    gone = {found.path for found in doomed if found.path not in kept and found.path not in failed}
    if gone != doomed_paths:  # some were kept or failed after all: what they hold is not freed
        freed_entries = set()
        for found, files in zip(versions, manifests, strict=True):
            if found.path in gone:
                freed_entries.update(files.values())
            else:
                held.update(files.values())
    freed = sum(entry.size for entry in freed_entries - held)
    return GcReport(root.url, removed, kept, failed, bytes_freed=freed)


def _manifest(loc: Location, found: FoundVersion) -> dict[str, FileEntry]:
    try:
        return layout.read_manifest(loc, found.record)
    except (MlopsError, OSError):
        return {}  # a damaged manifest: its files are counted as neither freed nor held
