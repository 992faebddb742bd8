"""A third-party serializer plugin, written and pip-installed the way an outside author would.

The tests write a one-module distribution (a pure-numpy linear model and a serializer that stores
its weights as ``weights.npy``) with its own ``[project.entry-points.mlops]``, install it with pip
into a temporary ``--target`` folder (never into the running venv), and put that folder on
``sys.path``. mlops must then find it through its entry point, pick it for the model by
``can_save`` alone, and publish and load with it; without it, loading must say what to install.
A second distribution whose module fails to import must be skipped with a warning.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata as importlib_metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import fsspec
import numpy as np
import pytest

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import SerializerNotInstalledError
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.plugins import manager as plugins
from mlops.plugins.manager import PluginLoadWarning

PLUGIN_DIST = "mlops-tiny-linear"
PLUGIN_MODULE = "mlops_tiny_linear"
PLUGIN_ENTRY_POINT = "tiny_linear"
PLUGIN_VERSION = "1.2.3"
BROKEN_DIST = "mlops-broken-plugin"
BROKEN_MODULE = "mlops_broken_plugin"
BROKEN_ENTRY_POINT = "broken_plugin"

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"
dependencies = ["mlops-core", "numpy"]

[project.entry-points.mlops]
{entry_point} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
"""

PLUGIN_SOURCE = '''\
"""A linear model in pure numpy, and the mlops serializer that stores it as weights.npy."""

import os

import numpy as np

from mlops import hookimpl
from mlops.model.serializer import ModelSerializer, mro_modules

WEIGHTS_FILE = "weights.npy"


class LinearModel:
    """predict(x) = x @ weights; fit solves least squares."""

    def __init__(self, weights=None):
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)

    def fit(self, features, targets):
        self.weights = np.linalg.lstsq(features, targets, rcond=None)[0]
        return self

    def predict(self, features):
        return np.asarray(features, dtype=np.float64) @ self.weights


class TinyLinearSerializer(ModelSerializer):
    name = "tiny-linear"
    pickles_code = False

    def can_save(self, model):
        return "mlops_tiny_linear" in mro_modules(model)

    def save(self, model, directory):
        np.save(os.path.join(directory, WEIGHTS_FILE), model.weights, allow_pickle=False)

    def load(self, directory):
        return LinearModel(np.load(os.path.join(directory, WEIGHTS_FILE), allow_pickle=False))

    def predict(self, model, features):
        return np.asarray(model.predict(features))

    def framework_versions(self):
        return {"numpy": np.__version__}


@hookimpl
def mlops_register_serializers(register):
    register(TinyLinearSerializer())
'''

BROKEN_SOURCE = '''\
"""A plugin whose dependency is missing: importing it raises ImportError."""

import mlops_dependency_that_is_not_installed  # noqa: F401
'''


def _write_distribution(folder: Path, dist: str, module: str, entry_point: str, source: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        PYPROJECT.format(dist=dist, version=PLUGIN_VERSION, entry_point=entry_point, module=module)
    )
    (folder / f"{module}.py").write_text(source)
    return folder


def _pip_install(pkg_dir: Path, target: Path) -> Path:
    """Install ``pkg_dir`` into the folder ``target`` (not into the venv), offline."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
            str(target),
            str(pkg_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both distributions, each pip-installed once into its own target folder."""
    src = tmp_path_factory.mktemp("plugin-src")
    good = _write_distribution(src / "good", PLUGIN_DIST, PLUGIN_MODULE, PLUGIN_ENTRY_POINT, PLUGIN_SOURCE)
    broken = _write_distribution(src / "broken", BROKEN_DIST, BROKEN_MODULE, BROKEN_ENTRY_POINT, BROKEN_SOURCE)
    return {
        "good": _pip_install(good, tmp_path_factory.mktemp("target-good")),
        "broken": _pip_install(broken, tmp_path_factory.mktemp("target-broken")),
    }


@pytest.fixture
def allow_test_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """If MLOPS_LOAD_PLUGINS restricts loading (while developing), let this file's plugins through."""
    allowed = os.environ.get("MLOPS_LOAD_PLUGINS")
    if allowed is not None:
        monkeypatch.setenv("MLOPS_LOAD_PLUGINS", ",".join([allowed, PLUGIN_ENTRY_POINT, BROKEN_ENTRY_POINT]))


