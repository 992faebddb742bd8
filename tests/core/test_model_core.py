"""Model publication and loading in the core, independent of any ML framework: a serializer plugin
registered by the test stands in for the real ones (tested in their own folders)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from install_hints import assert_install_hint

from format_checks import check_against_json_schema
from linear_model import Linear, LinearSerializer, registered
from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from sample_processors import CsvProcessor


class NestedLinearSerializer(LinearSerializer):
    """Also writes a file in a sub-folder: a model's files may be nested."""

    def save(self, model: Any, directory: str) -> None:
        super().save(model, directory)
        Path(directory, "info").mkdir()
        Path(directory, "info", "about.txt").write_text("a linear model")


class FailingSerializer(NestedLinearSerializer):
    name = "test-failing"

    def save(self, model: Any, directory: str) -> None:
        Path(directory, "partial.bin").write_bytes(b"x")
        raise RuntimeError("the framework failed while saving")


@pytest.fixture(autouse=True)
def linear_plugin() -> Iterator[None]:
    with registered(NestedLinearSerializer(), FailingSerializer()):
        yield


@pytest.fixture
def dataset(store: str, raw_dir: str) -> VersionedDataset:
    return VersionedDataset(VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store + "/datasets", "v1"))


def _exists(url: str) -> bool:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return bool(fs.exists(path))


def test_publish_and_load_a_model(store: str, dataset: VersionedDataset, raw_dir: str) -> None:
    model = Linear(np.array([[1.0, -1.0], [0.5, 2.0]]))
    config = TrainingConfig({"loss": [1.0, 0.5]}, {"epochs": 2, "batch_size": 8})
    path = VersionedModelBuilder(dataset, model, config).publish(store + "/models", tags=["prototype"])

    loaded = VersionedModel(path)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", loaded.version)
    assert loaded.name == "models" and loaded.tags == ["prototype"] and loaded.path == path
    assert (loaded.dataset_path, loaded.dataset_version, loaded.dataset_hash) == (dataset.path, "v1", dataset.hash)
    assert loaded.dataset == dataset
    assert loaded.history == {"loss": [1.0, 0.5]} and loaded.train_args == {"epochs": 2, "batch_size": 8}
    assert loaded.training_config == config
    np.testing.assert_array_equal(loaded.model.w, model.w)
    np.testing.assert_array_equal(loaded.predict(dataset.X_test), dataset.X_test.astype(np.float64) @ model.w)
    features = dataset.data_processor.get_preprocessed_features(raw_dir)  # new data, processed as before
    np.testing.assert_array_equal(loaded.predict(features), features["X_pred"].astype(np.float64) @ model.w)

    meta = loaded.metadata
    check_against_json_schema(meta)
    assert meta["kind"] == "model" and meta["schema"] == 2
    assert meta["serializer"]["name"] == "test-linear"
    assert meta["framework"] == {"numpy": np.__version__}
    environment = {"environment/pylock.toml", "environment/python.json"}  # the publishing environment
    assert set(loaded.files) == {"w.npy", "info/about.txt", *environment} and meta["manifest"]["count"] == 4
    assert meta["dataset"] == {"path": dataset.path, "name": dataset.name, "version": "v1", "hash": dataset.hash}
    loaded.verify()


def test_same_model_content_gives_the_same_hash(store: str, dataset: VersionedDataset, tmp_path: Path) -> None:
    model = Linear(np.arange(4.0).reshape(2, 2))
    a = VersionedModel(VersionedModelBuilder(dataset, model).publish(store + "/models", "a"))
    b = VersionedModel(VersionedModelBuilder(dataset, model).publish(str(tmp_path / "elsewhere"), "b"))
    c = VersionedModel(VersionedModelBuilder(dataset, Linear(model.w + 1)).publish(store + "/models", "c"))
    assert a.hash == b.hash and a == b
    assert c.hash != a.hash


def test_serializer_override_by_name_and_instance(store: str, dataset: VersionedDataset) -> None:
    model = Linear(np.ones((2, 1)))
    by_name = VersionedModelBuilder(dataset, model).publish(store + "/m", "v1", serializer="test-linear")
    by_instance = VersionedModelBuilder(dataset, model).publish(store + "/m", "v2", serializer=NestedLinearSerializer())
    assert VersionedModel(by_name).serializer_name == VersionedModel(by_instance).serializer_name == "test-linear"


