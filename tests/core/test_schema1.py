"""Versions written in schema 1 (the first format: the manifest inside meta.json) keep loading,
verifying, listing and diffing. The fixture was made by the last commit writing schema 1 (see
tests/fixtures/make_schema1.py) and is committed, never regenerated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import mlops
from format_checks import check_against_json_schema
from mlops import errors
from mlops.model.compare import compare
from sample_processors import CsvProcessor, write_raw
from schema1_support import NpyLinear, npy_linear_plugin

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "schema1"


@pytest.fixture
def schema1(tmp_path: Path) -> Path:
    copy = tmp_path / "schema1"
    shutil.copytree(FIXTURE, copy)
    return copy


def test_the_fixture_is_schema_1() -> None:
    for meta in FIXTURE.glob("*/*/meta.json"):
        data = json.loads(meta.read_text())
        assert data["schema"] == 1 and "files" in data and "manifest" not in data
        check_against_json_schema(data)


def test_a_schema_1_dataset_loads_and_verifies(schema1: Path, tmp_path: Path) -> None:
    dataset = mlops.VersionedDataset(schema1 / "datasets" / "v1")
    raw = write_raw(str(tmp_path / "raw"), n=12, seed=0)
    features, labels = CsvProcessor().get_preprocessed_features_and_labels(raw)
    for name, expected in {**features, **labels}.items():
        np.testing.assert_array_equal(dataset[name], expected)
    assert sorted(dataset) == ["X_test", "X_train", "y_test", "y_train"]
    np.testing.assert_array_equal(
        dataset.data_processor.get_preprocessed_features(raw)["X_pred"],
        CsvProcessor().get_preprocessed_features(raw)["X_pred"],
    )
    assert dataset.raw_strategy == "copy" and (Path(dataset.raw_path) / "data.csv").exists()
    dataset.verify()
    assert set(dataset.files) >= {"X_train.npy", "data_processor.pkl", "raw/extra/deep/blob.bin"}
    # The same content published today has the same hash: the hash recipe did not change.
    today = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(str(tmp_path / "today"), "v1")
    assert mlops.VersionedDataset(today).hash == dataset.hash


def test_a_damaged_schema_1_file_is_named(schema1: Path) -> None:
    target = schema1 / "datasets" / "v1" / "raw" / "data.csv"
    target.write_bytes(target.read_bytes().replace(b"0", b"1", 1))
    with pytest.raises(errors.IntegrityError, match="raw/data.csv"):
        mlops.VersionedDataset(schema1 / "datasets" / "v1").verify()


def test_a_schema_1_model_loads_and_predicts(schema1: Path) -> None:
    with npy_linear_plugin():
        model = mlops.VersionedModel(schema1 / "models" / "m1")
        assert isinstance(model.model, NpyLinear)
        np.testing.assert_array_equal(model.predict(np.eye(2)), np.array([[1.0, -1.0], [0.5, 2.0]]))
    assert model.history == {"loss": [0.5, 0.25], "accuracy": [0.6, 0.8]} and model.train_args == {"epochs": 2}
    assert model.dataset_hash == mlops.VersionedDataset(schema1 / "datasets" / "v1").hash
    model.verify()


def test_schema_1_versions_are_listed_and_diffed(schema1: Path) -> None:
    assert [v.version for v in mlops.list_versions(schema1 / "datasets")] == ["v2", "v1"]
    assert mlops.list_versions(schema1 / "datasets")[0].size == sum(
        e.size for e in mlops.VersionedDataset(schema1 / "datasets" / "v2").files.values()
    )
    a, b = mlops.VersionedDataset(schema1 / "datasets" / "v1"), mlops.VersionedDataset(schema1 / "datasets" / "v2")
    diff = compare(a, b)
    assert not diff["same_content"]
    assert {c["name"] for c in diff["tensors"]["changed"]} == {"X_train", "X_test", "y_train", "y_test"}
    assert diff["files"] == {"added": [], "removed": [], "changed": ["data_processor.pkl"]}
    models = mlops.models_trained_on(schema1 / "models", a)
    assert [m.version for m in models] == ["m1"]


def test_tags_of_a_schema_1_version_change_in_schema_1(schema1: Path) -> None:
    path = schema1 / "datasets" / "v1"
    before = json.loads((path / "meta.json").read_text())
    assert mlops.update_tags(path, add=["kept"]) == ["schema1", "kept"]
    after = json.loads((path / "meta.json").read_text())
    assert after == dict(before, tags=["schema1", "kept"])
    mlops.VersionedDataset(path).verify()


def test_republishing_a_schema_1_version_writes_schema_2(schema1: Path, tmp_path: Path) -> None:
    copy = mlops.republish(schema1 / "datasets" / "v1", tmp_path / "new")
    meta = json.loads((Path(copy) / "meta.json").read_text())
    check_against_json_schema(meta)
    assert meta["schema"] == 2 and "files" not in meta
    republished = mlops.VersionedDataset(copy)
    assert republished.hash == mlops.VersionedDataset(schema1 / "datasets" / "v1").hash
    republished.verify()
    assert republished.files == mlops.VersionedDataset(schema1 / "datasets" / "v1").files
