"""Shared checks for the plugins that store models in a library's own format (XGBoost, LightGBM,
ONNX): publish a dataset and models, predict in a fresh process that imports no framework itself,
prove that no stored file is a pickle, and read what ``mlops plugins`` reports.

This is also the one place the tests of these plugins read meta.json fields (``published_meta``).
"""

from __future__ import annotations

import json
import os
import pickletools
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model_builder import VersionedModelBuilder

FRAMEWORKS = ("xgboost", "lightgbm", "onnx", "onnxruntime", "sklearn", "torch", "tensorflow", "keras")
"""Modules that a process which only loads models by path must not have imported by itself."""

DATA_FILE = "data.csv"


class TabularProcessor(DataProcessor):
    """Reads ``data.csv`` (features, then an integer label, per row); every 4th row is test data."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rows = np.loadtxt(os.path.join(dataset_path, DATA_FILE), delimiter=",", ndmin=2)
        test = np.arange(len(rows)) % 4 == 0
        x, y = rows[:, :-1].astype(np.float32), rows[:, -1].astype(np.int64)
        return {"X_train": x[~test], "X_test": x[test]}, {"y_train": y[~test], "y_test": y[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        rows = np.loadtxt(os.path.join(dataset_path, DATA_FILE), delimiter=",", ndmin=2)
        return {"X_pred": rows[:, :-1].astype(np.float32)}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor


def write_wine(folder: str | os.PathLike[str]) -> str:
    """scikit-learn's bundled wine data (13 measurements, 3 cultivars) as ``folder/data.csv``."""
    from sklearn.datasets import load_wine

    os.makedirs(folder, exist_ok=True)
    x, y = load_wine(return_X_y=True)
    np.savetxt(os.path.join(folder, DATA_FILE), np.column_stack([x, y]), delimiter=",", fmt="%.10g")
    return os.fspath(folder)


def publish_dataset(raw: str, root: str) -> VersionedDataset:
    return VersionedDataset(VersionedDatasetBuilder(raw, TabularProcessor()).publish(f"{root}/datasets", "v1"))


def publish_model(root: str, dataset: VersionedDataset, model: Any, tag: str) -> str:
    config = TrainingConfig(None, {"kind": tag})
    return VersionedModelBuilder(dataset, model, config).publish(f"{root}/models", tags=[tag])


def published_meta(path: str) -> dict[str, Any]:
    """The version's meta.json (the one place these tests read its fields)."""
    fs, folder = fsspec.url_to_fs(path)
    fs.invalidate_cache()
    with fs.open(f"{folder}/meta.json", "rb") as f:
        meta: dict[str, Any] = json.load(f)
    return meta


def stored_files(path: str) -> dict[str, bytes]:
    """Every file of a published version, by path relative to it (meta.json included)."""
    fs, folder = fsspec.url_to_fs(path)
    fs.invalidate_cache()
    files = {}
    for name in fs.find(folder):
        with fs.open(name, "rb") as f:
            files[name[len(folder.rstrip("/")) + 1 :]] = bytes(f.read())
    return files


def is_pickle(data: bytes) -> bool:
    """Whether ``data`` is a pickle stream: protocols 2 and up start with the PROTO opcode (joblib
    files too, whose array bytes follow); older protocols are recognised by parsing up to STOP."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    try:
        for opcode, _, _ in pickletools.genops(data):
            if opcode.name == "STOP":
                return True
    except Exception:  # noqa: BLE001 - any parse failure means: not a pickle
        return False
    return False


def assert_no_pickle(path: str) -> list[str]:
    """Assert no file of the version at ``path`` is a pickle; return the file names (the publishing
    environment's, ``environment/``, in every version, left out)."""
    files = stored_files(path)
    pickled = [name for name, data in files.items() if is_pickle(data)]
    assert not pickled, f"pickles in {path}: {pickled}"
    return sorted(name for name in files if not name.startswith("environment/"))


def predict_in_fresh_process(paths: Sequence[str], features: np.ndarray, tmp: Path) -> list[tuple[str, np.ndarray]]:
    """Each model at ``paths`` loaded and run on ``features`` by a new Python process that imports
    only mlops and numpy (it checks that no framework was imported before the first load); returns
    ``(serializer name, predictions)`` per model."""
    np.save(tmp / "features.npy", features)
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        from mlops import VersionedModel
        from mlops.plugins import manager as plugins

        plugins.serializers()  # every plugin loaded: still no framework imported
        early = sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)
        assert not early, f"imported before any model was loaded: {{early}}"
        features = np.load(sys.argv[1])
        names = []
        for i, path in enumerate(sys.argv[3:]):
            model = VersionedModel(path)
            np.save(f"{{sys.argv[2]}}/predictions-{{i}}.npy", model.predict(features), allow_pickle=False)
            names.append(model.serializer_name)
        print(json.dumps(names))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp / "features.npy"), str(tmp), *paths],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    names = json.loads(result.stdout.strip().splitlines()[-1])
    return [(name, np.load(tmp / f"predictions-{i}.npy")) for i, name in enumerate(names)]


def plugins_listing() -> dict[str, Any]:
    """What ``mlops plugins --json`` reports, run as the installed command in a new process."""
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "plugins", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    listing: dict[str, Any] = json.loads(result.stdout)
    return listing


def plugins_table() -> str:
    """The text table of ``mlops plugins``."""
    result = subprocess.run([sys.executable, "-m", "mlops", "plugins"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def load_without_plugin(path: str, allowed: str) -> str:
    """stderr of a new process that loads ``path`` with only the plugins in ``allowed``."""
    script = "import sys; from mlops import VersionedModel; VersionedModel(sys.argv[1]).model"
    env = {**os.environ, "MLOPS_LOAD_PLUGINS": allowed}
    result = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode != 0, result.stdout
    return result.stderr
