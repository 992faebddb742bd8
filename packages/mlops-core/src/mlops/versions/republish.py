"""Copying a complete version to another root (another store, e.g. local disk to S3) through the
same claim -> files -> meta.json protocol as ``publish``, checking every byte against the manifest
on the way."""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import replace
from typing import Any

from mlops.errors import IntegrityError, StoreError
from mlops.metadata.names import check_version
from mlops.store import resolve
from mlops.utils.progress import task as progress_task
from mlops.versions import layout
from mlops.versions.aliases import locate_version
from mlops.versions.writer import VersionWriter
from mlops.versions.writer import signing_key as signing_key_for

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
    ``progress`` shows a progress bar (default: when stderr is a terminal, see :mod:`mlops.utils.progress`).
    """
    src = locate_version(artifact_path, storage_options)
    record, source_meta = layout.read_meta(src)
    entries = layout.read_manifest(src, record)
    version = check_version(record.version if version is None else version)
    key = signing_key_for(signing_key)
    source_signature = layout.read_signature(src)
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


class SignatureDroppedWarning(UserWarning):
    """Warned by :func:`republish` when a signed version is copied unsigned (no key to sign the copy)."""
