"""Saving ``onnx.ModelProto`` graphs as ``model.onnx`` (with ``model.onnx.data`` when the weights are
stored apart) and running them with onnxruntime on CPU.

onnx and onnxruntime are imported only inside methods, so loading this plugin (and asking
``can_save`` about a foreign object) never imports them.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from mlops.errors import (
    InvalidOnnxModelError,
    ModelInputError,
    ModelSerializationError,
    OnnxExternalDataError,
    OnnxModelTooLargeError,
)
from mlops.plugin import ModelSerializer, installed_versions

MODEL_FILE = "model.onnx"
"""The graph, and its weights unless they are in :data:`DATA_FILE`, in ONNX's protobuf format."""

DATA_FILE = "model.onnx.data"
"""The initializers' bytes, back to back, when a model is saved with external data (ONNX's format:
each tensor in ``model.onnx`` names this file, an offset and a length). Written only for models
over :data:`PROTOBUF_LIMIT` or whose initializers the caller marked external."""

PROTOBUF_LIMIT = 2**31 - 1
"""The largest message protobuf can serialize (2 GiB - 1 bytes): bigger models are saved with
external data, the only format that holds them."""

EXTERNAL_MIN_BYTES = 1024
"""Initializers of at least this many bytes go to :data:`DATA_FILE` when a model is saved with
external data (``onnx.save_model``'s default threshold); smaller ones stay in the graph."""

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
    classifiers, the labels). Nothing is pickled.

    A model whose serialized size would exceed ``max_protobuf_bytes`` (default: protobuf's limit,
    :data:`PROTOBUF_LIMIT`), or whose initializers were marked external
    (``onnx.external_data_helper.convert_model_to_external_data``), is saved with external data:
    ``model.onnx`` plus :data:`DATA_FILE`, both listed in the manifest and verified before loading.
    The caller's model is never changed. A lower ``max_protobuf_bytes`` is for tests.
    """

    name: ClassVar[str] = "onnx"
    priority: ClassVar[int] = ModelSerializer.SPECIFIC

    def __init__(self, max_protobuf_bytes: int = PROTOBUF_LIMIT) -> None:
        self.max_protobuf_bytes = max_protobuf_bytes
        self._sessions: OrderedDict[int, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def can_save(self, model: Any) -> bool:
        """True for ``onnx.ModelProto``, decided from the class without importing onnx."""
        cls = type(model)
        return cls.__name__ == "ModelProto" and cls.__module__.split(".", 1)[0] == "onnx"

    def save(self, model: Any, directory: str) -> None:
        """Write ``model`` to ``directory/model.onnx`` (and :data:`DATA_FILE` when it needs external
        data, see :meth:`_split`), checked by ``onnx.checker``.

        A model in one file is serialized once, and those bytes are both checked and written: what
        ``onnx.save_model`` writes, without serializing a large model a second time. A model with
        external data is checked from the folder, where the checker finds its data file."""
        import onnx

        split = self._split(model)
        if split is None:
            data = model.SerializeToString()
            with _checked():
                onnx.checker.check_model(data)
            with open(os.path.join(directory, MODEL_FILE), "wb") as f:
                f.write(data)
            return
        split.write(directory)
        with _checked():
            onnx.checker.check_model(os.path.join(directory, MODEL_FILE))

    def load(self, directory: str) -> Any:
        """The ``onnx.ModelProto`` in ``directory/model.onnx``, with the data of its initializers
        read from :data:`DATA_FILE` next to it when it was saved with external data: the loaded
        model holds every tensor in memory, as one read from a single file does.

        mlops reads the data file itself rather than through ``onnx.load_model``: onnx refuses a
        data file with several hard links, and mlops links identical files (deduplicated versions,
        the local cache of a remote store). Every file here was verified against the manifest."""
        import onnx

        model = onnx.load_model(os.path.join(directory, MODEL_FILE), load_external_data=False)
        _read_external_data(model, directory)
        return model

    def _split(self, model: Any) -> _Split | None:
        """``None`` when ``model`` is saved as one ``model.onnx``; otherwise how it is saved with
        external data: when its initializers are marked external, or when it would not fit in
        ``max_protobuf_bytes`` (estimated from the split, since protobuf cannot even measure a
        message over its limit). Raises :class:`OnnxExternalDataError` for data the model does not
        hold, and :class:`OnnxModelTooLargeError` when the graph alone is still too large."""
        from google.protobuf.message import EncodeError

        split = _Split(model)
        try:
            graph_size = split.skeleton.ByteSize()
        except EncodeError:  # over protobuf's own limit
            graph_size = None
        if graph_size is not None and not split.marked and graph_size + split.data_size <= self.max_protobuf_bytes:
            return None
        if graph_size is None or graph_size > self.max_protobuf_bytes:
            raise OnnxModelTooLargeError(
                f"this ONNX model is over the limit of one protobuf message ({self.max_protobuf_bytes} bytes) even "
                f"with its initializers of at least {EXTERNAL_MIN_BYTES} bytes stored apart: what remains in the graph "
                "(smaller initializers, constants in nodes, tensors kept in typed fields such as float_data) is too "
                "large. Store large tensors as initializers with raw data (onnx.numpy_helper.from_array)"
            )
        return split

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
        session = self._new_session(model)
        with self._lock:
            self._sessions[key] = (model, session)
            while len(self._sessions) > SESSIONS_KEPT:
                self._sessions.popitem(last=False)
        return session

    def _new_session(self, model: Any) -> Any:
        """An onnxruntime CPU session of ``model``: from its bytes, or, for a model that needs
        external data, from a temporary folder it is saved into as :meth:`save` would."""
        import onnxruntime

        providers = ["CPUExecutionProvider"]
        split = self._split(model)
        if split is None:
            return onnxruntime.InferenceSession(model.SerializeToString(), providers=providers)
        with tempfile.TemporaryDirectory(prefix="mlops-onnx-", ignore_cleanup_errors=True) as folder:
            split.write(folder)
            return onnxruntime.InferenceSession(os.path.join(folder, MODEL_FILE), providers=providers)

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


@contextmanager
def _checked() -> Iterator[None]:
    """Turns ``onnx.checker``'s rejection inside the block into :class:`InvalidOnnxModelError`."""
    import onnx

    try:
        yield
    except onnx.checker.ValidationError as exc:
        raise InvalidOnnxModelError(
            f"ONNX's checker rejects this model, so it would not load: {exc}. Fix the graph (or its export) first"
        ) from exc


