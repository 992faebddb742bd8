"""The one place :mod:`mlops.trust` meets a published version: which files a signature must
cover, admitting a version under a policy, signing one, and reading its pickles verified.

A signature covers every file of the committed version: the data files (hashes from the
manifest: signing reads no data), ``manifest.jsonl`` (hash from meta.json) and ``meta.json``
(hash of its bytes), so nothing is left in the folder that the signature does not list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from mlops import metadata
from mlops.metadata import AnyRecord
from mlops.store import FileEntry, Location
from mlops.trust.keys import SigningKey
from mlops.trust.policy import TrustPolicy
from mlops.trust.signature import SIGNATURE_FILE, sign_files
from mlops.versions import layout


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
    return policy.check(layout.read_signature(loc), present_files(loc, claimed), where=loc.url)


def signature_for(loc: Location, files: Mapping[str, str], key: SigningKey) -> bytes:
    """The ``mlops.sig`` bytes of the version at ``loc`` whose files are ``files``."""
    return sign_files(files, key.key, name=loc.name)
