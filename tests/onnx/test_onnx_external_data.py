"""ONNX models whose weights live in external data, the only format past protobuf's 2 GB limit:
published as ``model.onnx`` plus ``model.onnx.data`` (both in the manifest, both verified), loaded
back whole, and run with identical predictions; the caller's model object is never changed.

The cases: a model whose initializers were marked external in memory
(``convert_model_to_external_data``, data still held); a model too large for one protobuf message
(the same decision, taken here with a low ``max_protobuf_bytes``); and models that no longer hold
their data (after ``onnx.save_model(..., save_as_external_data=True)``, or loaded with
``load_external_data=False``), refused with what to do before anything is written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data, load_external_data_for_model

from format_checks import manifest_of
from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.plugins import manager as plugins
from mlops_onnx import DATA_FILE, MODEL_FILE, PROTOBUF_LIMIT, OnnxSerializer
from native_models import predict_in_fresh_process, publish_dataset, publish_model, published_meta, write_wine

FEATURES, HIDDEN, CLASSES = 13, 64, 3
OPSET = 17


def mlp(seed: int = 0) -> onnx.ModelProto:
    """X[batch, 13] -> Gemm(W1 13x64, 3328 bytes) -> Relu -> Gemm(W2 64x3, 768 bytes) -> ArgMax: one
    initializer over the 1 KiB threshold and three under it."""
    rng = np.random.default_rng(seed)
    weights = {
        "W1": rng.normal(size=(FEATURES, HIDDEN)),
        "B1": rng.normal(size=HIDDEN),
        "W2": rng.normal(size=(HIDDEN, CLASSES)),
        "B2": rng.normal(size=CLASSES),
    }
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["X", "W1", "B1"], ["hidden"]),
            helper.make_node("Relu", ["hidden"], ["active"]),
            helper.make_node("Gemm", ["active", "W2", "B2"], ["logits"]),
            helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
        ],
        "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])],
        initializer=[numpy_helper.from_array(w.astype(np.float32), name) for name, w in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlops-tests")
    model.ir_version = 8
    return model


def branching(seed: int = 0) -> onnx.ModelProto:
    """An If node whose two branches each hold a 13x256 initializer, and a Constant node whose
    256-float value (1 KiB) is added to the chosen branch's output: initializers in subgraphs, and
    a tensor in a node attribute."""
    rng = np.random.default_rng(seed)

    def branch(name: str) -> onnx.GraphProto:
        weight = numpy_helper.from_array(rng.normal(size=(FEATURES, 256)).astype(np.float32), f"W_{name}")
        return helper.make_graph(
            [helper.make_node("MatMul", ["X", f"W_{name}"], [f"out_{name}"])],
            name,
            [],
            [helper.make_tensor_value_info(f"out_{name}", TensorProto.FLOAT, ["batch", 256])],
            initializer=[weight],
        )

    shift = numpy_helper.from_array(rng.normal(size=256).astype(np.float32), "shift_value")
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["shift"], value=shift),
            helper.make_node("ReduceSum", ["X"], ["total"], keepdims=0),
            helper.make_node("Greater", ["total", "zero"], ["positive"]),
            helper.make_node("If", ["positive"], ["hidden"], then_branch=branch("then"), else_branch=branch("else")),
            helper.make_node("Add", ["hidden", "shift"], ["logits"]),
            helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
        ],
        "branching",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])],
        initializer=[numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlops-tests")
    model.ir_version = 8
    return model


def marked_external(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with every tensor marked external in memory, data still held (what
    MLflow's onnx flavor does to the object it is given before saving it)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    convert_model_to_external_data(copy, location="weights.bin", size_threshold=0, convert_attribute=True)
    return copy


def tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of ``graph``: initializers and node attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from tensors(subgraph)


def plain(model: onnx.ModelProto) -> bytes:
    """``model`` serialized with every tensor's data inline and no data location recorded: the form
    in which a model read with its data (``onnx.load``) and the original compare equal."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for tensor in tensors(copy.graph):
        tensor.ClearField("data_location")
        del tensor.external_data[:]
    return copy.SerializeToString()


def stored_apart(path: str) -> set[str]:
    """Names of the tensors that the published ``model.onnx`` at ``path`` keeps in external data."""
    graph_only = onnx.load(os.path.join(path, MODEL_FILE), load_external_data=False)
    found = set()
    for tensor in tensors(graph_only.graph):
        if tensor.data_location == TensorProto.EXTERNAL:
            assert {e.key: e.value for e in tensor.external_data}["location"] == DATA_FILE
            found.add(tensor.name)
    return found


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """onnxruntime's output for ``model`` with its data inline (the reference predictions)."""
    session = onnxruntime.InferenceSession(plain(model), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"X": np.asarray(x, np.float32)})[0])


