"""The one place :mod:`mlops.trust` meets a published version: which files a signature must
cover, admitting a version under a policy, signing one, and reading its pickles verified.

A signature covers every file of the committed version: the data files (hashes from the
manifest: signing reads no data), ``manifest.jsonl`` (hash from meta.json) and ``meta.json``
(hash of its bytes), so nothing is left in the folder that the signature does not list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops import layout, metadata
from mlops.errors import SignatureExistsError
from mlops.metadata import AnyRecord
from mlops.store import FileEntry, Location
from mlops.trust.keys import SigningKey
from mlops.trust.pickle_inspect import is_pickle_name
from mlops.trust.policy import TrustPolicy
from mlops.trust.signature import SIGNATURE_FILE, sign_files

if TYPE_CHECKING:
    from mlops.version import PublishedVersion


def describe(version: PublishedVersion[Any]) -> str:
    """``"dataset points v1"``: what a version is, for messages."""
    return f"{version.kind} {version.name} {version.version}"


def manifest_hashes(version: PublishedVersion[Any]) -> dict[str, str]:
    """``{relpath: sha256}`` of the version's data files, from its manifest."""
    return {relpath: entry.sha256 for relpath, entry in version.files.items()}


def covered_files(record: AnyRecord, entries: Mapping[str, FileEntry], meta_bytes: bytes) -> dict[str, str]:
    """``{relpath: sha256}`` of every file of a committed version, as a signature must list them."""
    files = {relpath: entry.sha256 for relpath, entry in entries.items()}
    if record.manifest is not None:
        files[record.manifest.file] = record.manifest.sha256
    files[metadata.META_FILE] = hashlib.sha256(meta_bytes).hexdigest()
    return files


def present_files(loc: Location, claimed: Mapping[str, str]) -> dict[str, str]:
    """What the folder ``loc`` actually holds, with the hash the version claims for each file
    (``""`` for a file the version does not know: it can never match a signature)."""
    listed = loc.store.list_files(loc, follow_outside_links=True)
    return {rel: claimed.get(rel, "") for rel in listed if rel != SIGNATURE_FILE}


def admit(loc: Location, record: AnyRecord, meta_bytes: bytes, policy: TrustPolicy) -> str:
    """Admit the version at ``loc`` under ``policy`` before anything of it is unpickled: returns the
    signer's fingerprint; raises :class:`~mlops.errors.UntrustedVersionError` when the version is not
    signed by a trusted key, or holds a file (or a hash) its signature does not vouch for."""
    claimed = covered_files(record, layout.read_manifest(loc, record), meta_bytes)
    return policy.check(read_signature(loc), present_files(loc, claimed), where=loc.url)


def read_signature(loc: Location) -> bytes | None:
    """The bytes of the version's ``mlops.sig``, or ``None`` when it is not signed."""
    try:
        return loc.store.read_bytes(loc.child(SIGNATURE_FILE))
    except (FileNotFoundError, IsADirectoryError):
        return None


def signature_for(loc: Location, files: Mapping[str, str], key: SigningKey) -> bytes:
    """The ``mlops.sig`` bytes of the version at ``loc`` whose files are ``files``."""
    return sign_files(files, key.key, name=loc.name)


def sign_version(version: PublishedVersion[Any], key: SigningKey) -> str:
    """Sign the committed ``version`` with ``key``: write its ``mlops.sig`` (create-only) over the
    hashes of every file (no data is read). Returns the signature's path."""
    loc = version._loc
    data = signature_for(loc, covered_files(version.record, version.files, version._meta_bytes), key)
    target = loc.child(SIGNATURE_FILE)
    try:
        loc.store.create_exclusive(target, data)
    except FileExistsError as exc:
        raise SignatureExistsError(
            f"{version.path} is already signed ({SIGNATURE_FILE} exists); a version is signed once, when it "
            "is published or right after"
        ) from exc
    return target.url


def pickle_files(version: PublishedVersion[Any]) -> list[str]:
    """The files of ``version`` that loading it would unpickle: the processor's file and every
    file whose name says it is a pickle (``.pkl``, ``.joblib``, ``.pt``...)."""
    processor = getattr(version.record, "processor", None)
    named = processor.file if processor is not None else None
    return [p for p in version.files if p == named or is_pickle_name(p)]


def read_verified(version: PublishedVersion[Any], relpath: str) -> bytes:
    """The bytes of one file of ``version``, returned only once they match its manifest sha256 (as
    ``VersionedDataset.data_processor`` reads its pickle)."""
    loc = version._loc
    return loc.store.read_verified(loc.child(relpath), version.files[relpath], relpath)
