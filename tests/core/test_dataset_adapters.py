"""Dataset adapters without a framework: the hook and its façade, the install hint when a framework's
plugin is missing, and LazyTensors (rows copied on demand, pickled without arrays, reopened in
other processes) on every store."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from install_hints import assert_install_hint
from worker_tasks import rows_in_child

from mlops import hookimpl
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.lazy_tensors import LazyTensors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import DatasetAdapterNotInstalledError, PluginError, TensorLengthMismatchError
from mlops.plugins import manager as plugins

ROWS = 2000


class RowsProcessor(DataProcessor):
    """Generated tensors whose rows are easy to tell apart: ``y_train[i] == i``."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rng = np.random.default_rng(0)
        features = {
            "X_train": rng.normal(size=(ROWS, 3, 4)).astype(np.float32),
            "X_test": rng.normal(size=(ROWS // 4, 3, 4)).astype(np.float32),
            "scale": np.asarray(2.5),
        }
        return features, {"y_train": np.arange(ROWS, dtype=np.int64), "y_test": np.arange(ROWS // 4)}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor


@pytest.fixture
def dataset(store: str, tmp_path: Path) -> VersionedDataset:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "note.txt").write_text("generated in the test\n")
    return VersionedDataset(VersionedDatasetBuilder(str(raw), RowsProcessor()).publish(f"{store}/datasets", "v1"))


def test_rows_are_writable_copies_of_just_the_rows_asked_for(dataset: VersionedDataset) -> None:
    tensors = LazyTensors(dataset, ["X_train", "y_train"])
    assert len(tensors) == ROWS
    x, y = tensors.rows([7, 3, 3, ROWS - 1])
    np.testing.assert_array_equal(x, dataset.X_train[[7, 3, 3, ROWS - 1]])
    np.testing.assert_array_equal(y, [7, 3, 3, ROWS - 1])
    one_x, one_y = tensors.rows(5)
    assert one_x.shape == (3, 4) and one_y.shape == () and int(one_y) == 5
    sliced, _ = tensors.rows(slice(10, 20))
    np.testing.assert_array_equal(sliced, dataset.X_train[10:20])
    for array in (x, y, one_x, sliced):
        assert array.flags.writeable and not np.shares_memory(array, dataset.X_train)
    x[:] = 0  # a copy: the stored tensor is untouched
    assert dataset.X_train[7].any()


def test_pickles_without_its_arrays_and_reopens(dataset: VersionedDataset) -> None:
    tensors = LazyTensors(dataset, ["X_train", "y_train"])
    data = pickle.dumps(tensors)
    assert dataset.X_train.nbytes > 90_000
    assert len(data) < 1_000, "the pickled object must hold the path and names only"
    copy = pickle.loads(data)
    assert (copy.path, copy.names, len(copy)) == (dataset.path, ("X_train", "y_train"), ROWS)
    np.testing.assert_array_equal(copy.rows([0, 1999])[0], dataset.X_train[[0, 1999]])


def test_another_process_opens_the_version_itself(dataset: VersionedDataset) -> None:
    # memory:// stores live in one process: only a forked child sees them.
    methods = ["fork"] if dataset.path.startswith("memory://") else ["spawn", "fork"]
    tensors = LazyTensors(dataset, ["X_train", "y_train"])
    for method in methods:
        with multiprocessing.get_context(method).Pool(1) as pool:
            pid, x, (y,) = pool.apply_async(rows_in_child, (tensors, [11, 0, 1500])).get(timeout=120)
        assert pid != os.getpid()
        np.testing.assert_array_equal(np.asarray(x, dtype=np.float32), dataset.X_train[[11, 0, 1500]])
        assert y == [11, 0, 1500]


def test_tensors_of_different_lengths_are_refused(dataset: VersionedDataset) -> None:
    with pytest.raises(TensorLengthMismatchError, match=r"X_train has 2000, y_test has 500"):
        LazyTensors(dataset, ["X_train", "y_test"])
    with pytest.raises(TensorLengthMismatchError, match=r"'scale' .* is a scalar"):
        LazyTensors(dataset, ["scale"])
    with pytest.raises(KeyError, match="no tensor 'X_nope'"):
        LazyTensors(dataset, ["X_train", "X_nope"])
    with pytest.raises(TypeError, match="at least one tensor"):
        LazyTensors(dataset, [])


def test_storage_options_travel_with_the_tensors(s3_bucket: str, s3_server: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "note.txt").write_text("x\n")
    options = {"endpoint_url": s3_server}
    path = VersionedDatasetBuilder(str(raw), RowsProcessor()).publish(
        f"{s3_bucket}/datasets", "v1", storage_options=options
    )
    dataset = VersionedDataset(path, storage_options=options)
    assert dataset.storage_options == options
    tensors = pickle.loads(pickle.dumps(LazyTensors(dataset, ["y_train"])))
    assert tensors.storage_options == options
    np.testing.assert_array_equal(tensors.rows([4, 2])[0], [4, 2])


class RowsAdapterPlugin:
    """An in-test plugin: a 'framework' whose dataset is a list of row tuples."""

    @hookimpl
    def mlops_register_dataset_adapters(self, register: Any) -> None:
        register("rows", lambda dataset, names, /, **options: [LazyTensors(dataset, names), options])


def test_a_plugin_adapter_is_found_by_framework_name(dataset: VersionedDataset) -> None:
    pm = plugins.get_plugin_manager()
    plugin = RowsAdapterPlugin()
    pm.register(plugin)
    try:
        tensors, options = plugins.dataset_adapter("rows")(dataset, ("X_test", "y_test"), batch=3)
        assert isinstance(tensors, LazyTensors) and len(tensors) == ROWS // 4 and options == {"batch": 3}
        assert "rows" in plugins.dataset_adapters()
    finally:
        pm.unregister(plugin)
    with pytest.raises(DatasetAdapterNotInstalledError, match="install a plugin that registers a 'rows'"):
        plugins.dataset_adapter("rows")


def _first_adapter(dataset: VersionedDataset, names: tuple[str, ...], /) -> str:
    return "first"


def _second_adapter(dataset: VersionedDataset, names: tuple[str, ...], /) -> str:
    return "second"


def test_a_second_adapter_for_one_framework_is_skipped_with_a_warning() -> None:
    class First:
        @hookimpl
        def mlops_register_dataset_adapters(self, register: Any) -> None:
            register("twice", _first_adapter)

    class Second:
        @hookimpl
        def mlops_register_dataset_adapters(self, register: Any) -> None:
            register("twice", _second_adapter)

    pm = plugins.get_plugin_manager()
    first, second = First(), Second()
    pm.register(first)
    pm.register(second)
    try:
        with pytest.warns(plugins.PluginLoadWarning, match="two plugins register a dataset adapter for 'twice'"):
            adapter = plugins.dataset_adapters()["twice"]
        assert adapter in (_first_adapter, _second_adapter)
    finally:
        pm.unregister(first)
        pm.unregister(second)


def test_a_bad_registration_is_a_plugin_error() -> None:
    class Bad:
        @hookimpl
        def mlops_register_dataset_adapters(self, register: Any) -> None:
            register("bad", "not callable")

    pm = plugins.get_plugin_manager()
    bad = Bad()
    pm.register(bad)
    try:
        with pytest.raises(PluginError, match="expected a framework name and a callable adapter"):
            plugins.dataset_adapters()
    finally:
        pm.unregister(bad)


@pytest.mark.parametrize("store", ["local"], indirect=True)
@pytest.mark.parametrize("method, extra", [("torch_dataset", "torch"), ("keras_dataset", "keras")])
def test_a_missing_framework_plugin_names_the_pip_command(
    dataset: VersionedDataset, monkeypatch: pytest.MonkeyPatch, method: str, extra: str
) -> None:
    monkeypatch.setenv("MLOPS_LOAD_PLUGINS", "")  # as if no plugin were installed
    plugins.reset_plugin_manager()
    with pytest.raises(DatasetAdapterNotInstalledError, match=f"hands datasets to {extra}") as caught:
        getattr(dataset, method)("X_train", "y_train")
    assert isinstance(caught.value, ImportError)
    assert_install_hint(str(caught.value), extra)


def test_listing_dataset_adapters_imports_no_framework() -> None:
    code = (
        "import os; os.environ.pop('MLOPS_LOAD_PLUGINS', None)\n"
        "import sys\n"
        "from mlops import plugins\n"
        "names = sorted(plugins.dataset_adapters())\n"
        "print(names, [m for m in ('torch', 'keras', 'tensorflow', 'jax') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['keras', 'torch'] []", out
