"""scikit-learn models survive their code: the user's transformer classes and functions are stored by
value in model.joblib (as processors are), so a model loads in a fresh process after the module that
defined them is deleted, while joblib keeps large arrays out of the pickle stream."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import ModelCodeMissingError, PythonVersionMismatchError
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops_sklearn.serializer import MODEL_FILE, SklearnSerializer

USER_MODULE = "user_transformers"
USER_CODE = '''
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

CLIP = 3.0


def _squash(x):
    return np.tanh(x / CLIP) * CLIP


def signed_log(x):
    """A FunctionTransformer function: log1p of the magnitude, keeping the sign."""
    return np.sign(x) * np.log1p(np.abs(x))


class ClipScale(BaseEstimator, TransformerMixin):
    """Centres and scales each column, then squashes outliers (a module-level helper)."""

    def __init__(self, padding=0):
        self.padding = padding

    def fit(self, X, y=None):
        self.center_ = np.median(X, axis=0)
        self.scale_ = X.std(axis=0) + 1e-9
        self.padding_ = np.zeros(self.padding)  # a large fitted array, for the size test
        return self

    def transform(self, X):
        return _squash((X - self.center_) / self.scale_)
'''

LOAD_IN_FRESH_PROCESS = f"""
import json, sys
import numpy as np
from mlops import VersionedModel

model = VersionedModel(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2])))
steps = [step for _name, step in model.model.steps]
print(json.dumps({{
    "steps": [type(step).__name__ for step in steps],
    "user_module_imported": {USER_MODULE!r} in sys.modules,
    "frameworks_imported_by_the_script": [m for m in ("torch", "keras", "tensorflow") if m in sys.modules],
}}))
"""


class CancerProcessor(DataProcessor):
    """scikit-learn's breast cancer data (shipped with it), raw from a CSV; every 4th row is test data."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rows = np.loadtxt(os.path.join(dataset_path, "cancer.csv"), delimiter=",")
        test = np.arange(len(rows)) % 4 == 0
        return {"X_train": rows[~test, :-1], "X_test": rows[test, :-1]}, {"y_train": rows[~test, -1]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": np.loadtxt(os.path.join(dataset_path, "cancer.csv"), delimiter=",")[:, :-1]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor.astype(np.float64)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor.astype(np.int64)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> VersionedDataset:
    raw = tmp_path_factory.mktemp("raw-cancer")
    x, y = load_breast_cancer(return_X_y=True)
    np.savetxt(raw / "cancer.csv", np.column_stack([x, y]), delimiter=",", fmt="%.10g")
    root = tmp_path_factory.mktemp("datasets")
    return VersionedDataset(VersionedDatasetBuilder(str(raw), CancerProcessor()).publish(str(root), "v1"))


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[ModuleType]:
    """The user's own module, written to a folder on sys.path and imported, as a user's code is."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / f"{USER_MODULE}.py").write_text(USER_CODE)
    sys.path.insert(0, str(code_dir))
    try:
        import user_transformers  # type: ignore[import-not-found]

        yield user_transformers
    finally:
        sys.path.remove(str(code_dir))
        sys.modules.pop(USER_MODULE, None)


def _delete_module(module: ModuleType) -> None:
    """Forget the module in this process and delete its file and bytecode."""
    folder = Path(str(module.__file__)).parent
    sys.modules.pop(module.__name__, None)
    shutil.rmtree(folder)


def _make_model(kind: str, module: Any) -> Any:
    if kind == "pipeline with a user transformer":
        return Pipeline([("clip", module.ClipScale()), ("clf", LogisticRegression(max_iter=500))])
    if kind == "FunctionTransformer of a user function":
        return Pipeline(
            [
                ("log", FunctionTransformer(module.signed_log)),
                ("scale", StandardScaler()),
                ("clf", LogisticRegression(max_iter=500)),
            ]
        )
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["pipeline with a user transformer", "FunctionTransformer of a user function"])
def test_loads_in_a_fresh_process_after_its_module_is_deleted(
    kind: str, user_module: ModuleType, dataset: VersionedDataset, tmp_path: Path
) -> None:
    model = _make_model(kind, user_module).fit(dataset.X_train, dataset.y_train)
    expected = model.predict_proba(dataset.X_test)[:, 1]
    labels = model.predict(dataset.X_test)
    path = VersionedModelBuilder(dataset, model).publish(str(tmp_path / "models"), "v1")
    assert [name for name in os.listdir(path) if name.startswith("model")] == [MODEL_FILE]
    _delete_module(user_module)

    work = tmp_path / "elsewhere"
    work.mkdir()
    np.save(work / "X.npy", dataset.X_test)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, path, str(work / "X.npy"), str(work / "out.npy")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["user_module_imported"] is False
    assert report["frameworks_imported_by_the_script"] == []
    np.testing.assert_array_equal(np.load(work / "out.npy"), labels)
    # And in this process, where the module is gone too: the same probabilities, bit for bit.
    loaded = VersionedModel(path).model
    np.testing.assert_array_equal(loaded.predict_proba(dataset.X_test)[:, 1], expected)


def test_a_script_s_own_transformer_travels_with_the_model(dataset: VersionedDataset, tmp_path: Path) -> None:
    """A class defined in the script that publishes (``__main__``) loads in another process."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            import numpy as np
            from sklearn.base import BaseEstimator, TransformerMixin
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import Pipeline
            from mlops import VersionedDataset, VersionedModelBuilder

            class Halve(BaseEstimator, TransformerMixin):
                def fit(self, X, y=None):
                    return self

                def transform(self, X):
                    return X / 2

            dataset = VersionedDataset(sys.argv[1])
            model = Pipeline([("halve", Halve()), ("clf", LogisticRegression(max_iter=500))])
            model.fit(dataset.X_train, dataset.y_train)
            np.save(sys.argv[3], model.predict(dataset.X_test))
            print(VersionedModelBuilder(dataset, model).publish(sys.argv[2], "v1"))
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = [sys.executable, str(script), dataset.path, str(tmp_path / "models"), str(tmp_path / "expected.npy")]
    published = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert published.returncode == 0, published.stderr
    path = published.stdout.strip().splitlines()[-1]
    script.unlink()
    np.save(tmp_path / "X.npy", dataset.X_test)
    load = [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, path, str(tmp_path / "X.npy"), str(tmp_path / "out.npy")]
    loaded = subprocess.run(load, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.strip().splitlines()[-1])["steps"] == ["Halve", "LogisticRegression"]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.load(tmp_path / "expected.npy"))