def publish_with(serializer: OnnxSerializer, root: str, dataset: VersionedDataset, model: onnx.ModelProto) -> str:
    return VersionedModelBuilder(dataset, model).publish(f"{root}/models", serializer=serializer)


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, VersionedDataset]:
    raw = write_wine(tmp_path_factory.mktemp("raw"))
    return raw, publish_dataset(raw, str(tmp_path_factory.mktemp("wine-store")))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own, where ``tempfile`` creates what it creates."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_model_marked_external_is_published_with_its_data_file_on_every_store(
    store: str, wine: tuple[str, VersionedDataset]
) -> None:
    raw, _ = wine
    dataset = publish_dataset(raw, store)
    model = marked_external(mlp(1))
    before = model.SerializeToString()

    path = publish_model(store, dataset, model, "mlp")

    assert model.SerializeToString() == before  # the caller's object is untouched
    assert sorted(manifest_of(path)) == [MODEL_FILE, DATA_FILE]
    loaded = VersionedModel(path)
    assert plain(loaded.model) == plain(model)
    assert loaded.predict(dataset.X_test).tobytes() == run(model, dataset.X_test).tobytes()
    loaded.verify()


def test_the_data_file_holds_the_marked_initializers_and_a_fresh_process_runs_the_model(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]
    model = marked_external(mlp(2))
    path = publish_model(str(tmp_path), dataset, model, "mlp")

    assert stored_apart(path) == {"W1", "B1", "W2", "B2"}  # the caller chose all of them (threshold 0)
    assert os.path.getsize(os.path.join(path, DATA_FILE)) == 4 * (FEATURES * HIDDEN + HIDDEN + HIDDEN * CLASSES + 3)
    ((serializer, predictions),) = predict_in_fresh_process([path], np.asarray(dataset.X_test), tmp_path)
    assert serializer == "onnx"
    assert predictions.tobytes() == run(model, dataset.X_test).tobytes()


def test_one_model_published_twice_stores_the_same_bytes_and_both_load(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]
    model = marked_external(mlp(3))
    first, second = (publish_model(str(tmp_path), dataset, model, "mlp") for _ in range(2))

    assert published_meta(first)["hash"] == published_meta(second)["hash"]
    assert manifest_of(first) == manifest_of(second)
    # The local store links identical files, and onnx.load_model refuses a data file with several links.
    assert os.stat(os.path.join(second, DATA_FILE)).st_nlink >= 2
    for path in (first, second):
        assert VersionedModel(path).predict(dataset.X_test).tobytes() == run(model, dataset.X_test).tobytes()


def test_a_model_over_the_size_limit_is_saved_with_external_data_and_one_within_it_is_not(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]
    model = mlp(4)
    size = len(model.SerializeToString())
    before = model.SerializeToString()

    small = publish_with(OnnxSerializer(max_protobuf_bytes=size - 1), str(tmp_path), dataset, model)
    roomy = publish_with(OnnxSerializer(max_protobuf_bytes=2 * size), str(tmp_path), dataset, model)

    assert model.SerializeToString() == before
    assert sorted(manifest_of(roomy)) == [MODEL_FILE]
    assert sorted(manifest_of(small)) == [MODEL_FILE, DATA_FILE]
    assert stored_apart(small) == {"W1"}  # the initializers of 1 KiB or more; the others stay in the graph
    assert os.path.getsize(os.path.join(small, DATA_FILE)) == 4 * FEATURES * HIDDEN
    for path in (small, roomy):  # loaded by the installed plugin, whose limit is protobuf's
        loaded = VersionedModel(path)
        assert plain(loaded.model) == plain(model)
        assert loaded.predict(dataset.X_test).tobytes() == run(model, dataset.X_test).tobytes()


def test_the_installed_serializer_uses_protobufs_limit() -> None:
    serializer = plugins.serializer_named("onnx")
    assert isinstance(serializer, OnnxSerializer)
    assert serializer.max_protobuf_bytes == PROTOBUF_LIMIT == 2**31 - 1
    assert PROTOBUF_LIMIT == onnx.checker.MAXIMUM_PROTOBUF  # the size onnx's own checker refuses beyond