def test_builder_accepts_a_dataset_path(store: str, dataset: VersionedDataset) -> None:
    path = VersionedModelBuilder(dataset.path, Linear(np.ones((2, 1)))).publish(store + "/m", "v1")
    assert VersionedModel(path).dataset_hash == dataset.hash


def test_errors_before_anything_is_written(store: str, dataset: VersionedDataset) -> None:
    root = store + "/models"
    with pytest.raises(errors.NoSerializerError, match="test-linear"):
        VersionedModelBuilder(dataset, object()).publish(root, "v1")
    with pytest.raises(errors.SerializerNotInstalledError):
        VersionedModelBuilder(dataset, Linear(np.ones(1))).publish(root, "v1", serializer="nope")
    with pytest.raises(RuntimeError, match="failed while saving"):
        VersionedModelBuilder(dataset, Linear(np.ones(1))).publish(root, "v1", serializer="test-failing")
    with pytest.raises(errors.InvalidVersionError):
        VersionedModelBuilder(dataset, Linear(np.ones(1))).publish(root, "../v1")
    with pytest.raises(errors.InvalidTagsError):
        VersionedModelBuilder(dataset, Linear(np.ones(1))).publish(root, "v1", tags="x")
    assert not _exists(root)


def test_existing_model_version_is_refused(store: str, dataset: VersionedDataset) -> None:
    builder = VersionedModelBuilder(dataset, Linear(np.ones((2, 1))))
    builder.publish(store + "/m", "v1")
    with pytest.raises(errors.PublicationPathAlreadyExistsError):
        builder.publish(store + "/m", "v1")


def test_tampered_model_file_is_never_loaded(store: str, dataset: VersionedDataset) -> None:
    path = VersionedModelBuilder(dataset, Linear(np.ones((2, 1)))).publish(store + "/m", "v1")
    fs, p = fsspec.url_to_fs(path)
    fs.pipe(p + "/w.npy", b"\x93NUMPY tampered")
    fs.invalidate_cache()
    with pytest.raises(errors.IntegrityError, match="w.npy"):
        VersionedModel(path).model  # noqa: B018
    with pytest.raises(errors.IntegrityError, match="w.npy"):
        VersionedModel(path).verify()


def test_model_of_an_uninstalled_serializer(tmp_path: Path, dataset: VersionedDataset) -> None:
    path = VersionedModelBuilder(dataset, Linear(np.ones((2, 1)))).publish(str(tmp_path / "m"), "v1")
    meta_path = Path(path, "meta.json")
    meta = json.loads(meta_path.read_text())
    meta["serializer"] = {"name": "keras-from-the-future", "distribution": "mlops-keras", "distribution_version": "9"}
    meta_path.write_text(json.dumps(meta))
    model = VersionedModel(path)  # metadata is readable without the plugin
    assert model.dataset_hash == dataset.hash
    with pytest.raises(errors.SerializerNotInstalledError, match="'keras-from-the-future' serializer") as caught:
        model.model  # noqa: B018
    assert_install_hint(str(caught.value), "keras")


def test_a_dataset_path_is_not_a_model(dataset: VersionedDataset) -> None:
    with pytest.raises(errors.MetadataError, match="not a model"):
        VersionedModel(dataset.path)


def test_predict_rejects_ambiguous_feature_dicts(store: str, dataset: VersionedDataset) -> None:
    model = VersionedModel(VersionedModelBuilder(dataset, Linear(np.ones((2, 1)))).publish(store + "/m", "v1"))
    with pytest.raises(ValueError, match="one feature tensor"):
        model.predict({"a": np.ones((1, 2)), "b": np.ones((1, 2))})


def test_local_models_are_moved_into_place_not_copied(tmp_path: Path, raw_dir: str) -> None:
    dataset = VersionedDataset(VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "d"), "v1"))
    seen: list[str] = []

    class Spy(NestedLinearSerializer):
        name = "test-spy"

        def save(self, model: Any, directory: str) -> None:
            seen.append(directory)
            super().save(model, directory)

    path = VersionedModelBuilder(dataset, Linear(np.ones((2, 1)))).publish(str(tmp_path / "m"), "v1", serializer=Spy())
    # Staged on the store's own filesystem, inside the root, then renamed: no second write.
    assert seen[0].startswith(str(tmp_path / "m" / ".tmp-"))
    assert sorted(os.listdir(tmp_path / "m")) == ["v1"]  # the staging folder is gone
    VersionedModel(path).verify()
