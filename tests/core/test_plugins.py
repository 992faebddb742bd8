"""The plugin system: lazy entry-point loading, survival of broken plugins, the typed façade, and
the three hook families (serializers, stores, processors)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from install_hints import assert_install_hint

from mlops import errors, hookimpl
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.serializer import ModelSerializer, mro_modules
from mlops.plugins import manager as plugins
from mlops.store import FsspecStore, Location, resolve
from sample_processors import CsvProcessor

FRAMEWORKS = (
    *("tensorflow", "keras", "torch", "sklearn", "jax", "h5py", "safetensors"),
    *("xgboost", "lightgbm", "onnx", "onnxruntime"),
)


def test_import_mlops_imports_no_ml_framework() -> None:
    code = (
        "import os; os.environ.pop('MLOPS_LOAD_PLUGINS', None)\n"
        "import sys, mlops\n"
        "from mlops import *\n"
        "from mlops import plugins\n"
        "names = sorted(plugins.serializers())\n"  # loading every installed plugin must not import them either
        f"print(names, [m for m in {FRAMEWORKS!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]"), out


class ListModel:
    """A framework-free 'model': predictions are a fixed affine map."""

    def __init__(self, weights: list[float]) -> None:
        self.weights = weights


class ListSerializer(ModelSerializer):
    name = "list-model"

    def can_save(self, model: Any) -> bool:
        return isinstance(model, ListModel)

    def save(self, model: Any, directory: str) -> None:
        np.save(f"{directory}/weights.npy", np.asarray(model.weights))

    def load(self, directory: str) -> Any:
        return ListModel(np.load(f"{directory}/weights.npy").tolist())

    def predict(self, model: Any, features: Any) -> np.ndarray:
        return np.asarray(features) @ np.asarray(model.weights)


class ListPlugin:
    @hookimpl
    def mlops_register_serializers(self, register: Any) -> None:
        register(ListSerializer())


def test_in_test_plugin_registers_and_unregisters() -> None:
    pm = plugins.get_plugin_manager()
    plugin = ListPlugin()
    pm.register(plugin)
    try:
        assert isinstance(plugins.serializers()["list-model"], ListSerializer)
        assert plugins.serializer_for(ListModel([1.0])).name == "list-model"
    finally:
        pm.unregister(plugin)
    assert "list-model" not in plugins.serializers()


def test_no_serializer_error_lists_installed_and_how_to_add_one() -> None:
    with pytest.raises(errors.NoSerializerError) as info:
        plugins.serializer_for(object())
    assert "installed:" in str(info.value) and "builtins.object" in str(info.value)
    assert_install_hint(str(info.value), "keras")  # the example; every plugin extra is named
    assert "extras: keras, torch, sklearn, xgboost, lightgbm, onnx" in str(info.value)


def test_missing_serializer_names_the_exact_install_command() -> None:
    with pytest.raises(errors.SerializerNotInstalledError) as caught:
        plugins.serializer_named("not-installed-torch", "mlops-torch")
    assert_install_hint(str(caught.value), "torch")
    with pytest.raises(errors.SerializerNotInstalledError, match=r'pip install "acme-mlops-xgb"'):
        plugins.serializer_named("xgb", "acme-mlops-xgb")


def test_plugin_registering_a_wrong_object_is_reported() -> None:
    class Bad:
        @hookimpl
        def mlops_register_serializers(self, register: Any) -> None:
            register("not a serializer")

    pm = plugins.get_plugin_manager()
    bad = Bad()
    pm.register(bad)
    try:
        with pytest.raises(errors.PluginError, match="expected a ModelSerializer"):
            plugins.serializers()
    finally:
        pm.unregister(bad)


def test_a_store_plugin_missing_a_primitive_is_refused_when_registered() -> None:
    """A plugin store that lacks a method every store must have is refused before any use, with
    the names of what it lacks; nothing was written with it."""
    from mlops import Store

    class NoWrites(Store):
        schemes = ("nowrites",)

        @classmethod
        def locate(cls, url: str, storage_options: Any) -> Location:
            return Location(cls(), url, url)

    class Plugin:
        @hookimpl
        def mlops_register_stores(self, register: Any) -> None:
            register(NoWrites)

    pm = plugins.get_plugin_manager()
    plugin = Plugin()
    pm.register(plugin)
    try:
        with pytest.raises(errors.PluginError, match=r"NoWrites does not implement create_exclusive, delete_files"):
            resolve("nowrites://bucket/v1")
    finally:
        pm.unregister(plugin)


def test_broken_entry_point_warns_and_the_rest_still_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_LOAD_PLUGINS", raising=False)
    real = list(importlib_metadata.entry_points(group="mlops"))
    broken = importlib_metadata.EntryPoint(name="broken", value="mlops_no_such_module_xyz", group="mlops")
    monkeypatch.setattr(plugins.importlib_metadata, "entry_points", lambda group: [broken, *real])
    plugins.reset_plugin_manager()
    with pytest.warns(plugins.PluginLoadWarning, match="'broken'.*skipped"):
        pm = plugins.get_plugin_manager()
    assert not pm.has_plugin("broken")
    for ep in real:
        assert pm.has_plugin(ep.name)


def test_entry_points_load_lazily_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = importlib_metadata.entry_points
    monkeypatch.setattr(
        plugins.importlib_metadata, "entry_points", lambda group: calls.append(group) or real(group=group)
    )
    plugins.reset_plugin_manager()
    assert calls == []  # nothing is loaded before first use
    plugins.serializers()
    plugins.serializers()
    plugins.store_class_for("file")
    assert calls == ["mlops"]


def test_mlops_load_plugins_restricts_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_LOAD_PLUGINS", "")
    plugins.reset_plugin_manager()
    assert [name for name, _ in plugins.get_plugin_manager().list_name_plugin()] == ["mlops.builtin"]


class RecordingStore(FsspecStore):
    """Wraps the fsspec store for memory:// URLs and records every operation it serves."""

    schemes = ("memory",)
    created: list[str] = []
    calls: list[str] = []

    def create_exclusive(self, loc: Location, data: bytes) -> None:
        self.created.append(loc.name)
        super().create_exclusive(loc, data)

    def list_dir(self, loc: Location) -> Any:
        self.calls.append("list_dir")
        return super().list_dir(loc)

    def replace_file(self, loc: Location, data: bytes) -> None:
        self.calls.append("replace_file")
        super().replace_file(loc, data)