@contextlib.contextmanager
def _discoverable(*paths: Path) -> Iterator[None]:
    """Put install targets first on sys.path for the duration of a test, then remove every trace."""
    added = [str(p) for p in paths]
    for path in reversed(added):
        sys.path.insert(0, path)
    importlib.invalidate_caches()
    plugins.reset_plugin_manager()
    try:
        yield
    finally:
        for path in added:
            sys.path.remove(path)
        for name in (PLUGIN_MODULE, BROKEN_MODULE):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        plugins.reset_plugin_manager()


@pytest.fixture
def tiny_plugin(targets: dict[str, Path], allow_test_plugins: None) -> Iterator[ModuleType]:
    """The good plugin installed and discoverable; yields its module (to build models with)."""
    with _discoverable(targets["good"]):
        yield importlib.import_module(PLUGIN_MODULE)


class LinearDataProcessor(DataProcessor):
    """Reads ``data.npz`` (``x``, ``y``); the last quarter of the rows is test data."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        with np.load(os.path.join(dataset_path, "data.npz")) as data:
            x, y = data["x"], data["y"]
        cut = len(x) * 3 // 4
        return {"X_train": x[:cut], "X_test": x[cut:]}, {"y_train": y[:cut], "y_test": y[cut:]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        with np.load(os.path.join(dataset_path, "data.npz")) as data:
            return {"X_pred": data["x"]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor.astype(np.float64)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor.astype(np.float64)


def _publish_dataset(root: str, tmp_path: Path) -> VersionedDataset:
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 3))
    np.savez(raw / "data.npz", x=x, y=x @ np.array([1.5, -2.0, 0.25]) + rng.normal(scale=0.01, size=40))
    return VersionedDataset(VersionedDatasetBuilder(str(raw), LinearDataProcessor()).publish(f"{root}/datasets", "v1"))


def _publish_linear_model(module: ModuleType, root: str, tmp_path: Path) -> tuple[str, Any, VersionedDataset]:
    """Fit the plugin's LinearModel on a fresh dataset and publish it without naming a serializer."""
    dataset = _publish_dataset(root, tmp_path)
    model = module.LinearModel().fit(dataset.X_train, dataset.y_train)
    path = VersionedModelBuilder(dataset, model, TrainingConfig(None, {"solver": "lstsq"})).publish(f"{root}/models")
    return path, model, dataset


def _run(script: str, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _loadable_entry_points() -> set[str]:
    """Names of the installed ``mlops`` entry points that MLOPS_LOAD_PLUGINS lets load."""
    names = {ep.name for ep in importlib_metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)}
    allowed = os.environ.get("MLOPS_LOAD_PLUGINS")
    return names if allowed is None else names & {n.strip() for n in allowed.split(",")}


def _env_without_target() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_installed_plugin_is_discovered_through_its_entry_point(tiny_plugin: ModuleType) -> None:
    found = plugins.serializers()

    assert "tiny-linear" in found
    assert type(found["tiny-linear"]).__module__ == PLUGIN_MODULE
    model = tiny_plugin.LinearModel(np.ones(3))
    assert plugins.serializer_for(model).name == "tiny-linear"
    assert plugins.distribution_of(found["tiny-linear"]) == PLUGIN_DIST
    # the first-party serializers do not claim the foreign model
    assert [name for name, s in found.items() if s.can_save(model)] == ["tiny-linear"]


def test_publish_and_load_with_the_plugin(tiny_plugin: ModuleType, store: str, tmp_path: Path) -> None:
    path, model, dataset = _publish_linear_model(tiny_plugin, store, tmp_path)

    fs, meta_path = fsspec.url_to_fs(f"{path}/meta.json")
    fs.invalidate_cache()
    meta = json.loads(fs.cat_file(meta_path))
    assert meta["serializer"] == {
        "name": "tiny-linear",
        "distribution": PLUGIN_DIST,
        "distribution_version": PLUGIN_VERSION,
    }
    assert meta["framework"] == {"numpy": np.__version__}
    assert meta["manifest"]["count"] == 3  # the weights, and the environment's pylock.toml and python.json

    loaded = VersionedModel(path)
    assert sorted(loaded.files) == ["environment/pylock.toml", "environment/python.json", "weights.npy"]
    assert loaded.serializer_name == "tiny-linear"
    assert isinstance(loaded.model, tiny_plugin.LinearModel)
    np.testing.assert_array_equal(loaded.model.weights, model.weights)
    np.testing.assert_array_equal(loaded.predict(dataset.X_test), model.predict(dataset.X_test))
    assert loaded.dataset_hash == dataset.hash


