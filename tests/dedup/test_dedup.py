"""Deduplicated publishing: files already in a committed version of the root are hard-linked (local)
or copied server-side (S3) instead of written again, and removing a version never affects another."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from counting_proxy import CountingProxy

import mlops
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.store import FileEntry, Location, cache
from mlops.store.hashing import sha256_of_file
from mlops.store.local import LocalStore
from mlops.versions import dedup
from sample_processors import CsvProcessor, write_raw

MB = 1024 * 1024
BOOKKEEPING = {"meta.json", "manifest.jsonl"}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "mlops-cache"))


def make_raw(folder: Path, files: int = 20, size: int = 256 * 1024) -> str:
    """A raw folder: the CSV the processor reads, and ``files`` random binary files of ``size`` bytes."""
    write_raw(str(folder))
    rng = np.random.default_rng(1)
    for i in range(files):
        (folder / "bin" / f"part-{i:03}.bin").parent.mkdir(exist_ok=True)
        (folder / "bin" / f"part-{i:03}.bin").write_bytes(rng.bytes(size))
    return str(folder)


def publish(raw: str, root: str, version: str, **options: object) -> str:
    return VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, version, **options)  # type: ignore[arg-type]


def data_files(version: str) -> dict[str, os.stat_result]:
    out = {}
    for path in Path(version).rglob("*"):
        rel = path.relative_to(version).as_posix()
        if path.is_file() and rel not in BOOKKEEPING:
            out[rel] = path.stat()
    return out


def test_identical_version_is_hard_linked_and_a_changed_file_is_new(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = make_raw(tmp_path / "raw")
    root = str(tmp_path / "datasets")
    v1 = publish(raw, root, "v1")
    with caplog.at_level(logging.INFO, logger="mlops.versions.writer"):
        v2 = publish(raw, root, "v2")
    first, second = data_files(v1), data_files(v2)
    assert set(first) == set(second) and len(first) > 20
    for rel in first:
        assert (first[rel].st_dev, first[rel].st_ino) == (second[rel].st_dev, second[rel].st_ino), rel
    assert f"{len(first)} reused" in caplog.text and "0 file(s) written (0 bytes)" in caplog.text

    changed = Path(raw, "bin", "part-007.bin")
    changed.write_bytes(np.random.default_rng(9).bytes(256 * 1024))
    v3 = publish(raw, root, "v3")
    third = data_files(v3)
    assert third["raw/bin/part-007.bin"].st_ino != second["raw/bin/part-007.bin"].st_ino
    assert third["raw/bin/part-006.bin"].st_ino == second["raw/bin/part-006.bin"].st_ino
    for version in (v1, v2, v3):
        mlops.open_version(version).verify()
    assert Path(v3, "raw/bin/part-007.bin").read_bytes() == changed.read_bytes()


def test_removing_a_version_leaves_the_versions_sharing_its_files_intact(tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "raw")
    root = str(tmp_path / "datasets")
    v1, v2 = publish(raw, root, "v1"), publish(raw, root, "v2")
    mlops.remove_version(v1)
    assert not os.path.exists(v1)
    mlops.open_version(v2).verify()
    v3 = publish(raw, root, "v3")  # v2's files are the ones linked now
    mlops.remove_version(v2)
    mlops.open_version(v3).verify()
    assert all(st.st_nlink == 1 for st in data_files(v3).values())


def test_unchanged_local_sources_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = make_raw(tmp_path / "raw", files=3)
    root = str(tmp_path / "datasets")
    publish(raw, root, "v1")  # the copy hashes each source on the way, and remembers it
    hashed: list[str] = []

    def counting(path: str) -> tuple[str, int]:
        hashed.append(path)
        return sha256_of_file(path)

    monkeypatch.setattr("mlops.store.local.sha256_of_file", counting)
    publish(raw, root, "v2")
    large = [path for path in hashed if os.path.getsize(path) >= cache.HASH_RECORD_MIN]
    assert large == []  # small files (the CSV, a small blob) are read again: cheaper than a record of their hash
    assert all(os.path.getsize(path) < cache.HASH_RECORD_MIN for path in hashed), hashed
    hashed.clear()
    Path(raw, "bin", "part-001.bin").write_bytes(np.random.default_rng(9).bytes(256 * 1024))
    publish(raw, root, "v3")
    assert [path for path in hashed if os.path.getsize(path) >= cache.HASH_RECORD_MIN] == [
        os.path.join(raw, "bin", "part-001.bin")
    ]


def test_a_source_changed_while_it_is_copied_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The remembered hash is the copy's only when the source's identity did not move meanwhile."""
    raw = make_raw(tmp_path / "raw", files=1)
    root = str(tmp_path / "datasets")
    source = Path(raw, "bin", "part-000.bin")
    original = LocalStore.copy_from

    def copy_then_touch(self: LocalStore, src: Location, dest: Location, *, durable: bool = True) -> FileEntry:
        entry = original(self, src, dest, durable=durable)
        if src.path == str(source):
            source.write_bytes(np.random.default_rng(4).bytes(256 * 1024))
        return entry

    monkeypatch.setattr(LocalStore, "copy_from", copy_then_touch)
    publish(raw, root, "v1")
    assert cache.remembered_sha256(source.stat()) is None


