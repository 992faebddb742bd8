"""KerasSerializer on its own: both file formats, compiled and uncompiled models, predict, can_save.

A compiled model must come back ready to predict *and* to keep training: same loss, metrics,
optimizer and optimizer state. Keras 3 cannot do this alone from an HDF5 file (a string loss such as
``'mse'`` fails to deserialize), which is why these tests check it for both formats.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from mlops.errors import IntegrityError, MlopsError, ModelSerializationError
from mlops_keras.serializer import (
    COMPILE_CONFIG_ATTR,
    H5_FILE,
    KERAS_FILE,
    OPTIMIZER_GROUP,
    H5UnsupportedModelError,
    InvalidKerasFormatError,
    KerasFormat,
    KerasSerializer,
)

FORMATS: list[KerasFormat] = ["h5", "keras"]


def roundtrip(model: Any, directory: str, fmt: KerasFormat) -> Any:
    """Save with the given format, load with a default serializer (loading follows the file)."""
    KerasSerializer(format=fmt).save(model, directory)
    return KerasSerializer().load(directory)


def assert_same_predictions(loaded: Any, original: Any, x: np.ndarray) -> None:
    serializer = KerasSerializer()
    np.testing.assert_array_equal(serializer.predict(loaded, x), serializer.predict(original, x))


@pytest.mark.parametrize(("fmt", "filename"), [("h5", H5_FILE), ("keras", KERAS_FILE)])
def test_each_format_writes_its_one_file(regressor: Any, model_dir: str, fmt: KerasFormat, filename: str) -> None:
    KerasSerializer(format=fmt).save(regressor.model, model_dir)
    assert os.listdir(model_dir) == [filename]


def test_h5_holds_compile_config_and_optimizer_state(regressor: Any, model_dir: str) -> None:
    KerasSerializer().save(regressor.model, model_dir)
    with h5py.File(os.path.join(model_dir, H5_FILE), "r") as file:
        assert COMPILE_CONFIG_ATTR in file.attrs
        assert "training_config" not in file.attrs  # Keras' own, which Keras 3 cannot load back
        assert len(file[OPTIMIZER_GROUP]) == len(regressor.model.optimizer.variables)


@pytest.mark.parametrize("fmt", FORMATS)
def test_compiled_regressor_comes_back_ready_to_continue_training(
    new_regressor: Callable[[int], Any], model_dir: str, fmt: KerasFormat
) -> None:
    trained = new_regressor(1)
    original, x, y = trained.model, trained.x, trained.y
    loaded = roundtrip(original, model_dir, fmt)

    assert_same_predictions(loaded, original, x)
    assert loaded.compiled
    assert loaded.loss == "mse"
    assert loaded.get_compile_config() == original.get_compile_config()
    assert type(loaded.optimizer) is type(original.optimizer)
    assert int(loaded.optimizer.iterations) == int(original.optimizer.iterations) == 6
    for restored, saved in zip(loaded.optimizer.variables, original.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())

    # One more epoch on each: identical optimizer state means the same training step.
    resumed = loaded.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    continued = original.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert set(resumed.history) == {"loss", "mae"}
    np.testing.assert_allclose(resumed.history["loss"], continued.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), original.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_classifier_with_string_loss_and_accuracy(classifier: Any, model_dir: str, fmt: KerasFormat) -> None:
    loaded = roundtrip(classifier.model, model_dir, fmt)
    x, y = classifier.x[:200], classifier.y[:200]

    assert_same_predictions(loaded, classifier.model, x)
    assert loaded.compiled
    assert loaded.loss == "sparse_categorical_crossentropy"
    assert loaded.get_compile_config()["metrics"] == ["accuracy"]
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), classifier.model.evaluate(x, y, verbose=0), rtol=1e-6)
    history = loaded.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("fmt", FORMATS)
def test_uncompiled_model_comes_back_uncompiled(model_dir: str, fmt: KerasFormat) -> None:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(4, activation="relu")(inputs)))
    x = np.random.default_rng(3).normal(size=(10, 6)).astype(np.float32)

    loaded = roundtrip(model, model_dir, fmt)

    assert not loaded.compiled
    assert_same_predictions(loaded, model, x)
    if fmt == "h5":
        with h5py.File(os.path.join(model_dir, H5_FILE), "r") as file:
            assert COMPILE_CONFIG_ATTR not in file.attrs
            assert OPTIMIZER_GROUP not in file


@pytest.mark.parametrize("fmt", FORMATS)
def test_compiled_but_never_trained_model(model_dir: str, fmt: KerasFormat) -> None:
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="huber", metrics=["mse"])
    x = np.random.default_rng(6).normal(size=(8, 3)).astype(np.float32)

    loaded = roundtrip(model, model_dir, fmt)

    assert loaded.compiled and loaded.loss == "huber"
    assert loaded.get_compile_config() == model.get_compile_config()
    assert_same_predictions(loaded, model, x)
    assert np.isfinite(loaded.fit(x, x[:, :2], epochs=1, verbose=0).history["loss"][0])


@keras.saving.register_keras_serializable(package="mlops_keras_tests")
class TwoLayerModel(keras.Model):  # type: ignore[misc]
    """A subclassed model, registered and with ``get_config``, as Keras requires to reload it."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, inputs: Any) -> Any:
        return self.out(self.hidden(inputs))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def test_registered_subclassed_model_in_native_format(model_dir: str) -> None:
    keras.utils.set_random_seed(4)
    x = np.random.default_rng(4).normal(size=(16, 3)).astype(np.float32)
    model = TwoLayerModel(units=5)
    model.compile("sgd", loss="mae")
    model.fit(x, x[:, :1], epochs=1, verbose=0)

    loaded = roundtrip(model, model_dir, "keras")

    assert isinstance(loaded, TwoLayerModel) and loaded.units == 5
    assert loaded.loss == "mae"
    assert_same_predictions(loaded, model, x)


