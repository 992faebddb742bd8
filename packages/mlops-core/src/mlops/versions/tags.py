"""Changing a version's tags: the one field of meta.json that is neither content nor identity."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from mlops import metadata
from mlops.errors import InvalidTagsError, SignedVersionError
from mlops.metadata.names import check_tags
from mlops.versions import layout
from mlops.versions.aliases import locate_version
from mlops.versions.writer import signing_key as signing_key_for

logger = logging.getLogger(__name__)


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
    loc = locate_version(path, storage_options)
    record = layout.read_record(loc)
    old = list(record.tags)
    new = [tag for tag in old if tag not in remove_tags]
    new += [tag for tag in dict.fromkeys(add_tags) if tag not in new]
    if new == old:
        logger.info("tags of %s unchanged: %s", loc.url, old)
        return new
    meta_bytes = metadata.dump(replace(record, tags=tuple(new)))
    if layout.read_signature(loc) is not None:
        key = signing_key_for(signing_key)
        if key is None:
            raise SignedVersionError(
                f"{loc.url} is signed and its signature covers meta.json, where tags live: pass signing_key= "
                "(`mlops tag ... --key NAME`, or set MLOPS_SIGNING_KEY) to sign it again with the new tags"
            )
        from mlops.versions.signing import covered_files, signature_for

        files = covered_files(record, layout.read_manifest(loc, record), meta_bytes)
        loc.store.replace_file(loc.child(metadata.SIGNATURE_FILE), signature_for(loc, files, key))
    loc.store.replace_file(loc.child(metadata.META_FILE), meta_bytes)
    logger.info("tags of %s: %s -> %s", loc.url, old, new)
    return new


def _tag_list(tags: Iterable[str] | str) -> list[str]:
    return [tags] if isinstance(tags, str) else list(tags)
