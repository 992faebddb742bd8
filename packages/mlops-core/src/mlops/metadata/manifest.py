"""The manifest of a version: every data file's relative path, sha256 and size, one JSON object
per line (``manifest.jsonl``), sorted by path. Pure encoding and decoding; meta.json records the
manifest's own sha256, and readers check it before they trust a line."""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mlops.errors import MetadataError
from mlops.metadata.codec import MANIFEST_FILE, RESERVED_FILES, safe_relpath
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
    with _collector_paused():
        try:  # one parse of the whole file (a JSON array of its lines): far faster than a parse per line
            items = json.loads(b"[" + data.strip().replace(b"\n", b",") + b"]")
        except (ValueError, TypeError) as exc:
            raise MetadataError(f"the manifest of {where} is malformed: {exc}") from exc
        entries = _checked_at_once(items)
        if entries is None:  # something is wrong: the line-by-line checks name the first bad line
            entries = _checked_by_line(items, where)
    if len(entries) != ref.count:
        raise MetadataError(f"the manifest of {where} lists {len(entries)} files, meta.json says {ref.count}")
    return entries


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a manifest's objects are made: they hold no cycles,
    and its passes over a million fresh dicts and tuples would cost a third of the decoding."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _checked_at_once(items: list[Any]) -> dict[str, FileEntry] | None:
    """The entries when every line is sound, checked column by column in C loops (a verify of a
    million small files must not spend its time here); ``None`` when any check fails."""
    try:
        paths = [item["path"] for item in items]
        shas = [item["sha256"] for item in items]
        sizes = [item["size"] for item in items]
        joined = "\0".join(paths)  # a TypeError unless every path is a str
        "".join(shas)  # likewise a TypeError unless every sha256 is a str
    except (TypeError, KeyError):
        return None
    if not items:
        return {}
    if (
        joined.count("\0") != len(paths) - 1  # a NUL inside a path
        or "\\" in joined
        or "\n" in joined  # the per-path rule treats a line end specially: leave those to it
        or _has_unsafe_part(joined)
        or not RESERVED_FILES.isdisjoint(paths)
        or set(map(len, shas)) != {64}
        or set(map(type, sizes)) != {int}  # not bool: type(True) is bool
        or min(sizes) < 0
    ):
        return None
    entries = dict(zip(paths, map(FileEntry, shas, sizes), strict=True))
    return entries if len(entries) == len(paths) else None  # a repeated path


def _has_unsafe_part(joined: str) -> bool:
    """Whether a path of ``joined`` (paths joined by NUL, none holding one) has an empty, ``.`` or
    ``..`` part: :func:`~mlops.metadata.codec.safe_relpath`'s rule, as three substring searches."""
    parts = ("\0" + joined + "\0").replace("/", "\0")
    return "\0\0" in parts or "\0.\0" in parts or "\0..\0" in parts


def _checked_by_line(items: list[Any], where: str) -> dict[str, FileEntry]:
    """The entries, checking each line in turn: raises naming the first line that is not sound."""
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
    return entries
