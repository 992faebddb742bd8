"""How a version sits in its folder on a store, and reading it back.

A version folder holds its data files, ``manifest.jsonl`` (every data file's sha256 and size),
optionally ``mlops.sig``, and ``meta.json``, written last: a version exists iff its meta.json
exists. While a publish runs, the folder also holds the claim ``.mlops-publishing``.

A root's ``_aliases`` folder holds its aliases (see :mod:`mlops.versions.aliases`): it is never
listed as a version, nor as a folder of someone else's, so nothing that walks versions touches it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mlops import metadata
from mlops.errors import (
    IncompleteVersionError,
    MetadataError,
    NoVersionsError,
    RootNotFoundError,
    StoreError,
    VersionNotFoundError,
)
from mlops.metadata import AnyRecord, VersionRecord
from mlops.metadata import manifest as manifest_codec
from mlops.metadata.names import ALIASES_FOLDER
from mlops.store import FileEntry, Location
from mlops.store.base import TMP_PREFIX

CLAIM_FILE = ".mlops-publishing"
"""Written create-only before any data of a version (and before a removal deletes anything);
removed once meta.json is committed. What identifies an incomplete version as mlops' own."""
ACTIVE_CLAIMS: set[str] = set()
"""Tokens of the claims this process holds right now (a publish writing, a removal deleting): a
cleanup of incomplete versions run by this process leaves their folders alone."""
logger = logging.getLogger(__name__)


def new_claim() -> tuple[str, bytes]:
    """A fresh claim: its token and the bytes of a claim file (who holds it, where, since when)."""
    token = uuid.uuid4().hex
    claim = {
        "token": token,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": datetime.now().isoformat(timespec="microseconds"),
    }
    return token, json.dumps(claim).encode()


def read_record(loc: Location, kind: str | None = None) -> AnyRecord:
    """The parsed meta.json of the version at ``loc`` (of ``kind`` when given); see :func:`read_meta`."""
    return read_meta(loc, kind)[0]


def read_meta(loc: Location, kind: str | None = None) -> tuple[AnyRecord, bytes]:
    """The parsed meta.json of the version at ``loc`` (of ``kind`` when given), and its bytes.

    Raises :class:`VersionNotFoundError` when nothing is there (with advice when ``loc`` is a
    publication root), :class:`IncompleteVersionError` when a publish started but never committed,
    :class:`MetadataError` when meta.json is damaged or describes something else.
    """
    try:
        raw = loc.store.read_bytes(loc.child(metadata.META_FILE))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise _why_missing(loc, kind or "dataset or model") from None
    return metadata.parse(raw, loc.url, kind), raw


def read_manifest(loc: Location, record: VersionRecord) -> dict[str, FileEntry]:
    """Every data file of the version at ``loc`` with its sha256 and size, the manifest itself
    checked against the hash meta.json records (schema 1: the manifest inside meta.json)."""
    if record.manifest is None:
        return dict(record.inline_files or {})
    ref = record.manifest
    try:
        data = loc.store.read_bytes(loc.child(ref.file))
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise MetadataError(f"the manifest {ref.file} of {loc.url} is missing; do not trust this version") from exc
    return manifest_codec.decode(data, ref, loc.url)


def read_signature(loc: Location) -> bytes | None:
    """The bytes of the version's ``mlops.sig``, or ``None`` when it is not signed."""
    try:
        return loc.store.read_bytes(loc.child(metadata.SIGNATURE_FILE))
    except (FileNotFoundError, IsADirectoryError):
        return None


def is_incomplete(loc: Location) -> bool:
    """Whether ``loc`` holds a publish that started and never committed: no meta.json, and either
    the claim or, when a publisher died while creating its claim, only that claim's temporary file."""
    store = loc.store
    if store.exists(loc.child(metadata.META_FILE)):
        return False
    if store.exists(loc.child(CLAIM_FILE)):
        return True
    try:
        names = [entry.name for entry in store.list_dir(loc)]
    except (FileNotFoundError, NotADirectoryError):
        return False
    return bool(names) and all(name.startswith(TMP_PREFIX) for name in names)