def test_identical_second_version_on_s3_sends_under_5_percent(
    tmp_path: Path, s3_bucket: str, s3_counted: CountingProxy
) -> None:
    raw = make_raw(tmp_path / "raw", files=8, size=MB)
    options = {"endpoint_url": s3_counted.endpoint}
    root = f"{s3_bucket}/datasets"
    s3_counted.reset()
    v1 = publish(raw, root, "v1", storage_options=options)
    first = s3_counted.counts().upstream
    s3_counted.reset()
    v2 = publish(raw, root, "v2", storage_options=options)
    second = s3_counted.counts().upstream
    assert first > 8 * MB
    assert second <= 0.05 * first, (first, second)
    for version in (v1, v2):
        mlops.open_version(version, storage_options=options).verify()
    mlops.remove_version(v1, storage_options=options)
    mlops.open_version(v2, storage_options=options).verify()


def test_a_source_version_removed_before_it_is_linked_is_written_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = make_raw(tmp_path / "raw", files=4)
    root = str(tmp_path / "datasets")
    v1 = publish(raw, root, "v1")
    original = dedup.Deduplicator._reuse
    lock = threading.Lock()

    def remove_first(self: dedup.Deduplicator, candidate: dedup.Candidate, dest: Location, entry: FileEntry) -> bool:
        with lock:  # another process removes v1 between the index and the first link
            if os.path.exists(v1):
                mlops.remove_version(v1)
        return original(self, candidate, dest, entry)

    monkeypatch.setattr(dedup.Deduplicator, "_reuse", remove_first)
    v2 = publish(raw, root, "v2")
    assert not os.path.exists(v1)
    mlops.open_version(v2).verify()
    assert all(st.st_nlink == 1 for st in data_files(v2).values())


def test_a_source_version_removed_after_it_was_linked_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A removal that starts after the files were linked: the links would keep v1's bytes alive,
    but v2 must not depend on a version that is going away, so its files are written afresh."""
    raw = make_raw(tmp_path / "raw", files=4)
    root = str(tmp_path / "datasets")
    v1 = publish(raw, root, "v1")
    original = dedup.Deduplicator.confirm

    def remove_then_confirm(self: dedup.Deduplicator) -> dict[str, FileEntry]:
        os.remove(os.path.join(v1, "meta.json"))  # a removal's first step, then it is interrupted
        return original(self)

    monkeypatch.setattr(dedup.Deduplicator, "confirm", remove_then_confirm)
    v2 = publish(raw, root, "v2")
    mlops.open_version(v2).verify()
    remaining = data_files(v1)
    for rel, st in data_files(v2).items():
        assert st.st_ino != remaining[rel].st_ino, rel


def test_on_s3_a_source_version_removed_before_it_is_copied_is_uploaded_instead(
    tmp_path: Path, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = make_raw(tmp_path / "raw", files=4)
    root = f"{s3_bucket}/datasets"
    v1 = publish(raw, root, "v1")
    original = dedup.Deduplicator._reuse
    lock = threading.Lock()
    removed: list[str] = []

    def remove_first(self: dedup.Deduplicator, candidate: dedup.Candidate, dest: Location, entry: FileEntry) -> bool:
        with lock:  # another process removes v1 between the index and the first copy
            if not removed:
                removed.append(mlops.remove_version(v1).path)
        return original(self, candidate, dest, entry)

    monkeypatch.setattr(dedup.Deduplicator, "_reuse", remove_first)
    v2 = publish(raw, root, "v2")
    assert removed == [v1] and [info.version for info in mlops.list_versions(root)] == ["v2"]
    mlops.open_version(v2).verify()
