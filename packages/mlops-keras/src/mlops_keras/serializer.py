"""Saving Keras 3 models as ``model.h5`` (the default, legacy HDF5) or ``model.keras``.

Keras is imported only inside methods, so loading this plugin (and asking ``can_save`` about a
foreign object) never imports Keras or TensorFlow.

Why ``model.h5`` is not written with a plain ``model.save('model.h5')``: Keras 3 cannot load the
compile information it writes there (a string loss such as ``'mse'`` fails to deserialize), and
writing it even removes the optimizer from the model's own compile config. So the HDF5 file is
written without Keras' training config, and this serializer adds, inside the same file:

- the attribute ``mlops_compile_config``: ``model.get_compile_config()`` as JSON, the exact
  structure the ``.keras`` format stores and ``model.compile_from_config`` reads back;
- the group ``mlops_optimizer_variables``: one dataset per optimizer variable (``"0"``, ``"1"``...,
  in ``optimizer.variables`` order), so training resumes with the optimizer state it stopped with.

Any Keras can still read the architecture and weights (``keras.saving.load_model(path)``); loading
through mlops also restores the compilation and the optimizer state.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np

from mlops.errors import IntegrityError, MlopsError, ModelSerializationError
from mlops.plugin import ModelSerializer, mro_modules, table_to_numpy

H5_FILE = "model.h5"
"""The file of the default, legacy HDF5 format (the project's historical layout)."""

KERAS_FILE = "model.keras"
"""The file of the native Keras format, written with ``KerasSerializer(format="keras")``."""

COMPILE_CONFIG_ATTR = "mlops_compile_config"
"""Root attribute of ``model.h5`` holding ``model.get_compile_config()`` as JSON (compiled models only)."""

OPTIMIZER_GROUP = "mlops_optimizer_variables"
"""Group of ``model.h5`` holding the optimizer variables (compiled models whose optimizer is built)."""

KerasFormat = Literal["h5", "keras"]
_FILES: dict[str, str] = {"h5": H5_FILE, "keras": KERAS_FILE}


class InvalidKerasFormatError(MlopsError, ValueError):
    """Raised by ``KerasSerializer(format=...)`` when the format is neither ``"h5"`` nor ``"keras"``."""


class H5UnsupportedModelError(ModelSerializationError, TypeError):
    """Raised by ``KerasSerializer.save`` in the ``h5`` format for a model whose class is not Keras'
    own ``Sequential`` or functional ``Model`` (subclassed models only round-trip in ``model.keras``)."""


class KerasSerializer(ModelSerializer):
    """Keras 3 models in one file.

    ``format="h5"`` (default) writes ``model.h5``, for ``keras.Sequential`` and functional
    ``keras.Model(inputs, outputs)`` models; ``format="keras"`` writes ``model.keras``, which also
    holds subclassed models. Pass ``serializer=KerasSerializer(format="keras")`` to ``publish`` to
    choose the native format.
    Loading does not depend on the instance's format: it reads whichever of the two files the
    version holds. Compiled models come back compiled, with the same loss, metrics and optimizer
    state, ready to ``predict`` and to continue ``fit``. Custom layers, losses and metrics must be
    registered with ``@keras.saving.register_keras_serializable()`` (and imported) to load.
    """

    name: ClassVar[str] = "keras"
    pickles_code: ClassVar[bool] = False

    def __init__(self, format: KerasFormat = "h5") -> None:
        if format not in _FILES:
            raise InvalidKerasFormatError(
                f"KerasSerializer(format={format!r}) is not supported: use format='h5' (model.h5, the default) "
                "or format='keras' (model.keras, the native Keras format)"
            )
        self.format: KerasFormat = format

    def __repr__(self) -> str:
        return f"KerasSerializer(format={self.format!r})"

    def can_save(self, model: Any) -> bool:
        """True for Keras 3 models: a class named ``Model`` from the ``keras`` package is in the
        model's class MRO and the class has ``save``, ``predict`` and ``get_config``. Looks at
        class names and attributes only, so it never imports Keras. ``tf_keras`` (Keras 2) models
        are not accepted: they would load back as Keras 3 models, a different framework."""
        if isinstance(model, type) or "keras" not in mro_modules(model):
            return False
        cls = type(model)
        is_model = any(c.__name__ == "Model" and c.__module__.split(".", 1)[0] == "keras" for c in cls.__mro__)
        return is_model and all(callable(getattr(cls, attr, None)) for attr in ("save", "predict", "get_config"))

    def save(self, model: Any, directory: str) -> None:
        """Write ``model`` into ``directory`` as ``model.h5`` or ``model.keras`` (see the module
        docstring for what the HDF5 file holds besides Keras' own content)."""
        import keras

        path = os.path.join(directory, _FILES[self.format])
        if self.format == "keras":
            _build_optimizer(model)
            keras.saving.save_model(model, path)
            return
        _check_h5_can_hold(model)
        compile_config = _compile_config_json(model)
        with _without_hdf5_notice():
            keras.saving.save_model(model, path, include_optimizer=False)
        if compile_config is not None:
            _write_training_state(path, model, compile_config)

    def load(self, directory: str) -> Any:
        """The model from ``directory``: ``model.keras`` if present, else ``model.h5``. A custom
        class the model needs that cannot be found here raises
        :class:`~mlops.errors.ModelCodeMissingError` naming it."""
        keras_path, h5_path = os.path.join(directory, KERAS_FILE), os.path.join(directory, H5_FILE)
        path = keras_path if os.path.exists(keras_path) else h5_path
        if not os.path.exists(path):
            raise IntegrityError(
                f"the Keras model in {directory} holds neither {H5_FILE} nor {KERAS_FILE}; "
                "republish it with VersionedModelBuilder(...).publish(...)",
                file=H5_FILE,
            )
        try:
            return _load(path)
        except (TypeError, ValueError) as exc:
            from mlops_keras.custom_objects import missing_code_error

            missing = missing_code_error(path)
            if missing is not None:
                raise missing from exc
            raise

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """``model.predict`` without progress bar: array-like features in (a list or dict of them
        for a model with several inputs), one numpy array out."""
        x = _model_input(model, features)
        output = model.predict(x, verbose=0)
        if isinstance(output, dict):
            output = list(output.values())
        if isinstance(output, (list, tuple)):
            if len(output) != 1:
                raise ValueError(
                    f"the Keras model has {len(output)} outputs but predict returns one array: "
                    "call versioned_model.model.predict(x) to get all of them"
                )
            (output,) = output
        return np.asarray(output)

    def framework_versions(self) -> dict[str, str]:
        """Versions of Keras, of its backend (e.g. TensorFlow) and of h5py, which writes both formats."""
        import h5py
        import keras

        backend = keras.backend.backend()
        versions = {"keras": str(keras.__version__)}
        backend_module = sys.modules.get(backend)
        if backend_module is not None and hasattr(backend_module, "__version__"):
            versions[backend] = str(backend_module.__version__)
        versions["h5py"] = str(h5py.__version__)
        return versions


def _load(path: str) -> Any:
    """Keras' own loading of ``model.keras``, or of ``model.h5`` plus its training state."""
    import keras

    if path.endswith(".keras"):
        return keras.saving.load_model(path)
    model = keras.saving.load_model(path, compile=False)
    _restore_training_state(path, model)
    return model


def _model_input(model: Any, features: Any) -> Any:
    """``features`` as numpy: a dict of inputs by name, a list per input for a multi-input model,
    else one array (a nested list of numbers is one array, not a list of inputs). A table (pandas,
    polars, Arrow) is its numeric columns, stacked."""
    if isinstance(features, dict):
        return {name: np.asarray(table_to_numpy(value, name)) for name, value in features.items()}
    inputs = getattr(model, "inputs", None)
    if isinstance(features, (list, tuple)) and isinstance(inputs, list) and len(inputs) > 1:
        return [np.asarray(table_to_numpy(value, f"features[{i}]")) for i, value in enumerate(features)]
    return np.asarray(table_to_numpy(features, "features"))


def _check_h5_can_hold(model: Any) -> None:
    """Refuse, before writing, a model that HDF5 would store but Keras could not load back: HDF5
    names the model's class, and Keras' HDF5 loader only finds its own built-in classes."""
    cls = type(model)
    if cls.__module__.split(".", 1)[0] == "keras" and cls.__name__ in ("Sequential", "Functional"):
        return
    raise H5UnsupportedModelError(
        f"the Keras model of class {cls.__module__}.{cls.__qualname__} cannot be stored in model.h5: Keras loads "
        "only Sequential and functional models from HDF5. Publish it in the native format with "
        "publish(..., serializer=KerasSerializer(format='keras')) (from mlops_keras import KerasSerializer), and "
        "register the class with @keras.saving.register_keras_serializable() so it loads back"
    )


def _build_optimizer(model: Any) -> None:
    """Create the optimizer variables of a compiled model that was never trained, as its first
    ``fit`` would (zero slots, step 0). Otherwise model.keras stores fewer optimizer variables than
    loading rebuilds, and Keras warns that it skips them."""
    optimizer = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and optimizer is not None and model.built and not optimizer.built:
        optimizer.build(model.trainable_variables)


# --- the HDF5 format's training state -------------------------------------------------------------


def _compile_config_json(model: Any) -> str | None:
    """``model.get_compile_config()`` as JSON (as the ``.keras`` format stores it), or ``None`` for
    a model that is not compiled.

    The optimizer entry is serialized from ``model.optimizer`` itself: Keras' own HDF5 writer
    deletes it from the model's compile config, so a model once saved with ``model.save("x.h5")``
    would otherwise come back with Keras' default optimizer and lose its state."""
    if not getattr(model, "compiled", False):
        return None
    config = dict(model.get_compile_config() or {})
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        import keras

        config["optimizer"] = keras.optimizers.serialize(optimizer)
    return json.dumps(config) if config else None


def _write_training_state(path: str, model: Any, compile_config: str) -> None:
    """Add the compile config and the optimizer variables to the HDF5 file Keras wrote."""
    import h5py

    optimizer = getattr(model, "optimizer", None)
    variables = list(optimizer.variables) if optimizer is not None and optimizer.built else []
    with h5py.File(path, "a") as file:
        file.attrs[COMPILE_CONFIG_ATTR] = compile_config
        if variables:
            group = file.create_group(OPTIMIZER_GROUP)
            for index, variable in enumerate(variables):
                group.create_dataset(str(index), data=np.asarray(variable.numpy()))


def _restore_training_state(path: str, model: Any) -> None:
    """Compile ``model`` as it was saved and give its optimizer the saved variables."""
    import h5py

    with h5py.File(path, "r") as file:
        config = file.attrs.get(COMPILE_CONFIG_ATTR)
        if config is None:
            return  # saved uncompiled
        group = file.get(OPTIMIZER_GROUP)
        values = [np.asarray(group[str(i)]) for i in range(len(group))] if group is not None else []
    model.compile_from_config(json.loads(config))
    optimizer = getattr(model, "optimizer", None)
    if not values or optimizer is None:
        return
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    if len(optimizer.variables) != len(values):
        warnings.warn(
            f"the optimizer state in {os.path.basename(path)} has {len(values)} variables but the rebuilt "
            f"optimizer has {len(optimizer.variables)}; training continues with a fresh optimizer state",
            UserWarning,
            stacklevel=3,
        )
        return
    optimizer.set_weights(values)


class _DropHdf5Notice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "HDF5 file" not in record.getMessage()


@contextmanager
def _without_hdf5_notice() -> Iterator[None]:
    """Silence Keras' "HDF5 is legacy" log line: writing model.h5 is this format's point, and the
    user chose it (``format="keras"`` is the alternative)."""
    logger = logging.getLogger("absl")
    notice_filter = _DropHdf5Notice()
    logger.addFilter(notice_filter)
    try:
        yield
    finally:
        logger.removeFilter(notice_filter)