class _Split:
    """A copy of a model whose initializers of at least :data:`EXTERNAL_MIN_BYTES`, or marked
    external by the caller, point into :data:`DATA_FILE` (``skeleton``), and those initializers of
    the caller's model, in file order (``moved``), whose bytes :meth:`write` puts there.

    The caller's model is only read: no copy of its weights is made (a model near protobuf's
    limit is large). Only initializers of the graph and its subgraphs move, as with
    ``onnx.save_model``'s defaults; tensors in node attributes and functions stay in the graph (a
    mark the caller put on them is removed, their data kept). The messages on the way to the moved
    tensors are copied field by field, so fields unknown to the installed onnx are left out there.
    """

    def __init__(self, model: Any) -> None:
        import onnx

        self._onnx = onnx
        self.moved: list[Any] = []
        self.data_size = 0
        self.marked = False
        self.skeleton = onnx.ModelProto()
        for field, value in model.ListFields():
            if field.name == "graph":
                self._graph(value, self.skeleton.graph, movable=True)
            elif field.name == "functions":
                for function in value:
                    self._function(function, self.skeleton.functions.add())
            else:
                _copy_field(self.skeleton, field.name, value)

    def write(self, directory: str) -> None:
        """Write :data:`MODEL_FILE` and :data:`DATA_FILE` into ``directory``."""
        with open(os.path.join(directory, DATA_FILE), "wb") as f:
            for tensor in self.moved:
                f.write(tensor.raw_data)
        with open(os.path.join(directory, MODEL_FILE), "wb") as f:
            f.write(self.skeleton.SerializeToString())

    def _graph(self, src: Any, dest: Any, *, movable: bool) -> None:
        for field, value in src.ListFields():
            if field.name == "initializer":
                for tensor in value:
                    (self._move if movable else self._keep)(tensor, dest.initializer.add())
            elif field.name == "node":
                self._nodes(value, dest.node, movable=movable)
            else:
                _copy_field(dest, field.name, value)

    def _function(self, src: Any, dest: Any) -> None:
        for field, value in src.ListFields():
            if field.name == "node":
                self._nodes(value, dest.node, movable=False)
            else:
                _copy_field(dest, field.name, value)

    def _nodes(self, src: Any, dest: Any, *, movable: bool) -> None:
        holders = (self._onnx.AttributeProto.GRAPH, self._onnx.AttributeProto.GRAPHS)
        for node in src:
            copy = dest.add()
            if not any(a.HasField("t") or a.tensors or a.type in holders for a in node.attribute):
                copy.CopyFrom(node)
                continue
            for field, value in node.ListFields():
                if field.name == "attribute":
                    for attribute in value:
                        self._attribute(attribute, copy.attribute.add(), movable=movable)
                else:
                    _copy_field(copy, field.name, value)

    def _attribute(self, src: Any, dest: Any, *, movable: bool) -> None:
        kinds = self._onnx.AttributeProto
        for field, value in src.ListFields():
            if field.name == "t":
                self._keep(value, dest.t)
            elif field.name == "tensors":
                for tensor in value:
                    self._keep(tensor, dest.tensors.add())
            elif field.name == "g" and src.type == kinds.GRAPH:
                self._graph(value, dest.g, movable=movable)
            elif field.name == "graphs" and src.type == kinds.GRAPHS:
                for graph in value:
                    self._graph(graph, dest.graphs.add(), movable=movable)
            else:
                _copy_field(dest, field.name, value)

    def _move(self, src: Any, dest: Any) -> None:
        """Copy the initializer ``src`` into ``dest``, pointing into :data:`DATA_FILE` if it moves."""
        marked = self._external(src)
        if not marked and not src.HasField("raw_data"):
            dest.CopyFrom(src)
            return
        size = len(src.raw_data)
        if not marked and size < EXTERNAL_MIN_BYTES:
            dest.CopyFrom(src)
            return
        self.marked = self.marked or marked
        _copy_fields(dest, src, skip=("raw_data", "external_data", "data_location"))
        dest.data_location = self._onnx.TensorProto.EXTERNAL
        for key, entry in (("location", DATA_FILE), ("offset", self.data_size), ("length", size)):
            dest.external_data.add(key=key, value=str(entry))
        self.moved.append(src)
        self.data_size += size

    def _keep(self, src: Any, dest: Any) -> None:
        """Copy the tensor ``src`` into ``dest`` with its data in the graph."""
        if self._external(src):
            _copy_fields(dest, src, skip=("external_data", "data_location"))
        else:
            dest.CopyFrom(src)

    def _external(self, tensor: Any) -> bool:
        """Whether ``tensor`` is marked external; :class:`OnnxExternalDataError` if its data is not here."""
        if tensor.data_location != self._onnx.TensorProto.EXTERNAL:
            return False
        if not tensor.HasField("raw_data"):
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            raise OnnxExternalDataError(
                f"the ONNX tensor {tensor.name!r} keeps its data in the external file {location!r} (a path "
                "relative to the folder of the model.onnx it was saved as or loaded from), and this model object "
                "does not hold that data, so it cannot be published. onnx.save_model(..., "
                "save_as_external_data=True) and MLflow's log_model remove it from the object they save, and "
                "onnx.load(..., load_external_data=False) never reads it. Publish a model that holds its data: "
                "onnx.load('path/to/model.onnx') with the data file next to it, or call "
                "onnx.external_data_helper.load_external_data_for_model(model, 'folder/with/the/data') first"
            )
        return True