def _why_missing(loc: Location, kind: str) -> Exception:
    if is_incomplete(loc):
        return IncompleteVersionError(
            f"{loc.url} is an incomplete version (a publish started there and has not committed: it is "
            "still running or it crashed). Wait for the publish to finish, or, if no publish is running, "
            "remove it with mlops.remove_incomplete(ROOT) or `mlops clean ROOT` and publish again."
        )
    if not loc.store.exists(loc):
        return VersionNotFoundError(
            f"no {kind} version at {loc.url}: the path does not exist. Check the path; a version "
            "path is the publication root followed by the version, e.g. s3://bucket/datasets/v1"
        )
    try:  # a root given where a version is expected: say which versions it has
        listing = scan(loc)
    except Exception:  # noqa: BLE001 - only advice; the error below is what matters
        listing = None
    if listing is not None and listing.versions:
        newest = listing.versions[0]
        return VersionNotFoundError(
            f"{loc.url} is a publication root holding {len(listing.versions)} version(s), not a version; "
            f"pass one of them (ROOT/VERSION), e.g. {newest.path} (`mlops ls {loc.url}` lists them)"
        )
    return VersionNotFoundError(
        f"{loc.url} is not a published {kind} version: it has no meta.json, and no publish claim either. "
        "If it is the folder versions were published under, pass one of its versions (ROOT/VERSION; "
        "`mlops ls ROOT` lists them). mlops did not leave it there as a version and never removes it."
    )


@dataclass(frozen=True)
class FoundVersion:
    """A complete version found under a root: where it is and its parsed meta.json."""

    path: str
    record: AnyRecord

    @property
    def folder(self) -> str:
        """The name of the version's folder (what the root's listing shows)."""
        return folder_name(self.path)

    @property
    def moved(self) -> bool:
        """Whether the folder's name differs from the version its meta.json records: the folder
        was copied or renamed (``cp -r v1 v1-backup``), so two folders may claim one version."""
        return moved_note(self.folder, self.record.version) is not None


def folder_name(path: str) -> str:
    """The last part of a version's path: its folder's name."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def moved_note(folder: str, version: str) -> str | None:
    """What to tell people when the folder ``folder`` holds a version recorded as ``version``
    under another name (a copied or renamed folder), else ``None``."""
    if unicodedata.normalize("NFC", folder) == unicodedata.normalize("NFC", version):
        return None
    return f"{folder} holds version {version} (copied or renamed folder)"


def listing_warnings(found: Iterable[FoundVersion], damaged: Mapping[str, str]) -> list[str]:
    """What a command listing versions tells on stderr, one line each: every copied or renamed
    folder among ``found``, and every damaged version (path -> reason) with the reason."""
    notes = [moved_note(version.folder, version.record.version) for version in found]
    return [note for note in notes if note] + [f"damaged version {path}: {reason}" for path, reason in damaged.items()]


@dataclass(frozen=True)
class RootListing:
    """Everything one scan of a publication root found."""

    root: str
    versions: list[FoundVersion] = field(default_factory=list)
    """Complete versions, newest first (by ``created_at``, then version)."""
    incomplete: list[str] = field(default_factory=list)
    """Paths of incomplete versions: folders without meta.json that hold a publish claim (see
    :func:`mlops.versions.incomplete.list_incomplete`); what ``mlops clean`` removes."""
    other: list[str] = field(default_factory=list)
    """Paths of folders that are neither a version nor an incomplete one (no meta.json, no claim):
    not mlops' own, never removed by mlops."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """Paths of damaged versions, whose meta.json could not be read or validated, with the reason."""