def test_h5_refuses_subclassed_models_before_writing(model_dir: str) -> None:
    """HDF5 would store a subclassed model that Keras then cannot load: refuse it, pointing to
    the native format."""
    model = TwoLayerModel()
    model(np.zeros((1, 3), dtype=np.float32))
    hint = r"TwoLayerModel.*serializer=KerasSerializer\(format='keras'\)"
    with pytest.raises(H5UnsupportedModelError, match=hint) as info:
        KerasSerializer().save(model, model_dir)
    assert isinstance(info.value, ModelSerializationError)
    assert os.listdir(model_dir) == []


def test_h5_file_is_still_plain_keras(regressor: Any, model_dir: str) -> None:
    """Any Keras reads architecture and weights of model.h5 without mlops."""
    KerasSerializer().save(regressor.model, model_dir)
    plain = keras.saving.load_model(os.path.join(model_dir, H5_FILE))  # no crash on its compile info
    np.testing.assert_array_equal(
        plain.predict(regressor.x, verbose=0), regressor.model.predict(regressor.x, verbose=0)
    )


def test_h5_roundtrip_logs_nothing(regressor: Any, model_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    """No "HDF5 is legacy" notice (the format was chosen on purpose) and no "not compiled" notice."""
    caplog.set_level(logging.INFO)
    KerasSerializer().save(regressor.model, model_dir)
    KerasSerializer().load(model_dir)
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []


def test_h5_save_leaves_the_users_model_untouched(regressor: Any, model_dir: str) -> None:
    """Keras' own HDF5 writer drops the optimizer from the model's compile config; ours must not."""
    before = regressor.model.get_compile_config()
    KerasSerializer().save(regressor.model, model_dir)
    assert regressor.model.get_compile_config() == before
    assert before["optimizer"]["class_name"] == "Adam"


def test_model_saved_by_keras_first_keeps_its_optimizer(
    new_regressor: Callable[[int], Any], model_dir: str, tmp_path: Any
) -> None:
    """A user who ran ``model.save("x.h5")`` before publishing: Keras' writer deleted the optimizer
    from the model's compile config, yet the published model must still resume with Adam's state
    (not Keras' default optimizer and a warning)."""
    trained = new_regressor(2)
    with _quiet_absl():
        trained.model.save(str(tmp_path / "by-keras.h5"))
    assert trained.model.get_compile_config().get("optimizer") is None  # the Keras behaviour worked around

    KerasSerializer().save(trained.model, model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = KerasSerializer().load(model_dir)

    assert type(loaded.optimizer) is type(trained.model.optimizer)
    for restored, saved in zip(loaded.optimizer.variables, trained.model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored.numpy(), saved.numpy())


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)  # Keras' "HDF5 is legacy" notice
    try:
        yield
    finally:
        logger.setLevel(level)


def test_load_without_model_file_names_the_file(model_dir: str) -> None:
    with pytest.raises(IntegrityError, match="neither model.h5 nor model.keras") as info:
        KerasSerializer().load(model_dir)
    assert info.value.file == H5_FILE


def test_unknown_format_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidKerasFormatError, match="format='h5'.*format='keras'") as info:
        KerasSerializer(format="savedmodel")  # type: ignore[arg-type]
    assert isinstance(info.value, MlopsError) and isinstance(info.value, ValueError)