def _read_external_data(model: Any, directory: str) -> None:
    """Fill in, from ``directory``/:data:`DATA_FILE`, the data of every tensor of ``model`` stored
    there, and mark them as held in memory. Only that file is read, whatever a tensor names."""
    import onnx

    external = [t for t in _tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return
    path = os.path.join(directory, DATA_FILE)
    if not os.path.isfile(path):
        raise ModelSerializationError(
            f"{os.path.join(directory, MODEL_FILE)} keeps tensors in {DATA_FILE}, and this version has no such file: "
            "it was not written by mlops-onnx. Publish the model again from its source"
        )
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for tensor in external:
            info = {e.key: e.value for e in tensor.external_data}
            try:
                offset = int(info.get("offset", "0"))
                length = int(info.get("length", str(size - offset)))
            except ValueError:
                offset = length = -1
            if info.get("location") != DATA_FILE or not (0 <= offset and 0 <= length and offset + length <= size):
                raise ModelSerializationError(
                    f"the ONNX tensor {tensor.name!r} of {os.path.join(directory, MODEL_FILE)} points at "
                    f"{info.get('location')!r} from offset {info.get('offset')!r}, length {info.get('length')!r}, "
                    f"which is not a part of the {size}-byte {DATA_FILE} that mlops-onnx writes: this version was "
                    "not written by mlops-onnx. Publish the model again from its source"
                )
            f.seek(offset)
            tensor.raw_data = f.read(length)
            tensor.data_location = onnx.TensorProto.DEFAULT
            del tensor.external_data[:]


def _tensors(model: Any) -> Iterator[Any]:
    """Every tensor of ``model`` held in its graph, subgraphs and functions: initializers and the
    values of node attributes."""
    yield from _graph_tensors(model.graph)
    for function in model.functions:
        yield from _node_tensors(function.node)


def _graph_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Any) -> Iterator[Any]:
    for node in nodes:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _graph_tensors(attribute.g)
            for graph in attribute.graphs:
                yield from _graph_tensors(graph)


def _copy_field(dest: Any, name: str, value: Any) -> None:
    """Set the field ``name`` of the protobuf message ``dest`` to ``value`` (read from another message)."""
    from google.protobuf.message import Message

    if isinstance(value, Message):
        getattr(dest, name).CopyFrom(value)
    elif isinstance(value, (str, bytes, int, float)):
        setattr(dest, name, value)
    else:  # a repeated field
        getattr(dest, name).extend(value)


def _copy_fields(dest: Any, src: Any, *, skip: tuple[str, ...]) -> None:
    """Copy every field of ``src`` into ``dest`` but those in ``skip``."""
    for field, value in src.ListFields():
        if field.name not in skip:
            _copy_field(dest, field.name, value)
