"""Bad input gets a clear mlops.errors exception before anything is written; bad stores and damaged
versions get one when loading."""

from __future__ import annotations

import json
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest

from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from sample_processors import CsvProcessor, FixedProcessor


def _nothing_at(url: str) -> bool:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return not fs.exists(path)


GOOD = {"X_train": np.ones((2, 2))}, {"y_train": np.zeros(2)}


@pytest.mark.parametrize(
    ("features", "labels", "error", "match"),
    [
        ([np.ones(2)], {}, errors.InvalidProcessorOutputError, "dict"),
        ({"X": [1, 2]}, {}, errors.InvalidProcessorOutputError, "numpy arrays"),
        ({"X": np.array([object(), 1], dtype=object)}, {}, errors.InvalidProcessorOutputError, "Python objects"),
        ({}, {}, errors.InvalidProcessorOutputError, "no tensors"),
        ({"X": np.ones(2)}, {"X": np.ones(2)}, errors.TensorNameError, "both features and labels"),
        ({"X": np.ones(2), "x": np.ones(2)}, {}, errors.TensorNameError, "case"),
        ({"../X": np.ones(2)}, {}, errors.TensorNameError, "safe file name"),
        ({"a/b": np.ones(2)}, {}, errors.TensorNameError, "safe file name"),
        ({"": np.ones(2)}, {}, errors.TensorNameError, "safe file name"),
        ({1: np.ones(2)}, {}, errors.TensorNameError, "strings"),
        ({"metadata": np.ones(2)}, {}, errors.TensorNameError, "reserved"),
        ({"path": np.ones(2)}, {}, errors.TensorNameError, "reserved"),
        ({"_private": np.ones(2)}, {}, errors.TensorNameError, "reserved"),
    ],
)
def test_bad_processor_output_fails_at_once(
    features: Any, labels: Any, error: type[Exception], match: str, raw_dir: str
) -> None:
    with pytest.raises(error, match=match) as info:
        VersionedDatasetBuilder(raw_dir, FixedProcessor(features, labels))
    assert isinstance(info.value, errors.MlopsError)


@pytest.mark.parametrize("version", ["", "   ", "a/b", "..", "v1/../x", "a\\b", ".hidden", "v\n1", "x" * 201, 3])
def test_bad_versions_are_refused_before_writing(version: Any, store: str, raw_dir: str) -> None:
    builder = VersionedDatasetBuilder(raw_dir, CsvProcessor())
    with pytest.raises(errors.InvalidVersionError):
        builder.publish(store, version)
    assert _nothing_at(store)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"tags": "image"}, errors.InvalidTagsError),
        ({"tags": ["ok", ""]}, errors.InvalidTagsError),
        ({"tags": ["ok", 3]}, errors.InvalidTagsError),
        ({"name": ""}, errors.InvalidNameError),
        ({"name": 5}, errors.InvalidNameError),
        ({"raw": "move"}, errors.InvalidRawStrategyError),
    ],
)
def test_bad_publish_arguments_are_refused_before_writing(
    kwargs: dict[str, Any], error: type[Exception], store: str, raw_dir: str
) -> None:
    with pytest.raises(error):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, "v1", **kwargs)
    assert _nothing_at(store)


def test_missing_dataset_path_and_non_processor(tmp_path: Path, raw_dir: str) -> None:
    with pytest.raises(errors.DatasetPathNotFoundError, match="does not exist"):
        VersionedDatasetBuilder(str(tmp_path / "nope"), CsvProcessor())
    with pytest.raises(errors.InvalidProcessorError):
        VersionedDatasetBuilder(raw_dir, object())  # type: ignore[arg-type]


def test_unpicklable_processor_fails_before_writing(store: str, raw_dir: str) -> None:
    processor = CsvProcessor()
    processor.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(errors.ProcessorSerializationError, match="cannot be pickled"):
        VersionedDatasetBuilder(raw_dir, processor).publish(store, "v1")
    assert _nothing_at(store)


