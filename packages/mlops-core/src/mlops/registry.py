"""Finding versions: what a publication root holds, the newest one, and the models of a dataset.

A publication root is the folder versions are published under (``s3://bucket/models/points``);
each complete version is a sub-folder holding ``meta.json``. Listing a root costs one listing call
of the root plus one concurrent batch of ``meta.json`` reads (concurrent on async stores such as
S3), whatever the number of versions. Folders without ``meta.json`` are incomplete versions and are
never listed here: see :func:`mlops.maintenance.list_incomplete`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops import metadata, plugins
from mlops.errors import MetadataError, NoVersionsError, StoreError, VersionNotFoundError
from mlops.storage import Location, Publisher, resolve, store_errors

if TYPE_CHECKING:
    import fsspec

    from mlops.dataset.versioned_dataset import VersionedDataset
    from mlops.model.versioned_model import VersionedModel

logger = logging.getLogger(__name__)

KINDS = ("dataset", "model")
_GLOB_CHARACTERS = frozenset("*?[")
"""Characters that make fsspec's multi-path calls treat a path as a pattern."""


@dataclass(frozen=True)
class VersionInfo:
    """One complete version, as its meta.json describes it (``size`` sums its files' sizes)."""

    version: str
    path: str
    kind: str
    name: str
    created_at: str
    tags: tuple[str, ...]
    hash: str
    size: int

    @classmethod
    def from_meta(cls, meta: dict[str, Any], path: str) -> VersionInfo:
        """The summary of a validated meta.json found at ``path``."""
        return cls(
            version=meta["version"],
            path=path,
            kind=meta["kind"],
            name=meta["name"],
            created_at=meta["created_at"],
            tags=tuple(meta["tags"]),
            hash=meta["hash"],
            size=sum(entry["size"] for entry in meta["files"].values()),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, for ``mlops --json`` and scripts."""
        return {
            "version": self.version,
            "path": self.path,
            "kind": self.kind,
            "name": self.name,
            "created_at": self.created_at,
            "tags": list(self.tags),
            "hash": self.hash,
            "size": self.size,
        }


@dataclass(frozen=True)
class RootListing:
    """Everything one scan of a publication root found."""

    root: str
    versions: list[tuple[VersionInfo, dict[str, Any]]] = field(default_factory=list)
    """Complete versions with their meta.json, newest first."""
    incomplete: list[str] = field(default_factory=list)
    """Paths of folders without meta.json (see :func:`mlops.maintenance.list_incomplete`)."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """Paths of versions whose meta.json could not be read or validated, with the reason."""


def scan_root(root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> RootListing:
    """List the publication root ``root`` once and read every version's meta.json concurrently.

    A root that does not exist holds nothing (on object stores the two cannot be told apart).
    Raises :class:`~mlops.errors.NoVersionsError` when ``root`` is itself a version or a file.
    """
    return _scan(resolve(root, storage_options))


def _scan(loc: Location) -> RootListing:
    started = time.perf_counter()
    folders = _version_folders(loc)
    metas = _read_many(loc.fs, [loc.child(name).child(metadata.META_FILE).path for name in folders])
    listing = RootListing(loc.url)
    for name, raw in zip(folders, metas, strict=True):
        version = loc.child(name)
        if isinstance(raw, FileNotFoundError):
            if _holds_anything(version):
                listing.incomplete.append(version.url)
            continue
        try:
            meta = _parse_meta(raw, version.url)
        except MetadataError as exc:
            logger.warning("skipping %s: %s", version.url, exc)
            listing.unreadable[version.url] = str(exc)
            continue
        listing.versions.append((VersionInfo.from_meta(meta, version.url), meta))
    listing.versions.sort(key=lambda item: (item[0].created_at, item[0].version), reverse=True)
    logger.debug(
        "scanned %s: %d versions, %d incomplete, %d unreadable in %.3fs",
        loc.url, len(listing.versions), len(listing.incomplete), len(listing.unreadable),
        time.perf_counter() - started,
    )  # fmt: skip
    return listing


def list_versions(
    path: str | os.PathLike[str],
    tags: Iterable[str] | str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> list[VersionInfo]:
    """The complete versions under the publication root ``path``, newest first (by ``created_at``).

    ``tags`` keeps only versions carrying every one of them (a single string is one tag).
    Incomplete versions are left out; :func:`mlops.maintenance.list_incomplete` lists them.
    """
    wanted = _tag_set(tags)
    return [info for info, _ in scan_root(path, storage_options=storage_options).versions if wanted <= set(info.tags)]


def latest(
    path: str | os.PathLike[str],
    tags: Iterable[str] | str | None = None,
    *,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """The path of the newest complete version under ``path`` (carrying every tag in ``tags``).

    Raises :class:`~mlops.errors.NoVersionsError` when there is none.
    """
    listing = scan_root(path, storage_options=storage_options)
    wanted = _tag_set(tags)
    for info, _ in listing.versions:
        if wanted <= set(info.tags):
            return info.path
    raise NoVersionsError(no_versions_message(listing, wanted))


def models_trained_on(
    models_path: str | os.PathLike[str],
    dataset: VersionedDataset | str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
) -> list[VersionInfo]:
    """The model versions under the root ``models_path`` trained on ``dataset``, newest first.

    Models are matched on the dataset's content hash, so a model still matches after its dataset
    was republished elsewhere (``dataset`` is a :class:`VersionedDataset` or a dataset version path).
    """
    from mlops.dataset.versioned_dataset import VersionedDataset

    if not isinstance(dataset, VersionedDataset):
        dataset = VersionedDataset(dataset, storage_options=storage_options)
    found = []
    for info, meta in scan_root(models_path, storage_options=storage_options).versions:
        link = meta.get("dataset")
        if info.kind == "model" and isinstance(link, dict) and link.get("hash") == dataset.hash:
            found.append(info)
    return found


def version_info(path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> VersionInfo:
    """The summary of the single version at ``path`` (a dataset or a model)."""
    loc = resolve(path, storage_options)
    return VersionInfo.from_meta(read_version_meta(plugins.publisher_for(loc.fs.protocol), loc), loc.url)


def open_version(
    path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
) -> VersionedDataset | VersionedModel:
    """Open the version at ``path`` as a :class:`VersionedDataset` or a :class:`VersionedModel`,
    whichever its meta.json says it is (only meta.json is read)."""
    from mlops.dataset.versioned_dataset import VersionedDataset
    from mlops.model.versioned_model import VersionedModel

    kind = version_info(path, storage_options=storage_options).kind
    logger.debug("opening %s %s", kind, path)
    opener = VersionedDataset if kind == "dataset" else VersionedModel
    return opener(path, storage_options=storage_options)


def read_version_meta(publisher: Publisher, loc: Location) -> dict[str, Any]:
    """The validated meta.json of the dataset or model version at ``loc``.

    Raises the errors of :func:`mlops.metadata.read_meta`: not found, incomplete, or damaged.
    """
    try:
        raw = publisher.read_bytes(loc.child(metadata.META_FILE))
    except (FileNotFoundError, IsADirectoryError):
        if not publisher.exists(loc.child(metadata.CLAIM_FILE)):
            _refuse_root(loc)
        # read_meta tells a missing path from an incomplete version, with advice for each.
        return metadata.read_meta(publisher, loc, "dataset or model")
    return _parse_meta(raw, loc.url)


def _refuse_root(loc: Location) -> None:
    """Raise a helpful error when a publication root is given where a version is expected."""
    try:
        listing = _scan(loc)
    except (NoVersionsError, StoreError):
        return
    if listing.versions:
        newest = listing.versions[0][0]
        raise VersionNotFoundError(
            f"{loc.url} is a publication root holding {len(listing.versions)} version(s), not a version; "
            f"pass one of them, e.g. {newest.path} (`mlops ls {loc.url}` lists them)"
        )


def no_versions_message(listing: RootListing, tags: set[str] | frozenset[str] = frozenset()) -> str:
    """Why ``listing`` offers no version, and what to do next (shared with the ``mlops`` tool)."""
    tagged = f" tagged {', '.join(sorted(tags))}" if tags else ""
    if listing.versions and tags:
        return f"no version under {listing.root}{tagged} ({len(listing.versions)} without those tags)"
    message = (
        f"no complete version under {listing.root}{tagged}: the path does not exist or holds no published "
        "version. A root is the folder given to publish(), e.g. s3://bucket/datasets/points"
    )
    if listing.incomplete:
        message += f" ({len(listing.incomplete)} incomplete: see `mlops ls --incomplete`)"
    if listing.unreadable:
        message += f" ({len(listing.unreadable)} with an unreadable meta.json)"
    return message


# --- internals ----------------------------------------------------------------------------------------


def _version_folders(root: Location) -> list[str]:
    """Names of the non-hidden sub-folders of ``root``, from one listing call."""
    try:
        root.fs.invalidate_cache(root.path)
    except Exception:  # noqa: BLE001 - a cache we cannot clear only costs freshness
        pass
    try:
        with store_errors(root, "list"):
            entries = root.fs.ls(root.path, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return []
    names: dict[str, None] = {}
    for entry in entries:
        full = str(entry["name"]).rstrip("/")
        name = full.rsplit("/", 1)[-1]
        if entry.get("type") == "directory" and full == root.path.rstrip("/"):
            continue  # some object stores list a folder's own placeholder
        if entry.get("type") != "directory":
            if name == metadata.META_FILE or full == root.path.rstrip("/"):
                raise NoVersionsError(_not_a_root_message(root, name == metadata.META_FILE))
            continue
        if not name.startswith("."):
            names[name] = None
    return sorted(names)


def _not_a_root_message(root: Location, is_version: bool) -> str:
    if is_version:
        return (
            f"{root.url} is a version, not a publication root; list the folder above it "
            f"(the root it was published under) instead"
        )
    return f"{root.url} is a file, not a publication root; pass the folder versions are published under"


def _read_many(fs: fsspec.AbstractFileSystem, paths: list[str]) -> list[bytes | Exception]:
    """The bytes of each file in ``paths`` (or the exception reading it raised), in order.

    One ``fs.cat`` call fetches them concurrently on async stores. Paths with glob characters are
    read one by one, because ``cat`` would expand them as patterns.
    """
    plain = [p for p in paths if not _GLOB_CHARACTERS.intersection(p)]
    found: dict[str, Any] = {}
    if plain:
        with store_errors(Location(fs, plain[0], plain[0]), "read"):
            # start=0: a ranged GET needs no HEAD first on object stores (one request per file, not two).
            found = fs.cat(plain, on_error="return", start=0)
    results: list[bytes | Exception] = []
    for path in paths:
        key = path if path in found else fs._strip_protocol(path)
        value: bytes | Exception
        if key in found:
            value = found[key]
        else:
            try:
                value = bytes(fs.cat_file(path, start=0))
            except Exception as exc:  # noqa: BLE001 - reported per version, like fs.cat does
                value = exc
        if isinstance(value, Exception) and not isinstance(value, FileNotFoundError):
            if isinstance(value, (IsADirectoryError, NotADirectoryError)):
                value = FileNotFoundError(path)
            else:
                raise StoreError(f"cannot read {path}: {type(value).__name__}: {value}") from value
        results.append(value)
    return results


def _holds_anything(folder: Location) -> bool:
    """Whether a folder without meta.json holds any file (an empty local folder is not a version)."""
    try:
        folder.fs.invalidate_cache(folder.path)
    except Exception:  # noqa: BLE001
        pass
    try:
        with store_errors(folder, "list"):
            return bool(folder.fs.ls(folder.path, detail=False))
    except FileNotFoundError:
        return False


def _parse_meta(raw: bytes | Any, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise MetadataError(f"meta.json at {where} is not valid JSON: {exc}") from exc
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind not in KINDS:
        raise MetadataError(f"meta.json at {where} describes a {kind!r}, not a dataset or a model")
    return metadata.validate_meta(meta, kind, where)


def _tag_set(tags: Iterable[str] | str | None) -> set[str]:
    if tags is None:
        return set()
    return {tags} if isinstance(tags, str) else set(tags)