def scan(root: Location) -> RootListing:
    """List the publication root ``root`` once and read every version's meta.json (only that)
    in one concurrent batch, whatever the number of versions.

    Raises :class:`RootNotFoundError` when ``root`` does not exist, :class:`NoVersionsError` when
    it is itself a version or a file.
    """
    started = time.perf_counter()
    folders = version_folders(root)
    store = root.store
    metas = _read_metas([root.child(name).child(metadata.META_FILE) for name in folders])
    listing = RootListing(root.url)
    without = [name for name, raw in zip(folders, metas, strict=True) if isinstance(raw, FileNotFoundError)]
    claims = store.read_many([root.child(name).child(CLAIM_FILE) for name in without]) if without else []
    claimed = {name for name, raw in zip(without, claims, strict=True) if not isinstance(raw, FileNotFoundError)}
    for name, raw in zip(folders, metas, strict=True):
        version = root.child(name)
        if isinstance(raw, FileNotFoundError):
            names = [] if name in claimed else _names(version)
            if name in claimed or (names and all(n.startswith(TMP_PREFIX) for n in names)):
                listing.incomplete.append(version.url)
            elif names:
                listing.other.append(version.url)
            continue
        try:
            if isinstance(raw, StoreError):
                raise raw
            record = metadata.parse(raw, version.url)
        except (MetadataError, StoreError) as exc:
            logger.warning("damaged version %s: %s", version.url, exc)
            listing.unreadable[version.url] = " ".join(str(exc).split())
            continue
        listing.versions.append(FoundVersion(version.url, record))
    listing.versions.sort(key=lambda found: (found.record.created_at, found.record.version), reverse=True)
    logger.debug(
        "scanned %s: %d versions, %d incomplete, %d unreadable in %.3fs",
        root.url, len(listing.versions), len(listing.incomplete), len(listing.unreadable),
        time.perf_counter() - started,
    )  # fmt: skip
    return listing


def _read_metas(locs: Sequence[Location]) -> list[bytes | FileNotFoundError | StoreError]:
    """Every meta.json of a root in one batch; when one of them cannot be read (a permission, an
    I/O error) the batch fails, so they are read one by one to tell which."""
    try:
        return list(locs[0].store.read_many(locs)) if locs else []
    except StoreError:
        pass
    metas: list[bytes | FileNotFoundError | StoreError] = []
    for loc in locs:
        try:
            metas.append(loc.store.read_bytes(loc))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            metas.append(FileNotFoundError(str(exc)))
        except StoreError as exc:
            metas.append(exc)
    return metas


def version_folders(root: Location, *, hidden: bool = False) -> list[str]:
    """Names of the sub-folders of the root ``root`` (with ``hidden``: only the staging folders
    mlops left there), from one listing call; never the aliases' folder ``_aliases``."""
    try:
        entries = root.store.list_dir(root)
    except FileNotFoundError:
        raise RootNotFoundError(
            f"{root.url} does not exist: check the path (a publication root is the folder given to "
            "publish(), e.g. s3://bucket/datasets/points)"
        ) from None
    except NotADirectoryError:
        raise NoVersionsError(
            f"{root.url} is a file, not a publication root; pass the folder versions are published under"
        ) from None
    if any(entry.name == metadata.META_FILE and not entry.is_dir for entry in entries):
        raise NoVersionsError(
            f"{root.url} is a version, not a publication root; list the folder above it "
            "(the root it was published under) instead"
        )
    if hidden:
        return [e.name for e in entries if e.is_dir and e.name.startswith(TMP_PREFIX)]
    return [e.name for e in entries if e.is_dir and not e.name.startswith(".") and e.name != ALIASES_FOLDER]


def _names(folder: Location) -> list[str]:
    """The names in a folder without meta.json or claim (only a claim's temporary file means a
    publisher died while creating its claim; an empty local folder is nothing)."""
    try:
        return [entry.name for entry in folder.store.list_dir(folder)]
    except (FileNotFoundError, NotADirectoryError):
        return []
