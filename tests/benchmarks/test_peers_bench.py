"""The peers benchmark hands each tool its own copy of a model: MLflow's ONNX flavor converts the
model it is given to external data in place (``onnx.save_model(..., save_as_external_data=True)``
empties its tensors), which made mlops' later publish of the same object fail. MLflow itself is
not installed here: a stand-in module saves as its ONNX flavor does, with the real onnx; the
benchmark runs with ``nox -s bench-peers``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModel

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def peers() -> ModuleType:
    """The benchmark module, imported as ``nox -s bench-peers`` runs it (its folder on sys.path)."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import peers

        return peers
    finally:
        sys.path.remove(str(BENCH_DIR))


def small_model() -> onnx.ModelProto:
    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(8, 64)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "matmul",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 64])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


class FakeMlflow(ModuleType):
    """What the benchmark calls of MLflow; ``onnx.log_model`` saves as MLflow's ONNX flavor does."""

    def __init__(self, artifacts: Path) -> None:
        super().__init__("mlflow")
        self.artifacts = artifacts
        self.given: list[onnx.ModelProto] = []
        self.onnx = SimpleNamespace(log_model=self.log_model)
        self.pyfunc = SimpleNamespace(load_model=lambda uri: onnx.load(uri))

    @contextlib.contextmanager
    def start_run(self) -> Iterator[None]:
        yield

    def log_model(self, model: onnx.ModelProto, name: str) -> SimpleNamespace:
        self.given.append(model)
        folder = self.artifacts / str(len(self.given))
        folder.mkdir(parents=True)
        onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True)  # changes `model`
        return SimpleNamespace(model_uri=str(folder / "model.onnx"))


def test_each_tool_saves_its_own_copy_of_the_model(
    peers: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench_processor import BenchProcessor
    from harness import Results
    from workloads import make_raw_folder

    mlflow = FakeMlflow(tmp_path / "mlflow")
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    raw = make_raw_folder(str(tmp_path / "raw"), 1, files=4)
    dataset = VersionedDataset(VersionedDatasetBuilder(raw, BenchProcessor()).publish(str(tmp_path / "ds"), "v1"))
    model = small_model()
    original = model.SerializeToString()
    results = Results()

    peers._peer_model(tmp_path, "onnx", model, dataset, 2, results)

    assert model.SerializeToString() == original  # no tool was given the benchmark's own object
    assert len(mlflow.given) == 2 and all(m is not model for m in mlflow.given)
    for version in ("v0", "v1", "load"):  # what mlops published holds the weights
        loaded = VersionedModel(str(tmp_path / "models-onnx" / version)).model
        assert loaded.graph.initializer[0].raw_data == model.graph.initializer[0].raw_data
    assert {t.id for t in results.targets} == {"P-onnx-publish", "P-onnx-load"}
    for run in (1, 2):  # and so does what MLflow saved, each round
        saved = onnx.load(str(tmp_path / "mlflow" / str(run) / "model.onnx"))
        assert saved.graph.initializer[0].raw_data == model.graph.initializer[0].raw_data
