"""The manifest of a version: every data file's relative path, sha256 and size, one JSON object
per line (``manifest.jsonl``), sorted by path. Pure encoding and decoding; meta.json records the
manifest's own sha256, and readers check it before they trust a line."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from mlops.errors import MetadataError
from mlops.metadata.codec import MANIFEST_FILE, safe_relpath
from mlops.metadata.records import ManifestRef
from mlops.store.base import FileEntry


def encode(entries: Mapping[str, FileEntry]) -> bytes:
    """The manifest file's bytes for ``entries``."""
    lines = [
        json.dumps({"path": rel, "sha256": entries[rel].sha256, "size": entries[rel].size}, separators=(",", ":"))
        for rel in sorted(entries)
    ]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def reference(data: bytes, entries: Mapping[str, FileEntry]) -> ManifestRef:
    """What meta.json says of the manifest ``data`` encoding ``entries``."""
    return ManifestRef(
        file=MANIFEST_FILE,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        count=len(entries),
        total_bytes=sum(e.size for e in entries.values()),
    )


def decode(data: bytes, ref: ManifestRef, where: str) -> dict[str, FileEntry]:
    """The entries of a manifest file, after checking its bytes against ``ref``."""
    if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise MetadataError(
            f"the manifest of {where} does not match the sha256 recorded in meta.json: it was changed or "
            "truncated after publication; do not trust this version"
        )
    try:  # one parse of the whole file (a JSON array of its lines): far faster than a parse per line
        items = json.loads(b"[" + data.strip().replace(b"\n", b",") + b"]")
    except (ValueError, TypeError) as exc:
        raise MetadataError(f"the manifest of {where} is malformed: {exc}") from exc
    entries: dict[str, FileEntry] = {}
    for number, item in enumerate(items, 1):
        try:
            rel, sha, size = item["path"], item["sha256"], item["size"]
        except (TypeError, KeyError) as exc:
            raise MetadataError(f"the manifest of {where}, line {number}, is malformed: {exc!r}") from exc
        safe_relpath(rel, where)
        if (
            not isinstance(sha, str)
            or len(sha) != 64
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
            or rel in entries
        ):
            raise MetadataError(f"the manifest of {where}, line {number} ({rel!r}), is malformed or repeated")
        entries[rel] = FileEntry(sha, size)
    if len(entries) != ref.count:
        raise MetadataError(f"the manifest of {where} lists {len(entries)} files, meta.json says {ref.count}")
    return entries