def test_large_arrays_stay_out_of_the_pickle_stream(user_module: ModuleType, tmp_path: Path) -> None:
    """A 50 MB fitted array of a by-value class: the file is about 50 MB, saving holds a bounded
    buffer, and loading allocates the array once."""
    rows = np.random.default_rng(0).normal(size=(50, 4))
    model = user_module.ClipScale(padding=50 * 2**20 // 8).fit(rows)
    size = model.padding_.nbytes
    folder = tmp_path / "saved"
    folder.mkdir()
    serializer = SklearnSerializer()
    tracemalloc.start()
    try:
        serializer.save(model, str(folder))
        _, save_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        loaded = serializer.load(str(folder))
        _, load_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    file_size = (folder / MODEL_FILE).stat().st_size
    assert size <= file_size < size + 64 * 1024, f"{file_size} bytes for a {size}-byte array"
    assert save_peak < 0.5 * size, f"saving allocated {save_peak} bytes: the array was copied into the stream"
    assert load_peak < 1.1 * size, f"loading allocated {load_peak} bytes for a {size}-byte array"
    np.testing.assert_array_equal(loaded.transform(rows), model.transform(rows))
    assert type(loaded).__module__ == USER_MODULE


def test_the_file_is_a_plain_joblib_file(user_module: ModuleType, tmp_path: Path) -> None:
    model = _make_model("FunctionTransformer of a user function", user_module)
    model.fit(np.random.default_rng(1).normal(size=(40, 3)), np.arange(40) % 2)
    folder = tmp_path / "saved"
    folder.mkdir()
    SklearnSerializer().save(model, str(folder))
    assert os.listdir(folder) == [MODEL_FILE]
    _delete_module(user_module)
    loaded = joblib.load(folder / MODEL_FILE)
    assert loaded.steps[0][1].func.__name__ == "signed_log"
    np.testing.assert_array_equal(loaded.steps[0][1].func(np.array([-1.0, 0.0])), np.sign([-1.0, 0.0]) * np.log1p(1))


def test_code_by_value_from_another_python_minor_version_is_refused(
    user_module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = FunctionTransformer(user_module.signed_log)
    with monkeypatch.context() as patched:
        patched.setattr(platform, "python_version", lambda: "3.9.18")
        SklearnSerializer().save(model, str(tmp_path))
    with pytest.raises(PythonVersionMismatchError, match=r"written by Python 3\.9\.18 .* Load it with Python 3\.9"):
        SklearnSerializer().load(str(tmp_path))


def test_a_plain_model_holds_no_code_and_loads_on_any_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(x, y)
    with monkeypatch.context() as patched:
        patched.setattr(platform, "python_version", lambda: "3.9.18")
        SklearnSerializer().save(model, str(tmp_path))
    np.testing.assert_array_equal(SklearnSerializer().load(str(tmp_path)).predict(x), model.predict(x))


def test_a_class_stored_by_reference_that_is_gone_is_named(user_module: ModuleType, tmp_path: Path) -> None:
    """A model written by a plain joblib.dump (as before this plugin stored code by value)."""
    model = user_module.ClipScale().fit(np.ones((3, 2)))
    joblib.dump(model, tmp_path / MODEL_FILE)
    _delete_module(user_module)
    with pytest.raises(ModelCodeMissingError, match=r"refers to user_transformers\.ClipScale") as caught:
        SklearnSerializer().load(str(tmp_path))
    assert "put the module back on the Python path" in str(caught.value)
    assert isinstance(caught.value, ImportError)
