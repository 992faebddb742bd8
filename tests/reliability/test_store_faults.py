"""Stores that fail: a server that dies mid-publish, multipart uploads, stores without create-only
writes. Each failure is a clear mlops error, and no partial version ever becomes visible."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from reliability_support import SerialMotoServer

from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.store import NonExclusiveStoreWarning
from mlops.versions.incomplete import remove_incomplete
from mlops.versions.writer import VersionWriter
from sample_processors import CsvProcessor


@pytest.fixture
def killable_s3(s3_server: str) -> Iterator[tuple[SerialMotoServer, int]]:
    """A moto server of its own, so the test can stop it and restart it on the same port (moto keeps
    its buckets in process memory, so they survive the restart). The OS picks the port when it
    first starts: a port looked up before would be free for anyone, another test worker included."""
    server = SerialMotoServer()
    port = int(server.start().rsplit(":", 1)[1])
    yield server, port
    try:
        server.stop()
    except Exception:  # noqa: BLE001 - already stopped by the test
        pass


def test_server_dying_mid_publish(
    killable_s3: tuple[SerialMotoServer, int], medium_raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = killable_s3
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"faults-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    # Few retries, so that the dead server is noticed in seconds rather than minutes.
    options: dict[str, Any] = {"endpoint_url": endpoint, "config_kwargs": {"retries": {"max_attempts": 1}}}
    monkeypatch.setattr("s3fs.S3FileSystem.retries", 1)
    root = f"s3://{bucket}/datasets"
    builder = VersionedDatasetBuilder(medium_raw, CsvProcessor())

    copied = []
    original_copy = VersionWriter.copy

    def copy_then_die(self: VersionWriter, relpath: str, src: Any) -> Any:
        entry = original_copy(self, relpath, src)
        copied.append(relpath)
        if len(copied) == 3:
            server.stop()
        return entry

    monkeypatch.setattr(VersionWriter, "copy", copy_then_die)
    with pytest.raises(errors.StoreError, match="cannot") as info:
        builder.publish(root, "v1", storage_options=options)
    assert endpoint.split("//")[1] in str(info.value) or "connect" in str(info.value).lower()
    monkeypatch.setattr(VersionWriter, "copy", original_copy)

    server = SerialMotoServer(port)  # the server comes back: the version is not visible
    server.start()
    try:
        with pytest.raises(errors.IncompleteVersionError):
            VersionedDataset(f"{root}/v1", storage_options=options)
        with pytest.raises(errors.PublicationPathAlreadyExistsError, match="incomplete"):
            builder.publish(root, "v1", storage_options=options)
        assert remove_incomplete(root, storage_options=options) == [f"{root}/v1"]
        VersionedDataset(builder.publish(root, "v1", storage_options=options), storage_options=options).verify()
    finally:
        server.stop()


def test_zero_byte_and_multipart_files_published_twice(s3_server: str, s3_bucket: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.bin").write_bytes(b"")
    (raw / "big.bin").write_bytes(os.urandom(12 * 2**20))  # above the 5 MB part size: multipart
    (raw / "data.csv").write_text("1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    options = {"default_block_size": 5 * 2**20}
    builder = VersionedDatasetBuilder(str(raw), CsvProcessor())
    path = builder.publish(f"{s3_bucket}/ds", "v1", storage_options=options)
    with pytest.raises(errors.PublicationPathAlreadyExistsError):
        builder.publish(f"{s3_bucket}/ds", "v1", storage_options=options)
    dataset = VersionedDataset(path)
    dataset.verify()
    assert dataset.files["raw/empty.bin"].size == 0
    assert dataset.files["raw/big.bin"].size == 12 * 2**20
    uploads = boto3.client("s3", endpoint_url=s3_server).list_multipart_uploads(Bucket=s3_bucket.removeprefix("s3://"))
    assert uploads.get("Uploads", []) == []


class NoExclusiveFS(MemoryFileSystem):
    """A store without create-only writes (like some S3-compatible servers or FTP)."""

    protocol = "noexcl"

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "x" in mode:
            raise ValueError("mode 'x' is not supported by this store")
        return super()._open(path, mode, **kwargs)


def test_store_without_exclusive_create_is_warned_about(raw_dir: str) -> None:
    fsspec.register_implementation("noexcl", NoExclusiveFS, clobber=True)
    builder = VersionedDatasetBuilder(raw_dir, CsvProcessor())
    with pytest.warns(NonExclusiveStoreWarning, match="cannot create files exclusively"):
        path = builder.publish("noexcl://warned", "v1")
    assert VersionedDataset(path).hash
    with pytest.raises(errors.PublicationPathAlreadyExistsError):  # sequential protection still holds
        builder.publish("noexcl://warned", "v1")


def test_every_local_file_is_fsynced_before_meta_json(
    tmp_path: Path, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are fsynced on helper threads while the publish goes on; meta.json, which makes the
    version exist, is created only once all of them are durable (also for models, whose files
    are moved in and fsynced while they are hashed)."""
    from sklearn.linear_model import LinearRegression

    from mlops.model.versioned_model_builder import VersionedModelBuilder
    from mlops.store import LocalStore

    events: list[str] = []
    real_fsync, real_create = os.fsync, LocalStore.create_exclusive

    def fsync(fd: int) -> None:  # a slow disk: a publish that did not wait would write meta.json first
        time.sleep(0.02)
        real_fsync(fd)
        events.append("fsync " + os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))

    def create_exclusive(self: LocalStore, loc: Any, data: bytes) -> None:
        events.append("create " + loc.name)
        real_create(self, loc, data)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(LocalStore, "create_exclusive", create_exclusive)
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v1")
    dataset = VersionedDataset(path)
    model = LinearRegression().fit(dataset.X_train, dataset.y_train)
    model_path = VersionedModelBuilder(dataset, model).publish(str(tmp_path / "models"), "v1")

    for publish in (path, model_path):
        names = {os.path.basename(f) for f in _files_of(publish)} - {"meta.json"}
        meta_at = events.index("create meta.json")
        synced = {e.removeprefix("fsync ") for e in events[:meta_at] if e.startswith("fsync ")}
        assert names <= synced, f"not fsynced before meta.json: {names - synced}"
        del events[: meta_at + 1]


