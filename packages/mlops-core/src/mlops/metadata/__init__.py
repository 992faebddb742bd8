"""The format of a version: meta.json as typed records, the manifest, and the content hash.

Everything here is pure (no I/O): :func:`parse` turns meta.json into a :class:`DatasetRecord` or
:class:`ModelRecord`, :func:`dump` writes one back; :mod:`mlops.metadata.manifest` encodes and
decodes the manifest. Reading them from a store is :mod:`mlops.versions.layout`'s job.
"""

from __future__ import annotations

from mlops.metadata import records
from mlops.metadata.codec import (
    HASH_FORMAT,
    MANIFEST_FILE,
    META_FILE,
    READABLE_SCHEMAS,
    RESERVED_FILES,
    SCHEMA_VERSION,
    SIGNATURE_FILE,
    check_json,
    content_hash,
    dump,
    dumps,
    parse,
    safe_relpath,
    to_json,
)
from mlops.metadata.environment import library_versions
from mlops.metadata.records import *  # noqa: F403  (every record, as records.__all__ lists them)

__all__ = [
    "HASH_FORMAT",
    "MANIFEST_FILE",
    "META_FILE",
    "READABLE_SCHEMAS",
    "RESERVED_FILES",
    "SCHEMA_VERSION",
    "SIGNATURE_FILE",
    "check_json",
    "content_hash",
    "dump",
    "dumps",
    "library_versions",
    "parse",
    "safe_relpath",
    "to_json",
    *records.__all__,
]