def test_raw_file_vanishing_mid_copy_leaves_no_version(
    tmp_path: Path, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.versions.writer import VersionWriter

    builder = VersionedDatasetBuilder(raw_dir, CsvProcessor())
    victim = os.path.join(raw_dir, "extra", "deep", "blob.bin")
    original_copy_many = VersionWriter.copy_many

    def copy_after_deletion(self: VersionWriter, files: Any) -> Any:
        os.remove(victim)  # another process deletes raw data after it was listed, before it is copied
        return original_copy_many(self, files)

    monkeypatch.setattr(VersionWriter, "copy_many", copy_after_deletion)
    with pytest.raises(errors.StoreError, match="vanished"):
        builder.publish(str(tmp_path / "store"), "v1")
    assert not (tmp_path / "store" / "v1").exists()


# --- loading --------------------------------------------------------------------------------------------


def _publish(store: str, raw_dir: str) -> str:
    return VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store, "v1")


def _rewrite(url: str, transform: Any) -> None:
    fs, path = fsspec.url_to_fs(url)
    with fs.open(path, "rb") as f:
        data = f.read()
    with fs.open(path, "wb") as f:
        f.write(transform(data))
    fs.invalidate_cache()


def test_missing_and_incomplete_versions(store: str, raw_dir: str) -> None:
    with pytest.raises(errors.VersionNotFoundError, match="does not exist"):
        VersionedDataset(store + "/nothing")
    path = _publish(store, raw_dir)
    with pytest.raises(errors.VersionNotFoundError, match="ROOT/VERSION"):
        VersionedDataset(store)  # the publication root, not a version
    fs, p = fsspec.url_to_fs(path)
    fs.rm(p + "/meta.json")
    fs.invalidate_cache()
    with pytest.raises(errors.VersionNotFoundError, match="not a published dataset version"):
        VersionedDataset(path)
    fs.pipe(p + "/.mlops-publishing", b'{"token": "a publisher that never committed"}')
    fs.invalidate_cache()
    with pytest.raises(errors.IncompleteVersionError, match="remove_incomplete"):
        VersionedDataset(path)