def test_predict_is_numpy_in_numpy_out(classifier: Any) -> None:
    rows = classifier.x[:7]
    got = KerasSerializer().predict(classifier.model, rows.tolist())
    assert isinstance(got, np.ndarray) and got.shape == (7, 10)
    np.testing.assert_array_equal(got, classifier.model.predict(rows, verbose=0))
    np.testing.assert_array_equal(got, KerasSerializer().predict(classifier.model, rows))


def test_predict_unwraps_one_output_and_refuses_several() -> None:
    inputs = keras.Input((2,))
    a, b = keras.layers.Dense(1)(inputs), keras.layers.Dense(3)(inputs)
    x = np.ones((4, 2), dtype=np.float32)
    one = KerasSerializer().predict(keras.Model(inputs, [a]), x)
    assert isinstance(one, np.ndarray) and one.shape == (4, 1)
    with pytest.raises(ValueError, match="2 outputs.*model.predict"):
        KerasSerializer().predict(keras.Model(inputs, [a, b]), x)


def test_predict_passes_several_inputs_as_a_list_or_by_name() -> None:
    keras.utils.set_random_seed(5)
    left, right = keras.Input((2,), name="left"), keras.Input((3,), name="right")
    model = keras.Model([left, right], keras.layers.Dense(1)(keras.layers.Concatenate()([left, right])))
    xl, xr = np.ones((4, 2), dtype=np.float32), np.full((4, 3), 0.5, dtype=np.float32)
    expected = model.predict([xl, xr], verbose=0)
    np.testing.assert_array_equal(KerasSerializer().predict(model, [xl, xr]), expected)
    np.testing.assert_array_equal(KerasSerializer().predict(model, {"left": xl, "right": xr}), expected)


def test_mismatched_optimizer_state_warns_and_keeps_the_model_usable(regressor: Any, model_dir: str) -> None:
    KerasSerializer().save(regressor.model, model_dir)
    with h5py.File(os.path.join(model_dir, H5_FILE), "a") as file:
        group = file[OPTIMIZER_GROUP]
        del group[str(len(group) - 1)]

    with pytest.warns(UserWarning, match="fresh optimizer state"):
        loaded = KerasSerializer().load(model_dir)

    assert loaded.compiled and loaded.loss == "mse"
    assert_same_predictions(loaded, regressor.model, regressor.x)


def test_can_save_keras_models_only(classifier: Any, regressor: Any) -> None:
    serializer = KerasSerializer()
    assert serializer.can_save(classifier.model)  # Sequential
    assert serializer.can_save(regressor.model)  # functional
    assert serializer.can_save(TwoLayerModel())  # subclassed
    others: tuple[Any, ...] = ({}, np.zeros(3), "model.h5", keras.layers.Dense(2), keras.Sequential, classifier.history)
    for other in others:
        assert not serializer.can_save(other), other


def test_can_save_never_imports_keras() -> None:
    code = textwrap.dedent(
        """
        import sys
        from mlops.plugins import manager as plugins
        from mlops_keras.serializer import KerasSerializer
        assert KerasSerializer().can_save({}) is False
        assert KerasSerializer().can_save(object()) is False
        assert plugins.history_to_dict(object()) is None
        print(sorted(name for name in ("keras", "tensorflow", "h5py") if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_framework_versions_name_keras_its_backend_and_h5py() -> None:
    assert KerasSerializer().framework_versions() == {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "h5py": h5py.__version__,
    }
