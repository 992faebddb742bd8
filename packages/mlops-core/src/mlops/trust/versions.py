"""The one place :mod:`mlops.trust` reads a published version: its meta.json fields, its manifest,
its files (verified) and its ``mlops.sig``.

Everything else in the package works on plain ``{relpath: sha256}`` mappings and bytes. When the
store layer and the typed metadata records replace ``Publisher`` and the meta.json dicts, only this
module changes: :func:`signed_files` then lists the data files of ``manifest.jsonl`` plus
``manifest.jsonl`` and ``meta.json`` themselves (today, schema 1, the manifest lives inside
meta.json, so it lists the data files plus ``meta.json``).
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING, Any

from mlops.errors import SignatureExistsError
from mlops.trust.keys import SigningKey
from mlops.trust.pickle_inspect import is_pickle_name
from mlops.trust.policy import TrustPolicy
from mlops.trust.signature import SIGNATURE_FILE, sign_files

if TYPE_CHECKING:
    from mlops.version import PublishedVersion

META_FILE = "meta.json"


def open_version(path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> PublishedVersion:
    """The dataset or model version at ``path`` (reads meta.json only)."""
    from mlops import registry

    return registry.open_version(path, storage_options=storage_options)


def describe(version: PublishedVersion) -> str:
    """``"dataset points v1"``: what a version is, for messages."""
    return f"{version.metadata['kind']} {version.name} {version.version}"


def manifest_hashes(version: PublishedVersion) -> dict[str, str]:
    """``{relpath: sha256}`` of the version's data files, from its manifest."""
    return {relpath: entry.sha256 for relpath, entry in version._manifest.items()}


def signed_files(version: PublishedVersion) -> dict[str, str]:
    """``{relpath: sha256}`` of every file of the committed version that a signature must cover:
    the data files (hashes from the manifest: no data is read) and meta.json (hashed from its bytes)."""
    files = manifest_hashes(version)
    files[META_FILE] = hashlib.sha256(_read(version, META_FILE)).hexdigest()
    return files


def read_signature(version: PublishedVersion) -> bytes | None:
    """The bytes of the version's ``mlops.sig``, or ``None`` when it is not signed."""
    try:
        return _read(version, SIGNATURE_FILE)
    except (FileNotFoundError, IsADirectoryError):
        return None


def check_version(version: PublishedVersion, policy: TrustPolicy | None) -> str | None:
    """Admit ``version`` under ``policy`` before anything of it is unpickled: returns the signer's
    fingerprint, ``None`` when no policy is in force, and raises
    :class:`~mlops.errors.UntrustedVersionError` when the version is not signed by a trusted key
    or holds a file its signature does not vouch for."""
    if policy is None:
        return None
    return policy.check(read_signature(version), signed_files(version), where=version.path)


def sign_version(version: PublishedVersion, key: SigningKey) -> str:
    """Sign the committed ``version`` with ``key``: write its ``mlops.sig`` (create-only) over the
    hashes of every file. Returns the signature's path."""
    data = sign_files(signed_files(version), key.key, name=version._loc.name)
    target = version._loc.child(SIGNATURE_FILE)
    try:
        version._publisher.create_exclusive(target, data)
    except FileExistsError as exc:
        raise SignatureExistsError(
            f"{version.path} is already signed ({SIGNATURE_FILE} exists); a version is signed once, when it "
            "is published or right after"
        ) from exc
    return target.url


def pickle_files(version: PublishedVersion) -> list[str]:
    """The files of ``version`` that loading it would unpickle: the processor's file and every
    file whose name says it is a pickle (``.pkl``, ``.joblib``, ``.pt``...)."""
    processor = version.metadata.get("processor")
    named = processor.get("file") if isinstance(processor, dict) else None
    return [p for p in version._manifest if p == named or is_pickle_name(p)]


def read_verified(version: PublishedVersion, relpath: str) -> bytes:
    """The bytes of one file of ``version``, returned only once they match its manifest sha256 (as
    ``VersionedDataset.data_processor`` reads its pickle)."""
    return version._publisher.read_verified(version._loc.child(relpath), version._manifest[relpath], relpath)


def _read(version: PublishedVersion, relpath: str) -> bytes:
    return version._publisher.read_bytes(version._loc.child(relpath))
