"""Fixtures of the Keras tests: a published digits dataset and small models trained once.

TensorFlow is configured before anything imports it (subprocesses inherit the settings): no C++
logs, and no oneDNN custom kernels, whose start-up notice is printed whatever the log level and
whose results may depend on the order of floating-point operations.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from mlops.dataset.data_processor import DataProcessor  # noqa: E402
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder  # noqa: E402

RAW_FILE = "digits.npz"


class DigitsProcessor(DataProcessor):
    """Reads ``digits.npz`` (8x8 images and their digit); every 5th image is test data."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        with np.load(os.path.join(dataset_path, RAW_FILE)) as raw:
            images, target = raw["images"], raw["target"]
        test = np.arange(len(images)) % 5 == 0
        return {"X_train": images[~test], "X_test": images[test]}, {"y_train": target[~test], "y_test": target[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        with np.load(os.path.join(dataset_path, RAW_FILE)) as raw:
            return {"X_pred": raw["images"]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return (raw_feature_tensor.reshape(len(raw_feature_tensor), -1) / 16.0).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor.astype(np.int64)


@dataclass
class Trained:
    """A fitted model, what ``fit`` returned, and the data it was fitted on."""

    model: Any
    history: Any
    x: np.ndarray
    y: np.ndarray


@pytest.fixture(scope="session")
def raw_digits(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A raw dataset folder holding scikit-learn's digits as ``digits.npz``."""
    folder = tmp_path_factory.mktemp("raw-digits")
    digits = load_digits()
    np.savez(folder / RAW_FILE, images=digits.images, target=digits.target)
    return str(folder)


@pytest.fixture(scope="session")
def digits(raw_digits: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The preprocessed digits tensors, as the dataset holds them."""
    return DigitsProcessor().get_preprocessed_features_and_labels(raw_digits)


@pytest.fixture
def dataset_path(store: str, raw_digits: str) -> str:
    """The digits dataset published on the test's store."""
    return VersionedDatasetBuilder(raw_digits, DigitsProcessor()).publish(f"{store}/datasets", "v1")


@pytest.fixture(scope="session")
def classifier(digits: tuple[dict[str, np.ndarray], dict[str, np.ndarray]]) -> Trained:
    """A Sequential digit classifier compiled with string loss and metric, trained 2 epochs.
    Shared: tests must not train or recompile it."""
    features, labels = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(features["X_train"], labels["y_train"], epochs=2, batch_size=64, verbose=0)
    return Trained(model, history, features["X_train"], labels["y_train"])


def make_regressor(seed: int = 0) -> Trained:
    """A functional regressor compiled with ``('adam', loss='mse', metrics=['mae'])``, trained 2
    epochs on generated data (a fresh one per call: callers may train it further)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(96, 1))).astype(np.float32)
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile("adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    return Trained(model, history, x, y)


@pytest.fixture(scope="session")
def regressor() -> Trained:
    """A shared :func:`make_regressor` model. Tests must not train or recompile it."""
    return make_regressor()


@pytest.fixture
def new_regressor() -> Callable[[int], Trained]:
    """:func:`make_regressor`, for tests that train their model further."""
    return make_regressor


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    """An empty local folder to save a model into."""
    folder = tmp_path / "saved"
    folder.mkdir()
    return str(folder)
