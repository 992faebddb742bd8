"""A dataset keeps processing data the way it was built, after its processor's code is edited,
renamed or deleted: each step runs in a fresh Python process, as it would years apart."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ORIGINAL = '''
import os
import numpy as np
from mlops.dataset.data_processor import DataProcessor
from {helper_module} import shift

OFFSET = 100.0


def helper(x):
    """A module-level helper function the methods call."""
    return x * 3 + OFFSET


def make_scaler(factor):
    def scale(x):  # a closure
        return x * factor
    return scale


class UserProcessor(DataProcessor):
    def __init__(self):
        self.weights = np.array([1.0, -1.0, 0.5])  # numpy state
        self.square = lambda x: x ** 2                # a lambda
        self.scale = make_scaler(0.25)                # a closure
        self.inner = Inner()                          # an object of another class of the module

    def get_raw_features_and_labels(self, dataset_path):
        raw = np.loadtxt(os.path.join(dataset_path, "x.csv"), delimiter=",", ndmin=2)
        return {{"X_train": raw}}, {{"y_train": raw[:, 0] > 0}}

    def get_raw_features(self, dataset_path):
        return {{"X_pred": np.loadtxt(os.path.join(dataset_path, "x.csv"), delimiter=",", ndmin=2)}}

    def preprocess_features(self, t):
        return shift(self.inner.apply(self.scale(self.square(helper(t)))) * self.weights)

    def preprocess_labels(self, t):
        return t.astype(np.int8)


class Inner:
    def apply(self, x):
        return x - 1
'''

BROKEN = """
def helper(x):
    raise RuntimeError("the edited helper must never run")


class UserProcessor:
    def __getattr__(self, name):
        raise RuntimeError("the edited class must never run")


class Inner:
    def apply(self, x):
        raise RuntimeError("the edited Inner must never run")
"""


def _run(code: str, cwd: Path, *paths: Path) -> str:
    env_path = ":".join(str(p) for p in paths)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": env_path, "MLOPS_LOAD_PLUGINS": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


LOAD = """
import json, numpy as np
from mlops.dataset.versioned_dataset import VersionedDataset
dataset = VersionedDataset({path!r})
out = dataset.data_processor.get_preprocessed_features({raw!r})["X_pred"]
print(json.dumps(out.tolist()))
"""


@pytest.fixture
def published(tmp_path: Path) -> tuple[Path, str, str, list[list[float]]]:
    """A processor module (and a helper package) in a user folder, used to publish a dataset in a
    fresh process; returns (user folder, dataset path, raw path, the original processing output)."""
    user = tmp_path / "user_code"
    (user / "userhelpers").mkdir(parents=True)
    (user / "userhelpers" / "__init__.py").write_text("def shift(x):\n    return x + 7\n")
    (user / "my_processor.py").write_text(ORIGINAL.format(helper_module="userhelpers"))
    raw = tmp_path / "raw"
    raw.mkdir()
    np.savetxt(raw / "x.csv", np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, 6.5]]), delimiter=",")
    out = _run(
        f"""
        import json
        from my_processor import UserProcessor
        from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
        processor = UserProcessor()
        path = VersionedDatasetBuilder({str(raw)!r}, processor).publish({str(tmp_path / "datasets")!r}, "v1")
        out = processor.get_preprocessed_features({str(raw)!r})["X_pred"]
        print(json.dumps([path, out.tolist()]))
        """,
        tmp_path,
        user,
    )
    path, expected = json.loads(out)
    return user, path, str(raw), expected


def test_processor_survives_its_module_being_rewritten(published: tuple[Path, str, str, list[list[float]]]) -> None:
    user, path, raw, expected = published
    (user / "my_processor.py").write_text(BROKEN)
    (user / "userhelpers" / "__init__.py").write_text("def shift(x):\n    raise RuntimeError('edited')\n")
    # The edited modules are importable in the loading process, and must not be used.
    out = _run("import my_processor, userhelpers\n" + LOAD.format(path=path, raw=raw), user.parent, user)
    assert json.loads(out) == expected


def test_processor_survives_its_module_being_deleted(published: tuple[Path, str, str, list[list[float]]]) -> None:
    user, path, raw, expected = published
    for file in [*user.rglob("*.py")]:
        file.unlink()
    out = _run(LOAD.format(path=path, raw=raw), user.parent)
    assert json.loads(out) == expected


def test_processor_survives_its_class_being_renamed(published: tuple[Path, str, str, list[list[float]]]) -> None:
    user, path, raw, expected = published
    source = (user / "my_processor.py").read_text().replace("class UserProcessor", "class RenamedProcessor")
    (user / "my_processor.py").write_text(source)
    out = _run(LOAD.format(path=path, raw=raw), user.parent, user)
    assert json.loads(out) == expected


def test_meta_json_records_the_pickling_python(published: tuple[Path, str, str, list[list[float]]]) -> None:
    _user, path, _raw, _expected = published
    meta = json.loads((Path(path) / "meta.json").read_text())
    assert meta["processor"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert meta["processor"]["pickler"] == "cloudpickle"
    assert meta["processor"]["class"] == "my_processor.UserProcessor"
