"""The manifest codec on its own (pure, no store): what it accepts, and that every unsound line is
refused naming its line, whichever of the two checking paths (all columns at once, or line by
line) sees it first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlops import errors
from mlops.metadata import manifest
from mlops.metadata.codec import safe_relpath
from mlops.store.base import FileEntry

SHA = "ab" * 32


def _decode(items: list[Any]) -> dict[str, FileEntry]:
    data = b"".join(json.dumps(item).encode() + b"\n" for item in items)
    ref = manifest.reference(data, {f"k{i}": FileEntry(SHA, 0) for i in range(len(items))})
    return manifest.decode(data, ref, "the test version")


def _line(path: Any = "raw/a.csv", sha: Any = SHA, size: Any = 3) -> dict[str, Any]:
    return {"path": path, "sha256": sha, "size": size}


def test_round_trip_of_many_entries() -> None:
    entries = {f"raw/d{i % 7}/f{i}.bin": FileEntry(f"{i:064x}", i) for i in range(1000)}
    data = manifest.encode(entries)
    decoded = manifest.decode(data, manifest.reference(data, entries), "v")
    assert decoded == entries
    assert list(decoded) == sorted(entries)
    assert all(type(e) is FileEntry for e in decoded.values())


def test_an_empty_manifest() -> None:
    assert manifest.decode(b"", manifest.reference(b"", {}), "v") == {}


@pytest.mark.parametrize("path", ["raw/new\nline.txt", "raw/é ü.csv", "raw/..hidden", "raw/.x", "raw/a..b", "..."])
def test_unusual_but_safe_paths_are_kept(path: str) -> None:
    assert _decode([_line("raw/a.csv"), _line(path)]) == {"raw/a.csv": FileEntry(SHA, 3), path: FileEntry(SHA, 3)}


UNSAFE = [
    "../x", "/etc/passwd", "raw/../../x", "./X.npy", "a//b", "a/", "a/.", "a/./b", "a/..", ".", "..", "",
    "a\\b", "a\0b", "meta.json", "manifest.jsonl", "mlops.sig", "raw/x/\n",
]  # fmt: skip


@pytest.mark.parametrize("path", UNSAFE)
def test_unsafe_paths_are_refused_on_their_line(path: str) -> None:
    with pytest.raises(errors.MetadataError, match="unsafe file path"):
        safe_relpath(path, "v")  # the rule the codec applies
    with pytest.raises(errors.MetadataError, match="unsafe file path"):
        _decode([_line("raw/a.csv"), _line(path), _line("raw/b.csv")])


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (_line(sha="ab" * 31), "line 2 .*malformed"),
        (_line(sha="ab" * 33), "line 2 .*malformed"),
        (_line(sha=7), "line 2 .*malformed"),
        (_line(size=True), "line 2 .*malformed"),
        (_line(size=-1), "line 2 .*malformed"),
        (_line(size=3.0), "line 2 .*malformed"),
        (_line(size="3"), "line 2 .*malformed"),
        (_line(path=5), "unsafe file path"),
        ({"path": "raw/b.csv", "sha256": SHA}, "line 2, is malformed"),
        (["raw/b.csv", SHA, 3], "line 2, is malformed"),
        ("raw/b.csv", "line 2, is malformed"),
        (_line(path="raw/first.csv"), "line 2 .*repeated"),
    ],
)
def test_unsound_lines_are_named(line: Any, why: str) -> None:
    with pytest.raises(errors.MetadataError, match=why):
        _decode([_line("raw/first.csv"), line, _line("raw/z.csv")])


def test_the_count_must_match_meta_json() -> None:
    data = manifest.encode({"raw/a": FileEntry(SHA, 1)})
    ref = manifest.reference(data, {"raw/a": FileEntry(SHA, 1), "raw/b": FileEntry(SHA, 1)})
    with pytest.raises(errors.MetadataError, match="lists 1 files, meta.json says 2"):
        manifest.decode(data, ref, "v")


def test_the_collector_is_left_as_found() -> None:
    import gc

    data = manifest.encode({"raw/a": FileEntry(SHA, 1)})
    ref = manifest.reference(data, {"raw/a": FileEntry(SHA, 1)})
    gc.disable()
    try:
        manifest.decode(data, ref, "v")
        assert not gc.isenabled()
    finally:
        gc.enable()
    manifest.decode(data, ref, "v")
    assert gc.isenabled()
    with pytest.raises(errors.MetadataError):
        _decode([_line(size=-1)])
    assert gc.isenabled()