PREDICT_SCRIPT = """
import sys
import numpy as np
from mlops.model.versioned_model import VersionedModel

model = VersionedModel(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2])))
print(type(model.model).__module__, type(model.model).__name__)
"""


def test_fresh_process_with_the_target_on_pythonpath_loads_by_path(
    tiny_plugin: ModuleType, targets: dict[str, Path], tmp_path: Path
) -> None:
    path, model, dataset = _publish_linear_model(tiny_plugin, str(tmp_path / "store"), tmp_path)
    np.save(tmp_path / "features.npy", dataset.X_test)
    out = tmp_path / "predictions.npy"

    env = dict(_env_without_target(), PYTHONPATH=str(targets["good"]))
    result = _run(PREDICT_SCRIPT, path, str(tmp_path / "features.npy"), str(out), cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [PLUGIN_MODULE, "LinearModel"]
    np.testing.assert_array_equal(np.load(out), model.predict(dataset.X_test))


def test_loading_without_the_plugin_names_the_distribution_to_install(tiny_plugin: ModuleType, tmp_path: Path) -> None:
    path, _model, _dataset = _publish_linear_model(tiny_plugin, str(tmp_path / "store"), tmp_path)
    script = """
    import json
    import sys
    from mlops.model.versioned_model import VersionedModel

    model = VersionedModel(sys.argv[1])  # opening reads meta.json only: no serializer needed yet
    try:
        model.model
    except Exception as exc:
        print(json.dumps({"type": f"{type(exc).__module__}.{type(exc).__name__}", "message": str(exc)}))
    """

    result = _run(script, path, cwd=tmp_path, env=_env_without_target())

    assert result.returncode == 0, result.stderr
    error = json.loads(result.stdout)
    assert error["type"] == f"{SerializerNotInstalledError.__module__}.{SerializerNotInstalledError.__name__}"
    assert f'pip install "{PLUGIN_DIST}"' in error["message"]
    assert "'tiny-linear'" in error["message"]


def test_loading_in_process_after_the_plugin_is_gone_raises(
    targets: dict[str, Path], allow_test_plugins: None, tmp_path: Path
) -> None:
    with _discoverable(targets["good"]):
        path, _model, dataset = _publish_linear_model(importlib.import_module(PLUGIN_MODULE), str(tmp_path), tmp_path)

    assert "tiny-linear" not in plugins.serializers()
    model = VersionedModel(path)
    with pytest.raises(SerializerNotInstalledError, match=f'pip install "{PLUGIN_DIST}"'):
        model.predict(dataset.X_test)


def test_a_broken_plugin_warns_and_the_others_still_work(
    targets: dict[str, Path], allow_test_plugins: None, tmp_path: Path
) -> None:
    with _discoverable(targets["broken"], targets["good"]):
        with pytest.warns(
            PluginLoadWarning, match=rf"'{BROKEN_ENTRY_POINT}' \(from {BROKEN_DIST}\).*ModuleNotFoundError"
        ):
            found = plugins.serializers()

        registered = {name for name, _plugin in plugins.get_plugin_manager().list_name_plugin()}
        assert BROKEN_ENTRY_POINT not in registered
        assert _loadable_entry_points() - {BROKEN_ENTRY_POINT} <= registered  # every other plugin, ours included
        assert "tiny-linear" in found
        assert BROKEN_MODULE not in sys.modules
        module = importlib.import_module(PLUGIN_MODULE)
        path, model, dataset = _publish_linear_model(module, str(tmp_path / "store"), tmp_path)
        np.testing.assert_array_equal(VersionedModel(path).predict(dataset.X_test), model.predict(dataset.X_test))

    assert str(targets["broken"]) not in sys.path
    assert str(targets["good"]) not in sys.path
