"""ONNX graphs published and loaded back through mlops-onnx: ``model.onnx``, no pickle, run with
onnxruntime on CPU with the graph's own input name, element type and shape, and bit-identical
predictions here and in a fresh process that imports no framework itself. The graphs are built
with ``onnx.helper`` from generated weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from install_hints import assert_install_hint
from onnx import TensorProto, helper, numpy_helper

from format_checks import manifest_of
from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.model.versioned_model import VersionedModel
from mlops.plugins import manager as plugins
from mlops_onnx import MODEL_FILE, OnnxSerializer
from native_models import (
    assert_no_pickle,
    load_without_plugin,
    plugins_listing,
    plugins_table,
    predict_in_fresh_process,
    publish_dataset,
    publish_model,
    published_meta,
    write_wine,
)

FEATURES, CLASSES = 13, 3
OPSET = 17


def linear_classifier(seed: int = 0, batch: int | str = "batch") -> onnx.ModelProto:
    """A softmax regression graph: X[batch, 13] -> label (ArgMax, first output) and probabilities."""
    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.normal(size=(FEATURES, CLASSES)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.normal(size=CLASSES).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["X", "W", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
            helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
        ],
        "linear_classifier",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [batch, FEATURES])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, [batch]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [batch, CLASSES]),
        ],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlops-tests")
    model.ir_version = 8
    return model


def two_input_sum() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Add", ["A", "B"], ["S"])],
        "sum",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 2]) for n in ("A", "B")],
        [helper.make_tensor_value_info("S", TensorProto.FLOAT, [None, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"X": x.astype(np.float32)})[0])


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, VersionedDataset]:
    raw = write_wine(tmp_path_factory.mktemp("raw"))
    return raw, publish_dataset(raw, str(tmp_path_factory.mktemp("wine-store")))


def test_round_trip_in_a_fresh_process_without_pickle(wine: tuple[str, VersionedDataset], tmp_path: Path) -> None:
    dataset = wine[1]
    models = [linear_classifier(0), linear_classifier(1, batch=len(dataset.X_test))]
    paths = [publish_model(str(tmp_path / "store"), dataset, m, f"linear-{i}") for i, m in enumerate(models)]

    for model, path in zip(models, paths, strict=True):
        assert assert_no_pickle(path) == sorted([MODEL_FILE, "manifest.jsonl", "meta.json"])
        loaded = VersionedModel(path)
        assert isinstance(loaded.model, onnx.ModelProto)
        assert loaded.model.SerializeToString() == model.SerializeToString()
        np.testing.assert_array_equal(loaded.predict(dataset.X_test), _run(model, dataset.X_test))

    fresh = predict_in_fresh_process(paths, np.asarray(dataset.X_test), tmp_path)
    for model, (serializer, predictions) in zip(models, fresh, strict=True):
        assert serializer == "onnx"
        expected = _run(model, dataset.X_test)
        assert predictions.dtype == np.int64 and predictions.tobytes() == expected.tobytes()


def test_publish_and_load_on_every_store(store: str, wine: tuple[str, VersionedDataset]) -> None:
    raw, _ = wine
    dataset = publish_dataset(raw, store)
    model = linear_classifier(2)
    path = publish_model(store, dataset, model, "linear")

    loaded = VersionedModel(path)
    assert loaded.serializer_name == "onnx"
    assert loaded.predict(dataset.X_test).tobytes() == _run(model, dataset.X_test).tobytes()
    assert_no_pickle(path)
    loaded.verify()


def test_features_are_converted_to_the_input_type_and_checked_against_its_shape() -> None:
    serializer = OnnxSerializer()
    model = linear_classifier(3, batch=4)
    x = np.random.default_rng(0).normal(size=(4, FEATURES))  # float64, the graph takes float

    assert serializer.predict(model, x).tobytes() == _run(model, x).tobytes()
    assert serializer.predict(model, x.astype(np.int32)).shape == (4,)  # integers convert to float
    with pytest.raises(errors.ModelInputError, match=r"shape \(5, 13\).*'X' of shape \[4, 13\]"):
        serializer.predict(model, np.zeros((5, FEATURES)))
    with pytest.raises(errors.ModelInputError, match=r"shape \(13,\)"):
        serializer.predict(model, np.zeros(FEATURES))
    with pytest.raises(errors.ModelInputError, match="cannot be converted"):
        serializer.predict(model, np.full((4, FEATURES), "text"))
    with pytest.raises(errors.ModelInputError, match=r"2 inputs \(A, B\)"):
        serializer.predict(two_input_sum(), np.zeros((1, 2)))


def test_a_graph_the_checker_rejects_fails_before_anything_is_written(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    broken = linear_classifier(0)
    broken.graph.node[0].input[1] = "no_such_tensor"

    with pytest.raises(errors.InvalidOnnxModelError, match="checker rejects"):
        publish_model(str(tmp_path), wine[1], broken, "broken")
    assert not (tmp_path / "models").exists()


def test_meta_json_names_the_plugin_and_the_runtime_versions(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], linear_classifier(), "linear")
    meta = published_meta(path)

    assert meta["serializer"]["name"] == "onnx"
    assert meta["serializer"]["distribution"] == "mlops-onnx"
    assert meta["framework"]["onnx"] == onnx.__version__
    assert meta["framework"]["onnxruntime"] == onnxruntime.__version__
    assert list(manifest_of(path)) == [MODEL_FILE]


def test_only_model_protos_are_claimed() -> None:
    serializer = OnnxSerializer()
    assert serializer.can_save(linear_classifier())
    assert not serializer.can_save(linear_classifier().graph)
    assert not serializer.can_save(b"onnx bytes")
    assert plugins.serializer_for(linear_classifier()).name == "onnx"


def test_plugins_command_lists_the_onnx_serializer() -> None:
    listing = plugins_listing()
    assert {"name": "onnx", "module": "mlops_onnx.plugin", "distribution": "mlops-onnx", "version": "0.1.0"} in (
        listing["plugins"]
    )
    (entry,) = [s for s in listing["serializers"] if s["name"] == "onnx"]
    assert entry["class"] == "mlops_onnx.serializer.OnnxSerializer"
    rows = [line.split() for line in plugins_table().splitlines()]
    assert ["onnx", "mlops_onnx.serializer.OnnxSerializer", "mlops-onnx", "0.1.0", "10"] in rows


def test_loading_without_the_plugin_names_the_install_command(
    wine: tuple[str, VersionedDataset], tmp_path: Path
) -> None:
    path = publish_model(str(tmp_path), wine[1], linear_classifier(), "linear")

    assert_install_hint(load_without_plugin(path, "sklearn"), "onnx")
