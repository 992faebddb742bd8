"""Keras models through the user flow: publish a dataset, train on it, publish the model without
naming a framework, and load it back by path — on local disk, memory:// and S3, in this process and
in a fresh one that never imports Keras itself."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import fsspec
import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from format_checks import manifest_of
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import TrainingConfigError
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops_keras.history import history_to_dict
from mlops_keras.serializer import H5_FILE, KERAS_FILE, KerasFormat, KerasSerializer

TRAIN_ARGS = {"epochs": 2, "batch_size": 64}


def read_meta(path: str) -> dict[str, Any]:
    with fsspec.open(f"{path}/meta.json", "rb") as file:
        meta: dict[str, Any] = json.load(file)
    return meta


def expected_history(history: Any) -> dict[str, list[float]]:
    return {key: [float(value) for value in values] for key, values in history.history.items()}


def test_publish_and_load_without_naming_the_framework(
    store: str, dataset_path: str, raw_digits: str, classifier: Any
) -> None:
    dataset = VersionedDataset(dataset_path)
    np.testing.assert_array_equal(dataset.X_train, classifier.x)  # trained on this dataset's tensors
    config = TrainingConfig(classifier.history, TRAIN_ARGS)

    path = VersionedModelBuilder(dataset, classifier.model, config).publish(f"{store}/models", tags=["digits"])

    meta = read_meta(path)
    assert meta["serializer"]["name"] == "keras"
    assert meta["serializer"]["distribution"] == "mlops-keras"
    assert meta["framework"] == {"keras": keras.__version__, "tensorflow": tf.__version__, "h5py": h5py.__version__}
    assert meta["training"] == {"history": expected_history(classifier.history), "train_args": TRAIN_ARGS}
    assert sorted(manifest_of(path)) == [H5_FILE]
    assert meta["dataset"]["hash"] == dataset.hash

    model = VersionedModel(path)
    assert model.serializer_name == "keras"
    assert model.history == expected_history(classifier.history)
    np.testing.assert_array_equal(model.predict(dataset.X_test), classifier.model.predict(dataset.X_test, verbose=0))
    features = dataset.data_processor.get_preprocessed_features(raw_digits)  # "new" local data
    np.testing.assert_array_equal(model.predict(features), classifier.model.predict(features["X_pred"], verbose=0))
    assert isinstance(model.model, keras.Sequential)
    assert model.model.compiled and model.model.loss == "sparse_categorical_crossentropy"


def test_native_keras_format_on_request(store: str, dataset_path: str, classifier: Any) -> None:
    config = TrainingConfig(classifier.history, TRAIN_ARGS)
    builder = VersionedModelBuilder(dataset_path, classifier.model, config)

    path = builder.publish(f"{store}/models", "v1", serializer=KerasSerializer(format="keras"))

    meta = read_meta(path)
    assert meta["serializer"]["name"] == "keras"
    assert sorted(manifest_of(path)) == [KERAS_FILE]
    model = VersionedModel(path)  # loaded through the registered (default, h5) serializer
    np.testing.assert_array_equal(
        model.predict(classifier.x[:50]), classifier.model.predict(classifier.x[:50], verbose=0)
    )
    assert model.model.compiled and model.model.loss == "sparse_categorical_crossentropy"


def test_serializer_by_name_uses_the_h5_default(store: str, dataset_path: str, regressor: Any) -> None:
    path = VersionedModelBuilder(dataset_path, regressor.model).publish(f"{store}/models", "v1", serializer="keras")
    assert sorted(manifest_of(path)) == [H5_FILE]
    model = VersionedModel(path)
    np.testing.assert_array_equal(model.predict(regressor.x), regressor.model.predict(regressor.x, verbose=0))
    assert model.model.loss == "mse"


@pytest.mark.parametrize(("store", "fmt"), [("s3", "h5"), ("local", "keras")], indirect=["store"])
def test_fresh_process_predicts_identically(
    store: str, fmt: KerasFormat, dataset_path: str, classifier: Any, tmp_path: Path
) -> None:
    path = VersionedModelBuilder(dataset_path, classifier.model).publish(
        f"{store}/models", "v1", serializer=KerasSerializer(format=fmt)
    )
    x = classifier.x[:64]
    x_file = tmp_path / "X.npy"
    np.save(x_file, x)
    code = textwrap.dedent(
        f"""
        import numpy as np
        from mlops.model.versioned_model import VersionedModel
        X = np.load({str(x_file)!r})
        m = VersionedModel({path!r})
        print(m.predict(X).tolist())
        """
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr
    fresh = np.array(ast.literal_eval(result.stdout.strip().splitlines()[-1]), dtype=np.float32)
    np.testing.assert_array_equal(fresh, VersionedModel(path).predict(x))
    np.testing.assert_array_equal(fresh, classifier.model.predict(x, verbose=0))


# --- training history -------------------------------------------------------------------------------


def test_training_config_turns_a_keras_history_into_lists_of_floats(classifier: Any) -> None:
    config = TrainingConfig(classifier.history, TRAIN_ARGS)
    assert config.history == expected_history(classifier.history)
    assert set(config.history) == {"loss", "accuracy"}
    assert all(len(values) == 2 and all(type(v) is float for v in values) for values in config.history.values())
    assert config == TrainingConfig.from_json(json.loads(json.dumps(config.to_json())))


def test_history_values_become_python_floats() -> None:
    history = keras.callbacks.History()
    history.history = {"loss": [np.float32(0.5), np.float64(0.25)], "lr": [tf.constant(0.125), 1]}
    assert history_to_dict(history) == {"loss": [0.5, 0.25], "lr": [0.125, 1.0]}
    assert history_to_dict(keras.callbacks.History()) == {}  # never fitted


class History:
    """Not Keras': same name, same attribute."""

    history = {"loss": [1.0]}


@pytest.mark.parametrize("other", [{"loss": [1.0]}, object(), History(), keras.callbacks.History, [0.5, 0.25]])
def test_history_hook_answers_none_for_anything_else(other: Any) -> None:
    assert history_to_dict(other) is None


def test_training_config_still_refuses_unknown_history_objects() -> None:
    with pytest.raises(TrainingConfigError, match="History is not understood"):
        TrainingConfig(History())