class RecordingPlugin:
    @hookimpl
    def mlops_register_stores(self, register: Any) -> None:
        register(RecordingStore)


@pytest.fixture
def recording_store() -> Any:
    pm = plugins.get_plugin_manager()
    plugin = RecordingPlugin()
    pm.register(plugin)
    RecordingStore.created, RecordingStore.calls = [], []
    try:
        yield RecordingStore
    finally:
        pm.unregister(plugin)


def test_store_plugin_claims_a_scheme(raw_dir: str, tmp_path: Path, recording_store: Any) -> None:
    assert plugins.store_class_for("memory") is RecordingStore
    assert type(resolve("memory://recorded").store) is RecordingStore
    assert plugins.store_class_for("file") is None
    VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish("memory://recorded", "v1")
    VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "local"), "v1")
    assert recording_store.created == [".mlops-publishing", "meta.json"]  # the local publish did not use it


def test_a_store_plugin_serves_every_command(raw_dir: str, recording_store: Any) -> None:
    """Listing, tagging and cleaning go through the plugin's store too (nothing bypasses it)."""
    from mlops import list_versions, remove_incomplete, update_tags
    from mlops.cli import main

    VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish("memory://served", "v1")
    assert [v.version for v in list_versions("memory://served")] == ["v1"]
    update_tags("memory://served/v1", add=["checked"])
    assert remove_incomplete("memory://served") == []
    with pytest.raises(SystemExit) as exit_info:
        main(["ls", "memory://served"])
    assert exit_info.value.code == 0
    assert recording_store.calls.count("list_dir") >= 3 and "replace_file" in recording_store.calls


def test_a_misspelled_hook_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "misspelled_plugin.py").write_text(
        "from mlops import hookimpl\n\n"
        "@hookimpl\n"
        "def mlops_register_serialisers(register):\n"
        "    raise AssertionError('never called')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real = importlib_metadata.entry_points
    fake = importlib_metadata.EntryPoint(name="misspelled", value="misspelled_plugin", group="mlops")
    monkeypatch.setattr(plugins.importlib_metadata, "entry_points", lambda group: [*real(group=group), fake])
    plugins.reset_plugin_manager()
    with pytest.warns(plugins.PluginLoadWarning, match="'mlops_register_serialisers'.*'mlops_register_serializers'"):
        plugins.serializers()


class ReadyMadeProcessor(DataProcessor):
    def get_raw_features_and_labels(self, dataset_path: str) -> Any:
        return {"X": np.ones(1)}, {}

    def get_raw_features(self, dataset_path: str) -> Any:
        return {"X": np.ones(1)}

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return raw_label_tensor


def test_processor_plugins_contribute_and_take_part_in_persisting(raw_dir: str, tmp_path: Path) -> None:
    seen: list[Any] = []

    class Plugin:
        @hookimpl
        def mlops_register_processors(self, register: Any) -> None:
            register(ReadyMadeProcessor)

        @hookimpl
        def mlops_pickle_by_value(self, processor: Any) -> list[str]:
            seen.append(processor)
            return ["json"]  # a plugin may ask for any imported module to travel by value

    pm = plugins.get_plugin_manager()
    plugin = Plugin()
    pm.register(plugin)
    try:
        assert plugins.processors()[f"{__name__}.ReadyMadeProcessor"] is ReadyMadeProcessor
        processor = CsvProcessor()
        assert plugins.by_value_modules(processor) == {"sample_processors", "json"}
        path = VersionedDatasetBuilder(raw_dir, processor).publish(str(tmp_path / "ds"), "v1")
    finally:
        pm.unregister(plugin)
    assert seen == [processor, processor]  # asked once above, once by publish
    assert isinstance(VersionedDataset(path).data_processor, CsvProcessor)


def test_mro_modules_names_frameworks_without_importing_them() -> None:
    assert mro_modules(ListModel([1.0])) == {__name__.split(".")[0], "builtins"}
    assert mro_modules(np.zeros(1)) == {"numpy", "builtins"}


def test_plugin_warnings_do_not_break_publication(raw_dir: str, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v1")
