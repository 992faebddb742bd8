"""VersionedDataset.keras_dataset: a keras.utils.PyDataset over published tensors, used by real
``fit``/``predict`` calls (also with worker processes), with per-epoch shuffling."""

from __future__ import annotations

import pickle
from pathlib import Path

import keras
import numpy as np
import pytest

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import TensorLengthMismatchError
from mlops_keras.datasets import InvalidBatchSizeError, KerasDataset

ROWS = 1000


class RowsProcessor(DataProcessor):
    """Generated tensors; ``row[i] == i`` tells every row apart."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rng = np.random.default_rng(0)
        features = {"X_train": rng.normal(size=(ROWS, 6)).astype(np.float32)}
        return features, {"y_train": rng.integers(0, 3, size=ROWS), "row": np.arange(ROWS), "y_short": np.arange(5)}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor


@pytest.fixture
def rows_dataset(tmp_path: Path) -> VersionedDataset:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "note.txt").write_text("generated in the test\n")
    return VersionedDataset(VersionedDatasetBuilder(str(raw), RowsProcessor()).publish(tmp_path / "datasets", "v1"))


def _classifier(inputs: int, classes: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((inputs,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(classes)]
    )
    model.compile("adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def test_trains_a_model_one_epoch_on_every_store(dataset_path: str) -> None:
    dataset = VersionedDataset(dataset_path)
    train = dataset.keras_dataset("X_train", "y_train", batch_size=64, shuffle=True, seed=0)
    assert isinstance(train, keras.utils.PyDataset) and len(train) == -(-len(dataset.y_train) // 64)
    model = _classifier(64, 10)
    test = dataset.keras_dataset("X_test", "y_test", batch_size=128)
    loss_before, _accuracy = model.evaluate(test, verbose=0)
    history = model.fit(train, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    loss_after, _accuracy = model.evaluate(test, verbose=0)
    assert loss_after < loss_before


def test_batches_are_the_rows_in_order(rows_dataset: VersionedDataset) -> None:
    train = rows_dataset.keras_dataset("X_train", "y_train", batch_size=300)
    batches = [train[i] for i in range(len(train))]
    assert [len(y) for _x, y in batches] == [300, 300, 300, 100]
    np.testing.assert_array_equal(np.concatenate([x for x, _y in batches]), rows_dataset.X_train)
    np.testing.assert_array_equal(np.concatenate([y for _x, y in batches]), rows_dataset.y_train)
    assert all(x.flags.writeable for x, _y in batches)
    only_x = rows_dataset.keras_dataset("X_train", batch_size=400)
    assert isinstance(only_x[0], np.ndarray) and only_x[-1].shape == (200, 6)
    with pytest.raises(IndexError, match="batch 3 is out of range"):
        only_x[3]


def test_shuffle_draws_every_row_once_per_epoch_in_a_new_order(rows_dataset: VersionedDataset) -> None:
    train = rows_dataset.keras_dataset("row", batch_size=128, shuffle=True, seed=7)

    def epoch() -> np.ndarray:
        order = np.concatenate([train[i] for i in range(len(train))])
        train.on_epoch_end()
        return order

    first, second = epoch(), epoch()
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(ROWS))
    assert not np.array_equal(first, second)
    same_seed = rows_dataset.keras_dataset("row", batch_size=128, shuffle=True, seed=7)
    np.testing.assert_array_equal(np.concatenate([same_seed[i] for i in range(len(same_seed))]), first)
    # What a worker process receives: the state of this epoch, without arrays, giving the same batches.
    copy = pickle.loads(pickle.dumps(train))
    np.testing.assert_array_equal(copy[2], train[2])


def test_pickles_without_arrays(rows_dataset: VersionedDataset) -> None:
    train = rows_dataset.keras_dataset("X_train", "y_train", shuffle=True, seed=0, workers=2, use_multiprocessing=True)
    train[0]  # the permutation now exists: it is not pickled either
    assert len(pickle.dumps(train)) < 1_500


def test_fit_and_predict_with_worker_processes(rows_dataset: VersionedDataset) -> None:
    model = _classifier(6, 3)
    train = rows_dataset.keras_dataset(
        "X_train", "y_train", batch_size=100, shuffle=True, seed=1, workers=2, use_multiprocessing=True
    )
    history = model.fit(train, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))
    features = rows_dataset.keras_dataset("X_train", batch_size=256, workers=2, use_multiprocessing=True)
    np.testing.assert_allclose(
        model.predict(features, verbose=0), model.predict(np.asarray(rows_dataset.X_train), verbose=0), rtol=1e-5
    )


def test_bad_arguments_are_refused(rows_dataset: VersionedDataset) -> None:
    with pytest.raises(InvalidBatchSizeError, match="positive integer, got 0"):
        rows_dataset.keras_dataset("X_train", batch_size=0)
    with pytest.raises(TensorLengthMismatchError, match="X_train has 1000, y_short has 5"):
        rows_dataset.keras_dataset("X_train", "y_short")
    assert isinstance(rows_dataset.keras_dataset("X_train", "y_train"), KerasDataset)
