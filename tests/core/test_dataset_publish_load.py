"""Publishing a dataset and loading it back, on local disk, memory:// and the moto S3 server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from typing import Any

import fsspec
import numpy as np
import pytest

import mlops
from format_checks import check_against_json_schema
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.invertible_data_processor import InvertibleDataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import PublicationPathAlreadyExistsError
from sample_processors import CsvProcessor, write_raw


def _read(url: str) -> bytes:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    with fs.open(path, "rb") as f:
        return bytes(f.read())


def _files(url: str) -> set[str]:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return {p[len(path.rstrip("/")) + 1 :] for p in fs.find(path)}


def test_publish_writes_the_documented_layout(store: str, raw_dir: str) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, "v1", tags=["tabular", "demo"])

    assert path.rstrip("/").endswith("v1")
    assert _files(path) == {
        "X_train.npy",
        "X_test.npy",
        "y_train.npy",
        "y_test.npy",
        "data_processor.pkl",
        "manifest.jsonl",
        "meta.json",
        "raw/data.csv",
        "raw/extra/deep/blob.bin",
        "environment/pylock.toml",
        "environment/python.json",
    }
    meta = json.loads(_read(path.rstrip("/") + "/meta.json"))
    check_against_json_schema(meta)
    assert meta["schema"] == 2 and meta["kind"] == "dataset"
    assert meta["version"] == "v1" and meta["tags"] == ["tabular", "demo"]
    assert meta["name"] == os.path.basename(store.rstrip("/"))
    x_train = _read(path.rstrip("/") + "/X_train.npy")
    assert meta["tensors"]["X_train"] == {
        "file": "X_train.npy",
        "role": "features",
        "shape": [9, 2],
        "dtype": "float32",
        "format": "npy",
        "sha256": hashlib.sha256(x_train).hexdigest(),
        "size": len(x_train),
    }
    assert meta["tensors"]["y_test"]["role"] == "labels"
    assert meta["raw"]["strategy"] == "copy" and meta["raw"]["source"] == os.path.abspath(raw_dir)
    assert (meta["raw"]["files"], meta["raw"]["bytes"]) == (2, 229 + 3000)
    assert meta["processor"]["class"] == "sample_processors.CsvProcessor"
    assert meta["processor"]["python"].count(".") == 2
    assert {"python", "mlops-core", "numpy", "cloudpickle"} <= set(meta["libraries"])
    # The manifest lists every file but meta.json and itself with its real sha256 and size, and
    # meta.json records the manifest's own sha256 and size.
    manifest_bytes = _read(path.rstrip("/") + "/manifest.jsonl")
    lines = [json.loads(line) for line in manifest_bytes.splitlines()]
    assert [line["path"] for line in lines] == sorted(_files(path) - {"meta.json", "manifest.jsonl"})
    for line in lines:
        data = _read(path.rstrip("/") + "/" + line["path"])
        assert line == {"path": line["path"], "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert meta["manifest"] == {
        "file": "manifest.jsonl",
        "sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "size": len(manifest_bytes),
        "count": len(lines),
        "bytes": sum(line["size"] for line in lines),
    }


def test_loaded_dataset_has_tensors_processor_and_identity(store: str, raw_dir: str) -> None:
    processor = CsvProcessor()
    features, labels = processor.get_preprocessed_features_and_labels(raw_dir)
    path = VersionedDatasetBuilder(raw_dir, processor).publish(store, "v1", name="points", tags=["t"])

    dataset = VersionedDataset(path)

    for name, expected in {**features, **labels}.items():
        loaded = getattr(dataset, name)
        np.testing.assert_array_equal(loaded, expected)
        assert loaded.dtype == expected.dtype
    np.testing.assert_array_equal(dataset["X_test"], features["X_test"])
    assert dataset.feature_names == ["X_train", "X_test"] and dataset.label_names == ["y_train", "y_test"]
    assert (dataset.name, dataset.version, dataset.tags) == ("points", "v1", ["t"])
    assert dataset.path == path
    assert re.fullmatch(r"[0-9a-f]{64}", dataset.hash)
    assert dataset.metadata["hash"] == dataset.hash
    assert isinstance(dataset.data_processor, CsvProcessor)
    new = dataset.data_processor.get_preprocessed_features(raw_dir)
    np.testing.assert_array_equal(new["X_pred"], processor.get_preprocessed_features(raw_dir)["X_pred"])
    assert dataset.raw_strategy == "copy"
    assert _read(dataset.raw_path.rstrip("/") + "/data.csv") == open(os.path.join(raw_dir, "data.csv"), "rb").read()
    with pytest.raises(AttributeError, match="X_train"):
        dataset.not_a_tensor  # noqa: B018
    with pytest.raises(KeyError):
        dataset["nope"]


def test_local_tensors_are_memory_mapped(tmp_path: str, raw_dir: str) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(os.path.join(tmp_path, "ds"), "v1")
    assert isinstance(VersionedDataset(path).X_train, np.memmap)


def test_version_none_is_the_iso_timestamp(store: str, raw_dir: str) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store)
    dataset = VersionedDataset(path)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", dataset.version)
    assert dataset.version == dataset.created_at
    assert path.rstrip("/").endswith(dataset.version)


def test_same_content_gives_the_same_hash_on_every_store(tmp_path: str, s3_bucket: str, raw_dir: str) -> None:
    builder = VersionedDatasetBuilder(raw_dir, CsvProcessor())
    local = VersionedDataset(builder.publish(os.path.join(tmp_path, "a"), "v1", tags=["x"]))
    remote = VersionedDataset(builder.publish(f"{s3_bucket}/b", "v2", name="other"))
    memory = VersionedDataset(builder.publish("memory://hash-check", "v3"))
    assert local.hash == remote.hash == memory.hash
    assert local == remote == memory

    other_raw = write_raw(os.path.join(tmp_path, "raw2"), seed=1)
    different = VersionedDataset(VersionedDatasetBuilder(other_raw, CsvProcessor()).publish(f"{s3_bucket}/b", "v3"))
    assert different.hash != local.hash and different != local

    # Same tensors, but one raw byte changed: a different dataset.
    with open(os.path.join(raw_dir, "extra", "deep", "blob.bin"), "r+b") as f:
        f.write(b"\x00")
    changed = VersionedDataset(builder.publish(os.path.join(tmp_path, "a"), "v2"))
    assert changed.hash != local.hash


def test_existing_version_is_refused_and_left_untouched(store: str, raw_dir: str) -> None:
    builder = VersionedDatasetBuilder(raw_dir, CsvProcessor())
    path = builder.publish(store, "v1")
    before = {rel: _read(path.rstrip("/") + "/" + rel) for rel in _files(path)}

    other = VersionedDatasetBuilder(write_raw(raw_dir + "-2", seed=5), CsvProcessor())
    with pytest.raises(PublicationPathAlreadyExistsError, match="already exists") as info:
        other.publish(store, "v1")
    assert isinstance(info.value, FileExistsError)
    assert {rel: _read(path.rstrip("/") + "/" + rel) for rel in _files(path)} == before


def test_raw_link_records_the_source_instead_of_copying(store: str, raw_dir: str) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, "v1", raw="link")
    assert not any(f.startswith("raw/") for f in _files(path))
    dataset = VersionedDataset(path)
    assert dataset.raw_strategy == "link"
    assert dataset.raw_path == os.path.abspath(raw_dir)
    assert dataset.metadata["raw"] == {"strategy": "link", "source": os.path.abspath(raw_dir)}
    copied = VersionedDataset(VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, "v2"))
    assert copied.hash != dataset.hash  # a link is not the same content as a copy


def test_raw_data_from_a_url_and_a_single_file(tmp_path: str, raw_dir: str) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/raw-src/data.csv", open(os.path.join(raw_dir, "data.csv"), "rb").read())
    fs.pipe("/raw-src/nested/more.txt", b"more")

    class UrlProcessor(CsvProcessor):
        def get_raw_features_and_labels(self, dataset_path: str):  # type: ignore[no-untyped-def]
            with fsspec.open(dataset_path + "/data.csv") as f:
                rows = np.loadtxt(f, delimiter=",", ndmin=2)
            return {"X_train": rows[:, :2]}, {"y_train": rows[:, 2].astype(int)}

    path = VersionedDatasetBuilder("memory://raw-src", UrlProcessor()).publish(os.path.join(tmp_path, "ds"), "v1")
    assert {"raw/data.csv", "raw/nested/more.txt"} <= _files(path)
    assert open(os.path.join(path, "raw", "nested", "more.txt"), "rb").read() == b"more"

    single = os.path.join(raw_dir, "data.csv")

    class FileProcessor(CsvProcessor):
        def get_raw_features_and_labels(self, dataset_path: str):  # type: ignore[no-untyped-def]
            rows = np.loadtxt(dataset_path, delimiter=",", ndmin=2)
            return {"X_train": rows[:, :2]}, {"y_train": rows[:, 2].astype(int)}

    path = VersionedDatasetBuilder(single, FileProcessor()).publish(os.path.join(tmp_path, "ds"), "v2")
    assert "raw/data.csv" in _files(path)
    assert VersionedDataset(path).raw_path == os.path.join(path, "raw", "data.csv")


def test_storage_options_reach_fsspec(
    s3_server: str, s3_bucket: str, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    options = {"endpoint_url": s3_server, "key": "testing", "secret": "testing"}
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(
        f"{s3_bucket}/with-options", "v1", storage_options=options
    )
    dataset = VersionedDataset(path, storage_options=options)
    assert dataset.X_train.shape == (9, 2)


def test_design_md_imports_and_top_level_exports() -> None:
    assert issubclass(InvertibleDataProcessor, DataProcessor)
    for name in (
        "DataProcessor",
        "InvertibleDataProcessor",
        "VersionedDatasetBuilder",
        "VersionedDataset",
        "TrainingConfig",
        "VersionedModelBuilder",
        "VersionedModel",
        "ModelSerializer",
        "hookimpl",
    ):
        assert name in mlops.__all__ and getattr(mlops, name) is not None
    assert mlops.VersionedDataset is VersionedDataset
    with pytest.raises(TypeError):
        DataProcessor()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        type("Half", (InvertibleDataProcessor,), {})()


def test_remote_tensors_are_cached_by_content_hash(s3_bucket: str, raw_dir: str) -> None:
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(s3_bucket + "/ds", "v1")
    first = VersionedDataset(path).X_train.copy()
    fs, p = fsspec.url_to_fs(path)
    fs.rm(p + "/X_train.npy")  # the store lost it; the cache still has the verified bytes
    np.testing.assert_array_equal(VersionedDataset(path).X_train, first)


def test_prefetch_loads_every_tensor_at_once_verified(
    store: str, raw_dir: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.errors import IntegrityError

    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store + "/ds", "v1")
    expected = {name: np.array(VersionedDataset(path)[name]) for name in VersionedDataset(path).tensor_names}

    dataset = VersionedDataset(path)
    assert dataset.prefetch() is dataset
    fs, p = fsspec.url_to_fs(path)
    for name in expected:
        fs.rm(f"{p}/{name}.npy")  # everything the dataset needs is already loaded
    fs.invalidate_cache()
    for name, array in expected.items():
        np.testing.assert_array_equal(dataset[name], array)

    with pytest.raises(KeyError, match="no tensor 'X_nope'.*X_train"):
        VersionedDataset(path).prefetch(["X_train", "X_nope"])
    other = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store + "/ds", "v2")
    y_test = fsspec.url_to_fs(other)[1] + "/y_test.npy"
    data = bytearray(fs.cat_file(y_test))
    data[-1] ^= 1
    fs.pipe_file(y_test, bytes(data))
    fs.invalidate_cache()
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "empty-cache"))  # v1 cached the same tensors
    fresh = VersionedDataset(other)
    fresh.prefetch(["X_train"])  # only what is asked for
    with pytest.raises(IntegrityError, match="y_test.npy"):
        fresh.prefetch()


def test_large_remote_tensors_download_whole_and_verified(s3_bucket: str, raw_dir: str) -> None:
    """A tensor larger than one request goes through the store's own streamed download: the bytes
    arrive whole, a flipped byte is refused, and nothing unverified stays in the cache."""
    from mlops import store
    from mlops.errors import IntegrityError
    from mlops.store.hashing import CHUNK_SIZE
    from mlops.utils import progress
    from sample_processors import FixedProcessor

    class Counter:
        done = 0

        def advance(self, nbytes: int) -> None:
            self.done += nbytes

    big = np.random.default_rng(3).normal(size=(CHUNK_SIZE // 8 * 3 // 2 + 5,))  # 1.5 chunks
    path = VersionedDatasetBuilder(raw_dir, FixedProcessor({"X_big": big}, {"y": np.arange(3)})).publish(
        s3_bucket + "/ds", "v1"
    )
    counter = Counter()
    token = progress._current.set(counter)  # type: ignore[arg-type]
    try:
        loaded = VersionedDataset(path).X_big
    finally:
        progress._current.reset(token)
    np.testing.assert_array_equal(loaded, big)
    assert counter.done >= big.nbytes  # the download reported its bytes to the progress bar

    fs, p = fsspec.url_to_fs(path)
    data = bytearray(fs.cat_file(p + "/X_big.npy"))
    data[len(data) // 2] ^= 0xFF
    fs.pipe_file(p + "/X_big.npy", bytes(data))
    fs.invalidate_cache()
    with pytest.raises(IntegrityError, match="X_big.npy"):
        VersionedDataset(path).verify()
    blobs = os.path.join(store.cache_dir(), "blobs")
    assert not [name for _, _, names in os.walk(blobs) for name in names if name.startswith(".part-")]


def test_files_hashed_on_this_machine_are_not_hashed_again_until_they_change(
    tmp_path: str, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.errors import IntegrityError
    from mlops.store import cache, local
    from sample_processors import FixedProcessor

    rows = cache.VERIFIED_CACHE_MIN // (8 * 16) + 1  # X_train and X_test just above the threshold
    features = {"X_train": np.ones((rows, 16)), "X_test": np.zeros((rows, 16)), "X_small": np.ones(5)}
    processor = FixedProcessor(features, {"y": np.arange(3)})
    path = VersionedDatasetBuilder(raw_dir, processor).publish(os.path.join(tmp_path, "ds"), "v1")
    hashed: list[str] = []
    real = local.hashlib.sha256
    monkeypatch.setattr(local.hashlib, "sha256", lambda *a: hashed.append("x") or real(*a))
    VersionedDataset(path).X_train  # noqa: B018 - hashed while published: no second pass
    assert hashed == []
    VersionedDataset(path).X_small  # noqa: B018 - small files are hashed again: cheaper than a marker
    assert hashed == ["x"]
    hashed.clear()
    VersionedDataset(path).verify()  # an explicit verification always reads everything
    assert len(hashed) == len(VersionedDataset(path).files) + 1  # and the manifest, checked against meta.json
    # Rewriting a file, even with the same size, changes its identity: it is hashed and refused.
    target = os.path.join(path, "X_test.npy")
    data = bytearray(open(target, "rb").read())
    data[-1] ^= 1
    open(target, "wb").write(bytes(data))
    with pytest.raises(IntegrityError, match="X_test.npy"):
        VersionedDataset(path).X_test  # noqa: B018


@pytest.mark.parametrize("store_kind", ["local", "memory"])
def test_raw_files_are_copied_at_once_only_to_or_from_a_remote_store(
    store_kind: str, tmp_path: Any, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Object stores are latency-bound, so raw files go to them several at once; from local disk to
    local disk, threads would only contend, so they are copied one after the other."""
    import threading

    from mlops.store import Store

    threads: set[str] = set()
    real = Store.copy_from

    def spy(self: Store, src: Any, dest: Any, **kwargs: Any) -> Any:
        threads.add(threading.current_thread().name)
        return real(self, src, dest, **kwargs)

    monkeypatch.setattr(Store, "copy_from", spy)
    for i in range(12):  # enough files for a pool to use several threads
        with open(os.path.join(raw_dir, f"extra-{i}.txt"), "w") as f:
            f.write(str(i))
    root = os.path.join(tmp_path, "store") if store_kind == "local" else f"memory://copies-{uuid.uuid4().hex[:12]}"
    VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(root, "v1")
    if store_kind == "local":
        assert threads == {threading.current_thread().name}
    else:
        assert threads and all(name.startswith("mlops-transfer") for name in threads)