def test_damaged_meta_json(store: str, raw_dir: str) -> None:
    path = _publish(store, raw_dir)
    _rewrite(path + "/meta.json", lambda b: b[: len(b) // 2])
    with pytest.raises(errors.MetadataError, match="not valid JSON"):
        VersionedDataset(path)
    _rewrite(path + "/meta.json", lambda b: json.dumps({"schema": 99}).encode())
    with pytest.raises(errors.MetadataError, match="schema"):
        VersionedDataset(path)


UNSAFE_PATHS = ["../../etc/passwd", "/etc/passwd", "raw/../../x", "./X.npy", "a//b", "meta.json", "manifest.jsonl", ""]


@pytest.mark.parametrize("relpath", UNSAFE_PATHS)
def test_manifest_paths_cannot_escape_the_version(tmp_path: Path, raw_dir: str, relpath: str) -> None:
    """An unsafe path in the manifest (re-hashed into meta.json, as an attacker would) is refused
    before anything is read through it."""
    import hashlib

    path = _publish(str(tmp_path / "store"), raw_dir)
    manifest = open(os.path.join(path, "manifest.jsonl"), "rb").read()
    manifest += json.dumps({"path": relpath, "sha256": "0" * 64, "size": 1}).encode() + b"\n"
    open(os.path.join(path, "manifest.jsonl"), "wb").write(manifest)
    meta = json.loads(open(os.path.join(path, "meta.json")).read())
    meta["manifest"].update(sha256=hashlib.sha256(manifest).hexdigest(), size=len(manifest))
    meta["manifest"]["count"] += 1
    open(os.path.join(path, "meta.json"), "w").write(json.dumps(meta))
    with pytest.raises(errors.MetadataError, match="unsafe file path"):
        VersionedDataset(path).verify()


@pytest.mark.parametrize("relpath", UNSAFE_PATHS)
def test_tensor_paths_cannot_escape_the_version(tmp_path: Path, raw_dir: str, relpath: str) -> None:
    path = _publish(str(tmp_path / "store"), raw_dir)
    meta = json.loads(open(os.path.join(path, "meta.json")).read())
    meta["tensors"]["X_train"]["file"] = relpath
    open(os.path.join(path, "meta.json"), "w").write(json.dumps(meta))
    with pytest.raises(errors.MetadataError, match="unsafe file path"):
        VersionedDataset(path)


def test_a_rewritten_manifest_is_refused(tmp_path: Path, raw_dir: str) -> None:
    path = _publish(str(tmp_path / "store"), raw_dir)
    _rewrite(path + "/manifest.jsonl", lambda b: b.replace(b'"size":3000', b'"size":3001'))
    with pytest.raises(errors.MetadataError, match="manifest .* does not match"):
        VersionedDataset(path).verify()


def test_tampered_tensor_is_named_on_access_and_by_verify(store: str, raw_dir: str) -> None:
    path = _publish(store, raw_dir)
    _rewrite(path + "/X_test.npy", lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    dataset = VersionedDataset(path)  # opening reads meta.json only
    np.testing.assert_array_equal(
        dataset.y_train, CsvProcessor().get_preprocessed_features_and_labels(raw_dir)[1]["y_train"]
    )
    with pytest.raises(errors.IntegrityError, match="X_test.npy") as info:
        dataset.X_test  # noqa: B018
    assert info.value.file == "X_test.npy"
    with pytest.raises(errors.IntegrityError, match="X_test.npy"):
        VersionedDataset(path).verify()


def test_truncated_raw_file_and_missing_file_fail_verify(store: str, raw_dir: str) -> None:
    path = _publish(store, raw_dir)
    VersionedDataset(path).verify()
    _rewrite(path + "/raw/extra/deep/blob.bin", lambda b: b[:100])
    with pytest.raises(errors.IntegrityError, match="raw/extra/deep/blob.bin"):
        VersionedDataset(path).verify()
    fs, p = fsspec.url_to_fs(path)
    fs.rm(p + "/raw/extra/deep/blob.bin")
    fs.invalidate_cache()
    with pytest.raises(errors.IntegrityError, match="missing"):
        VersionedDataset(path).verify()


class _Marker:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (open, (self.marker, "w"))


def test_tampered_processor_pickle_is_never_unpickled(store: str, raw_dir: str, tmp_path: Path) -> None:
    path = _publish(store, raw_dir)
    marker = tmp_path / "pwned"
    _rewrite(path + "/data_processor.pkl", lambda b: pickle.dumps(_Marker(str(marker))))
    dataset = VersionedDataset(path)
    with pytest.raises(errors.IntegrityError, match="data_processor.pkl"):
        dataset.data_processor  # noqa: B018
    assert not marker.exists()


def test_processor_from_another_python_minor_version_is_refused(tmp_path: Path, raw_dir: str) -> None:
    path = _publish(str(tmp_path / "store"), raw_dir)
    meta = json.loads(open(os.path.join(path, "meta.json")).read())
    meta["processor"]["python"] = "3.9.18"
    open(os.path.join(path, "meta.json"), "w").write(json.dumps(meta))
    with pytest.raises(errors.PythonVersionMismatchError, match="3.9.18"):
        VersionedDataset(path).data_processor  # noqa: B018


def test_unreachable_store_is_a_clear_error() -> None:
    with pytest.raises(errors.StoreError, match="cannot open"):
        VersionedDataset("nosuchprotocol://bucket/x")


def test_a_processor_dragging_large_data_along_is_warned_about(
    tmp_path: Path, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.dataset import versioned_dataset_builder as module

    monkeypatch.setattr(module, "LARGE_PROCESSOR_BYTES", 10_000)
    processor = CsvProcessor()
    processor.lookup = np.zeros(5_000)  # type: ignore[attr-defined]  # 40 kB travel with the pickle
    with pytest.warns(module.LargeProcessorWarning, match="large data"):
        VersionedDatasetBuilder(raw_dir, processor).publish(str(tmp_path / "store"), "v1")
