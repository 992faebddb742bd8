"""scikit-learn models published and loaded back through mlops, on local disk, memory:// and S3.

The user flow under test: publish a dataset, train on ``dataset.X_train``, publish the model without
naming a framework, and get identical predictions from ``VersionedModel(path)`` — in this process
and in a fresh one that knows nothing but the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from format_checks import manifest_of
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.plugins import manager as plugins
from mlops_sklearn.serializer import MODEL_FILE, SklearnSerializer

DATA_FILE = "data.csv"
LOADERS: dict[str, Callable[..., Any]] = {"wine": load_wine, "breast_cancer": load_breast_cancer}


class CsvClassificationProcessor(DataProcessor):
    """Reads ``data.csv`` (features, then the class label, per row); every 4th row is test data."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rows = np.loadtxt(os.path.join(dataset_path, DATA_FILE), delimiter=",", ndmin=2)
        test = np.arange(len(rows)) % 4 == 0
        x, y = rows[:, :-1], rows[:, -1]
        return {"X_train": x[~test], "X_test": x[test]}, {"y_train": y[~test], "y_test": y[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        rows = np.loadtxt(os.path.join(dataset_path, DATA_FILE), delimiter=",", ndmin=2)
        return {"X_pred": rows[:, :-1]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor.astype(np.float64)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor.astype(np.int64)


def _make_model(kind: str) -> Any:
    """A small, deterministic estimator of each kind the plugin must handle."""
    if kind == "logistic_regression":
        return LogisticRegression(solver="newton-cholesky")  # converges in a few steps on unscaled data
    if kind == "random_forest":
        return RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0)
    if kind == "pipeline_svc":
        return Pipeline([("scale", StandardScaler()), ("svc", SVC(C=1.0))])
    raise ValueError(kind)


MODELS = {"logistic_regression": "wine", "random_forest": "wine", "pipeline_svc": "breast_cancer"}
"""Model kind -> the bundled scikit-learn dataset it is trained on."""


@pytest.fixture(scope="module")
def raw_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Raw datasets on local disk: scikit-learn's bundled wine and breast cancer data as CSV."""
    dirs = {}
    for name, loader in LOADERS.items():
        folder = tmp_path_factory.mktemp(f"raw-{name}")
        x, y = loader(return_X_y=True)
        np.savetxt(folder / DATA_FILE, np.column_stack([x, y]), delimiter=",", fmt="%.10g")
        dirs[name] = str(folder)
    return dirs


@pytest.fixture(scope="module")
def trained(raw_dirs: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each model kind fitted once on ``X_train`` of its dataset, published locally and loaded back."""
    root = str(tmp_path_factory.mktemp("train-datasets"))
    datasets = {
        name: VersionedDataset(VersionedDatasetBuilder(raw, CsvClassificationProcessor()).publish(root, name))
        for name, raw in raw_dirs.items()
    }
    models = {}
    for kind, data in MODELS.items():
        models[kind] = _make_model(kind).fit(datasets[data].X_train, datasets[data].y_train)
    return models


def _publish_dataset(store: str, raw_dir: str) -> VersionedDataset:
    return VersionedDataset(
        VersionedDatasetBuilder(raw_dir, CsvClassificationProcessor()).publish(f"{store}/datasets", "v1")
    )


def _publish_model(store: str, dataset: VersionedDataset, model: Any, kind: str) -> str:
    config = TrainingConfig(None, {"kind": kind, "random_state": 0})
    return VersionedModelBuilder(dataset, model, config).publish(f"{store}/models", tags=["sklearn", kind])


def _read_bytes(url: str) -> bytes:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    with fs.open(path, "rb") as f:
        return bytes(f.read())


@pytest.mark.parametrize("kind", list(MODELS))
def test_publish_and_load_gives_identical_predictions(
    store: str, kind: str, raw_dirs: dict[str, str], trained: dict[str, Any]
) -> None:
    raw_dir = raw_dirs[MODELS[kind]]
    dataset = _publish_dataset(store, raw_dir)
    model = trained[kind]

    path = _publish_model(store, dataset, model, kind)
    loaded = VersionedModel(path)

    assert loaded.serializer_name == "sklearn"
    assert type(loaded.model) is type(model)
    assert loaded.model.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    expected = model.predict(dataset.X_test)
    np.testing.assert_array_equal(loaded.predict(dataset.X_test), expected)
    np.testing.assert_array_equal(loaded.model.predict(dataset.X_test), expected)
    # new data through the dataset's own processor, passed as the dict it returns
    new_features = dataset.data_processor.get_preprocessed_features(raw_dir)
    np.testing.assert_array_equal(loaded.predict(new_features), model.predict(new_features["X_pred"]))
    assert loaded.tags == ["sklearn", kind]
    assert loaded.train_args == {"kind": kind, "random_state": 0}


def test_meta_json_records_the_serializer_and_its_versions(
    store: str, raw_dirs: dict[str, str], trained: dict[str, Any]
) -> None:
    dataset = _publish_dataset(store, raw_dirs["wine"])
    path = _publish_model(store, dataset, trained["random_forest"], "random_forest")

    meta = json.loads(_read_bytes(f"{path}/meta.json"))

    assert meta["kind"] == "model"
    assert meta["serializer"] == {"name": "sklearn", "distribution": "mlops-sklearn", "distribution_version": "0.1.0"}
    framework = meta["framework"]
    assert framework["scikit-learn"] == sklearn.__version__
    assert framework["joblib"] == joblib.__version__
    assert framework["numpy"] == np.__version__
    assert "scipy" in framework
    assert list(manifest_of(path)) == [MODEL_FILE]
    environment = ["environment/pylock.toml", "environment/python.json"]
    assert list(manifest_of(path, environment=True)) == [*environment, MODEL_FILE]
    stored = _read_bytes(f"{path}/{MODEL_FILE}")
    assert manifest_of(path)[MODEL_FILE] == {"sha256": hashlib.sha256(stored).hexdigest(), "size": len(stored)}


def test_model_links_back_to_its_dataset(store: str, raw_dirs: dict[str, str], trained: dict[str, Any]) -> None:
    dataset = _publish_dataset(store, raw_dirs["breast_cancer"])
    path = _publish_model(store, dataset, trained["pipeline_svc"], "pipeline_svc")

    loaded = VersionedModel(path)

    assert loaded.dataset_path == dataset.path
    assert loaded.dataset_hash == dataset.hash
    assert loaded.dataset_version == "v1"
    assert loaded.dataset == dataset
    np.testing.assert_array_equal(
        loaded.predict(loaded.dataset.X_test), trained["pipeline_svc"].predict(dataset.X_test)
    )


@pytest.mark.parametrize("store", ["local", "s3"], indirect=True)  # memory:// does not outlive this process
def test_fresh_process_loads_the_model_by_path_alone(
    store: str, raw_dirs: dict[str, str], trained: dict[str, Any], tmp_path: Path
) -> None:
    dataset = _publish_dataset(store, raw_dirs["breast_cancer"])
    model = trained["pipeline_svc"]
    path = _publish_model(store, dataset, model, "pipeline_svc")
    np.save(tmp_path / "features.npy", dataset.X_test)

    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from mlops.model.versioned_model import VersionedModel

        model = VersionedModel(sys.argv[1])
        np.save(sys.argv[3], model.predict(np.load(sys.argv[2])))
        print(type(model.model).__module__, type(model.model).__name__)
        """
    )
    out = tmp_path / "predictions.npy"
    result = subprocess.run(
        [sys.executable, "-c", script, path, str(tmp_path / "features.npy"), str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sklearn.pipeline", "Pipeline"]
    np.testing.assert_array_equal(np.load(out), model.predict(dataset.X_test))


def test_can_save_recognises_estimators(trained: dict[str, Any]) -> None:
    serializer = SklearnSerializer()

    for model in trained.values():
        assert serializer.can_save(model)
    assert serializer.can_save(LogisticRegression())  # unfitted estimators too
    assert not serializer.can_save(LogisticRegression)  # a class is not a model
    for kind in MODELS:
        assert plugins.serializer_for(trained[kind]).name == "sklearn"


class DuckTypedEstimator:
    """Follows the scikit-learn estimator API without inheriting from scikit-learn."""

    def __init__(self, offset: float = 1.0) -> None:
        self.offset = offset

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"offset": self.offset}

    def fit(self, x: np.ndarray, y: np.ndarray) -> DuckTypedEstimator:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.mean_ + self.offset)


def test_duck_typed_estimator_round_trips(tmp_path: Path) -> None:
    serializer = SklearnSerializer()
    model = DuckTypedEstimator(0.5).fit(np.zeros((4, 2)), np.arange(4.0))

    assert serializer.can_save(model)
    serializer.save(model, str(tmp_path))
    assert os.listdir(tmp_path) == [MODEL_FILE]
    loaded = serializer.load(str(tmp_path))
    np.testing.assert_array_equal(serializer.predict(loaded, np.zeros((3, 2))), model.predict(np.zeros((3, 2))))


def test_can_save_is_false_for_foreign_objects_without_importing_sklearn(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from unittest import mock
        import numpy as np
        from mlops.plugins import manager as plugins
        from mlops_sklearn.serializer import SklearnSerializer

        class FitOnly:
            def fit(self, x, y):
                return self

        class Params:
            def get_params(self, deep=True):
                return {}

        serializer = plugins.serializers()["sklearn"]
        assert isinstance(serializer, SklearnSerializer)
        foreign = [object(), np.zeros(3), {"fit": 1}, [1, 2], "model", None, FitOnly(), Params(),
                   SklearnSerializer(), SklearnSerializer, mock.MagicMock()]
        answers = [serializer.can_save(obj) for obj in foreign]
        heavy = sorted(m for m in ("sklearn", "joblib", "scipy") if m in sys.modules)
        print(answers, heavy)
        """
    )
    env = dict(os.environ, MLOPS_LOAD_PLUGINS="sklearn")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{[False] * 11} []"
