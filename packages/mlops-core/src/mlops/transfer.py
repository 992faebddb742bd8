"""Changing where a version lives and how it is labelled, without weakening its guarantees.

:func:`republish` copies a complete version to another root (another store, e.g. local disk to S3)
through the same claim -> files -> meta.json protocol as ``publish``, checking every byte against
the manifest on the way. :func:`update_tags` rewrites the one field of meta.json that is neither
content nor identity.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from mlops import layout, metadata
from mlops.errors import IntegrityError, InvalidTagsError, SignedVersionError, StoreError
from mlops.metadata.names import check_tags, check_version
from mlops.progress import task as progress_task
from mlops.publication import VersionWriter
from mlops.publication import signing_key as signing_key_for
from mlops.store import Location, resolve

logger = logging.getLogger(__name__)


def republish(
    artifact_path: str | os.PathLike[str],
    new_root: str | os.PathLike[str],
    *,
    version: str | None = None,
    storage_options: dict[str, Any] | None = None,
    target_storage_options: dict[str, Any] | None = None,
    signing_key: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> str:
    """Copy the complete version at ``artifact_path`` under the root ``new_root``; return its path.

    The copy keeps the version name (unless ``version`` is given), ``created_at``, tags and hash,
    so it is the same version in another place. It is published like any version: whole or not at
    all, never over an existing one (:class:`~mlops.errors.PublicationPathAlreadyExistsError`).
    Every file is hashed while it is copied and must match the source's manifest, so a damaged
    source raises :class:`~mlops.errors.IntegrityError` and leaves nothing behind.
    ``target_storage_options`` default to ``storage_options``. A model's link to its dataset is
    kept as it was: republish the dataset too if the model must not depend on the old store
    (``models_trained_on`` matches models by the dataset's hash, wherever it lives).
    A signed source keeps its signature when the copy's meta.json is byte for byte the source's
    (same version name and format); otherwise the copy is signed with ``signing_key`` (or
    ``MLOPS_SIGNING_KEY``), or, without a key, left unsigned with a :class:`SignatureDroppedWarning`.
    ``progress`` shows a progress bar (default: when stderr is a terminal, see :mod:`mlops.progress`).
    """
    src = resolve(artifact_path, storage_options)
    record, source_meta = layout.read_meta(src)
    entries = layout.read_manifest(src, record)
    version = check_version(record.version if version is None else version)
    key = signing_key_for(signing_key)
    source_signature = _signature_of(src)
    root = resolve(new_root, storage_options if target_storage_options is None else target_storage_options)
    total = sum(entry.size for entry in entries.values())
    logger.info("republishing %s to %s (%d files, %d bytes)", src.url, root.child(version).url, len(entries), total)
    started = time.perf_counter()

    with progress_task(f"republish {version}", total, progress), VersionWriter(root, version) as writer:
        for relpath, expected in sorted(entries.items()):
            try:
                written = writer.copy(relpath, src.child(relpath))
            except StoreError as exc:
                if isinstance(exc.__cause__, FileNotFoundError):
                    raise IntegrityError(
                        f"{relpath} is listed in meta.json but missing from {src.url}; the source version is "
                        f"damaged, nothing was published to {writer.loc.url}",
                        file=relpath,
                    ) from exc
                raise
            if written != expected:
                raise IntegrityError(
                    f"{relpath} in {src.url} does not match its sha256 in meta.json (expected "
                    f"{expected.sha256[:12]}..., {expected.size} bytes; read {written.sha256[:12]}..., "
                    f"{written.size} bytes): the source version is damaged, nothing was published to "
                    f"{writer.loc.url}",
                    file=relpath,
                )
            logger.debug("copied %s (%d bytes, sha256 verified)", relpath, written.size)

        def kept_signature(meta_bytes: bytes) -> bytes | None:
            if source_signature is None:
                return None
            if meta_bytes == source_meta:
                return source_signature  # it covers exactly these bytes and the same files
            warnings.warn(
                f"{writer.loc.url} is not signed: its meta.json differs from the signed source's (another "
                "version name or an upgraded format), so the source's signature does not cover it; pass "
                "signing_key= (or set MLOPS_SIGNING_KEY) to sign the copy",
                SignatureDroppedWarning,
                stacklevel=4,
            )
            return None

        url = writer.commit(replace(record, version=version), signing_key=key, signature=kept_signature)
    logger.info("republished %s as %s in %.2fs", src.url, url, time.perf_counter() - started)
    return url


def update_tags(
    path: str | os.PathLike[str],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    *,
    signing_key: str | os.PathLike[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> list[str]:
    """Add and remove tags of the version at ``path``; return its tags afterwards.

    Tags are neither content nor identity: they are not part of the hash, and meta.json is not in
    the manifest, so the version stays valid (``verify()`` passes) and keeps its hash. The new
    meta.json is written to a hidden sibling and moved over the old one, so readers see the old or
    the new file, never a mix (local disks: an atomic rename; object stores: a single object
    replacement). Concurrent tag updates of one version are last-writer-wins: the later one may
    undo the earlier one's change.

    A signed version's signature covers meta.json, so it is signed again with ``signing_key`` (or
    ``MLOPS_SIGNING_KEY``), the new ``mlops.sig`` written just before the new meta.json; without a
    key the update is refused with :class:`~mlops.errors.SignedVersionError`. (Between the two
    writes a loader under a trust policy is refused the version; it loads again right after.)
    """
    add_tags = check_tags(_tag_list(add))
    remove_tags = check_tags(_tag_list(remove))
    clash = sorted(set(add_tags) & set(remove_tags))
    if clash:
        raise InvalidTagsError(f"tag(s) {', '.join(clash)} are both added and removed; pick one")
    loc = resolve(path, storage_options)
    record = layout.read_record(loc)
    old = list(record.tags)
    new = [tag for tag in old if tag not in remove_tags]
    new += [tag for tag in dict.fromkeys(add_tags) if tag not in new]
    if new == old:
        logger.info("tags of %s unchanged: %s", loc.url, old)
        return new
    meta_bytes = metadata.dump(replace(record, tags=tuple(new)))
    if _signature_of(loc) is not None:
        key = signing_key_for(signing_key)
        if key is None:
            raise SignedVersionError(
                f"{loc.url} is signed and its signature covers meta.json, where tags live: pass signing_key= "
                "(`mlops tag ... --key NAME`, or set MLOPS_SIGNING_KEY) to sign it again with the new tags"
            )
        from mlops.trust.versions import covered_files, signature_for

        files = covered_files(record, layout.read_manifest(loc, record), meta_bytes)
        loc.store.replace_file(loc.child(metadata.SIGNATURE_FILE), signature_for(loc, files, key))
    loc.store.replace_file(loc.child(metadata.META_FILE), meta_bytes)
    logger.info("tags of %s: %s -> %s", loc.url, old, new)
    return new


class SignatureDroppedWarning(UserWarning):
    """Warned by :func:`republish` when a signed version is copied unsigned (no key to sign the copy)."""


def _signature_of(loc: Location) -> bytes | None:
    try:
        return loc.store.read_bytes(loc.child(metadata.SIGNATURE_FILE))
    except (FileNotFoundError, IsADirectoryError):
        return None


def _tag_list(tags: Iterable[str] | str) -> list[str]:
    return [tags] if isinstance(tags, str) else list(tags)