def _files_of(path: str) -> list[str]:
    return [os.path.join(folder, n) for folder, _dirs, names in os.walk(path) for n in names]


def test_a_failed_fsync_aborts_the_publish_and_leaves_nothing(
    tmp_path: Path, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.store import LocalStore

    def failing_sync(self: LocalStore, loc: Any) -> None:
        if loc.name == "data.csv":
            raise errors.StoreError(f"cannot sync {loc.url}: OSError: [Errno 5] Input/output error")

    monkeypatch.setattr(LocalStore, "sync", failing_sync)
    with pytest.raises(errors.StoreError, match="cannot sync .*data.csv"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v1")
    assert os.listdir(tmp_path / "ds") == []
    monkeypatch.undo()
    VersionedDataset(VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v1")).verify()


def test_many_small_files_are_flushed_once_before_meta_json(
    tmp_path: Path, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From SYNCFS_MIN small files on, one filesystem flush replaces an fsync each, and it still
    happens before meta.json is created; a failed flush aborts the publish."""
    from mlops.store import LocalStore, local

    for i in range(local.SYNCFS_MIN + 10):
        (Path(raw_dir) / f"small-{i:04d}.txt").write_text(str(i))
    events: list[str] = []
    real_syncfs, real_create, real_fsync = local._syncfs, LocalStore.create_exclusive, os.fsync

    def syncfs(folder: str) -> bool:
        events.append("syncfs")
        return real_syncfs(folder)

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def create_exclusive(self: LocalStore, loc: Any, data: bytes) -> None:
        events.append("create " + loc.name)
        real_create(self, loc, data)

    monkeypatch.setattr(local, "_syncfs", syncfs)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(LocalStore, "create_exclusive", create_exclusive)
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v1")
    assert events.count("syncfs") == 1 and events.index("syncfs") < events.index("create meta.json")
    assert events.count("fsync") < 20  # the claim, the manifest and meta.json, not one per file
    VersionedDataset(path).verify()

    def failing_syncfs(folder: str) -> bool:
        raise errors.StoreError(f"cannot flush the filesystem of {folder}: Input/output error")

    monkeypatch.setattr(local, "_syncfs", failing_syncfs)
    with pytest.raises(errors.StoreError, match="cannot flush"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v2")
    assert sorted(os.listdir(tmp_path / "ds")) == ["v1"]
