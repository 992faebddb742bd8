"""Saving ``onnx.ModelProto`` graphs as ``model.onnx`` and running them with onnxruntime on CPU.

onnx and onnxruntime are imported only inside methods, so loading this plugin (and asking
``can_save`` about a foreign object) never imports them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np

from mlops.errors import InvalidOnnxModelError, ModelInputError
from mlops.model.serializer import ModelSerializer, installed_versions

MODEL_FILE = "model.onnx"
"""The graph and its weights, in ONNX's protobuf format (``onnx.save_model``)."""

ELEMENT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
}
"""onnxruntime's input type names and the numpy dtype features are converted to."""

SESSIONS_KEPT = 8
"""How many models' inference sessions are kept (most recently used first)."""

_DISTRIBUTIONS = ("onnx", "onnxruntime", "numpy")


class OnnxSerializer(ModelSerializer):
    """An ``onnx.ModelProto`` (e.g. from ``torch.onnx.export``, skl2onnx or ``onnx.helper``), saved as
    ``model.onnx`` after ONNX's checker accepted it, loaded back as a ``ModelProto``.

    ``predict`` runs the graph with onnxruntime's CPU provider: the features go to the graph's
    single input, converted to its element type, and the first output comes back (for skl2onnx
    classifiers, the labels). Nothing is pickled. The protobuf format limits a model to 2 GB.
    """

    name: ClassVar[str] = "onnx"
    priority: ClassVar[int] = ModelSerializer.SPECIFIC

    def __init__(self) -> None:
        self._sessions: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def can_save(self, model: Any) -> bool:
        """True for ``onnx.ModelProto``, decided from the class without importing onnx."""
        cls = type(model)
        return cls.__name__ == "ModelProto" and cls.__module__.split(".", 1)[0] == "onnx"

    def save(self, model: Any, directory: str) -> None:
        """Check the graph with ``onnx.checker`` and write it to ``directory/model.onnx``.

        The model is serialized once, and those bytes are both checked and written: what
        ``onnx.save_model`` writes, without serializing a large model a second time."""
        import onnx

        data = model.SerializeToString()
        try:
            onnx.checker.check_model(data)
        except onnx.checker.ValidationError as exc:
            raise InvalidOnnxModelError(
                f"ONNX's checker rejects this model, so it would not load: {exc}. Fix the graph (or its export) first"
            ) from exc
        with open(os.path.join(directory, MODEL_FILE), "wb") as f:
            f.write(data)

    def load(self, directory: str) -> Any:
        """The ``onnx.ModelProto`` in ``directory/model.onnx``."""
        import onnx

        return onnx.load_model(os.path.join(directory, MODEL_FILE))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """The graph's first output for ``features`` fed to its single input (name, element type
        and shape read from the graph). An inference session is built once per model object."""
        session = self._session(model)
        inputs = session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise ModelInputError(
                f"this ONNX graph has {len(inputs)} inputs ({names}) and predict feeds one tensor: "
                "run them with onnxruntime.InferenceSession(model.model.SerializeToString()) yourself"
            )
        feed = _conform(np.asarray(features), inputs[0])
        output = session.run([session.get_outputs()[0].name], {inputs[0].name: feed})[0]
        return np.asarray(output)

    def _session(self, model: Any) -> Any:
        """The onnxruntime CPU session of ``model``, built on first use and kept for the
        :data:`SESSIONS_KEPT` most recent models (a ModelProto can be neither hashed nor weakly
        referenced: the cache holds the model too, so its ``id`` stays unique while cached)."""
        key = id(model)
        with self._lock:
            cached = self._sessions.get(key)
            if cached is not None and cached[0] is model:
                self._sessions.move_to_end(key)
                return cached[1]
        import onnxruntime

        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        with self._lock:
            self._sessions[key] = (model, session)
            while len(self._sessions) > SESSIONS_KEPT:
                self._sessions.popitem(last=False)
        return session

    def framework_versions(self) -> dict[str, str]:
        """Installed versions of onnx, onnxruntime and numpy."""
        return installed_versions(*_DISTRIBUTIONS)


def _conform(features: np.ndarray, node: Any) -> np.ndarray:
    """``features`` in the dtype the graph input ``node`` declares, after checking its rank and
    fixed dimensions; :class:`ModelInputError` when they cannot fit."""
    expected = [d if isinstance(d, int) else None for d in node.shape]
    shown = "[" + ", ".join("?" if d is None else str(d) for d in expected) + "]"
    fits = features.ndim == len(expected) and all(
        d is None or d == n for d, n in zip(expected, features.shape, strict=True)
    )
    if not fits:
        raise ModelInputError(
            f"features of shape {features.shape} do not fit the ONNX input {node.name!r} of shape {shown} "
            "(? is any size): reshape them to match"
        )
    dtype = ELEMENT_TYPES.get(node.type)
    if dtype is None:
        raise ModelInputError(f"the ONNX input {node.name!r} takes {node.type}, which predict does not feed")
    if features.dtype != dtype:
        if not np.can_cast(features.dtype, dtype, casting="same_kind"):
            raise ModelInputError(
                f"features of dtype {features.dtype} cannot be converted to the {np.dtype(dtype)} that the ONNX "
                f"input {node.name!r} takes without losing their meaning: convert them first"
            )
        features = features.astype(dtype)
    return features