def test_predict_runs_a_model_over_the_limit_from_a_temporary_folder_it_removes(private_tmp: Path) -> None:
    model = mlp(5)
    x = np.random.default_rng(0).normal(size=(32, FEATURES))
    serializer = OnnxSerializer(max_protobuf_bytes=len(model.SerializeToString()) // 2)

    assert serializer.predict(model, x).tobytes() == run(model, x).tobytes()
    assert list(private_tmp.iterdir()) == []


def test_predict_runs_a_model_marked_external() -> None:
    model = marked_external(mlp(6))
    x = np.random.default_rng(1).normal(size=(8, FEATURES))

    assert OnnxSerializer().predict(model, x).tobytes() == run(model, x).tobytes()


@pytest.mark.parametrize(
    ("model", "moved"),
    [
        (marked_external(branching(0)), {"W_then", "W_else", "zero"}),  # every initializer marked, the 4-byte one too
        (branching(1), {"W_then", "W_else"}),
    ],
    ids=["marked", "over-the-limit"],
)
def test_initializers_of_subgraphs_move_and_tensors_in_node_attributes_stay_in_the_graph(
    model: onnx.ModelProto, moved: set[str], wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    dataset = wine[1]
    serializer = OnnxSerializer(max_protobuf_bytes=len(model.SerializeToString()) - 1)
    path = publish_with(serializer, str(tmp_path), dataset, model)

    assert stored_apart(path) == moved  # the Constant's 1 KiB value stays in its node, as onnx.load expects
    loaded = VersionedModel(path)
    assert plain(loaded.model) == plain(model)
    for x in (dataset.X_test, -np.asarray(dataset.X_test)):  # both branches
        assert loaded.predict(x).tobytes() == run(model, x).tobytes()


def test_a_changed_or_missing_data_file_is_named_by_the_integrity_error(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], marked_external(mlp(7)), "mlp")
    data = Path(path) / DATA_FILE
    content = bytearray(data.read_bytes())
    content[len(content) // 2] ^= 0x01
    data.write_bytes(bytes(content))

    with pytest.raises(errors.IntegrityError, match=r"model\.onnx\.data"):
        VersionedModel(path).model  # noqa: B018
    with pytest.raises(errors.IntegrityError, match=r"model\.onnx\.data"):
        VersionedModel(path).verify()
    data.unlink()
    with pytest.raises(errors.IntegrityError, match=r"model\.onnx\.data"):
        VersionedModel(path).model  # noqa: B018


def saved_elsewhere(folder: Path) -> onnx.ModelProto:
    """A model after ``onnx.save_model(..., save_as_external_data=True)``: the object keeps only
    where its data went, relative to a folder it does not record."""
    model = mlp(8)
    onnx.save_model(model, str(folder / "elsewhere.onnx"), save_as_external_data=True, size_threshold=0)
    return model


def loaded_without_data(folder: Path) -> onnx.ModelProto:
    onnx.save_model(mlp(8), str(folder / "saved.onnx"), save_as_external_data=True, location="saved.data")
    return onnx.load(str(folder / "saved.onnx"), load_external_data=False)


@pytest.mark.parametrize("make", [saved_elsewhere, loaded_without_data])
def test_a_model_without_its_external_data_is_refused_before_anything_is_written(
    make: Callable[[Path], onnx.ModelProto],
    wine: tuple[str, VersionedDataset],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    model = make(source)
    monkeypatch.chdir(source)  # the data file is right here: mlops still does not guess where it is

    with pytest.raises(errors.OnnxExternalDataError, match=r"'W1'.*onnx\.load\('path/to/model\.onnx'\)"):
        publish_model(str(tmp_path / "store"), wine[1], model, "mlp")
    assert not (tmp_path / "store" / "models").exists()
    with pytest.raises(errors.OnnxExternalDataError):
        OnnxSerializer().predict(model, np.zeros((1, FEATURES)))

    load_external_data_for_model(model, str(source))  # what the message says to do
    path = publish_model(str(tmp_path / "store"), wine[1], model, "mlp")
    assert plain(VersionedModel(path).model) == plain(mlp(8))


def test_a_graph_too_large_even_with_its_initializers_apart_is_refused(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    model = mlp(9)
    graph_only = len(model.SerializeToString()) - 4 * FEATURES * HIDDEN

    with pytest.raises(
        errors.OnnxModelTooLargeError, match=r"even with its initializers of at least 1024 bytes stored apart"
    ):
        publish_with(OnnxSerializer(max_protobuf_bytes=graph_only // 2), str(tmp_path), wine[1], model)
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("location", "offset", "length"),
    [("../outside.bin", "0", "4"), ("meta.json", "0", "4"), (DATA_FILE, "2", "4"), (DATA_FILE, "-1", "1")],
)
def test_loading_reads_only_the_data_file_and_only_inside_it(
    location: str, offset: str, length: str, tmp_path: Path
) -> None:
    folder = tmp_path / "version"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4)
    (folder / "meta.json").write_bytes(b"{}  ")
    (folder / DATA_FILE).write_bytes(b"\0" * 4)
    model = mlp(10)
    tensor = model.graph.initializer[3]  # B2: 3 floats
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        tensor.external_data.add(key=key, value=value)
    (folder / MODEL_FILE).write_bytes(model.SerializeToString())

    with pytest.raises(errors.ModelSerializationError, match=r"'B2'.*not written by mlops-onnx"):
        OnnxSerializer().load(str(folder))
    (folder / DATA_FILE).unlink()
    with pytest.raises(errors.ModelSerializationError, match=r"no such file"):
        OnnxSerializer().load(str(folder))
