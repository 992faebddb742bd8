"""Every version records the environment that published it (environment/pylock.toml, PEP 751, and
environment/python.json), covered by the manifest and the signature; loading a pickle in an
environment that differs in what matters warns once, with the command that runs the version in
its own environment."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import warnings
from dataclasses import replace
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pytest
import tomllib
from packaging.pylock import Package
from sklearn.linear_model import LogisticRegression

import mlops
from forgery import replace_file
from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModel, VersionedModelBuilder, errors
from mlops.metadata import environment
from mlops.metadata.pylock import LOCK_FILE, PYTHON_FILE, EnvironmentLock, normalize
from sample_processors import CsvProcessor, write_raw
from table_processors import TablesProcessor, numeric_frame

LOCK_FILES = {LOCK_FILE, PYTHON_FILE}


@pytest.fixture
def raw_dir(tmp_path: Path) -> str:
    return write_raw(str(tmp_path / "raw"))


@pytest.fixture
def published(tmp_path: Path, raw_dir: str) -> tuple[str, str]:
    """A dataset (its processor pickled by value) and a scikit-learn model trained on it."""
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "datasets"), "v1")
    dataset = VersionedDataset(path)
    model = LogisticRegression().fit(dataset.X_train, dataset.y_train.argmax(axis=1))
    return path, VersionedModelBuilder(dataset, model).publish(str(tmp_path / "models"), "v1")


def _installed() -> dict[str, str]:
    """``{distribution: version}`` as importlib.metadata reads each one's METADATA (first on the path wins)."""
    found: dict[str, str] = {}
    for dist in importlib_metadata.distributions():
        found.setdefault(normalize(dist.metadata["Name"]), dist.version)
    return found


def _with(changes: dict[str, str | None], python: str | None = None) -> EnvironmentLock:
    """This environment as if ``changes`` (name -> version, None: not installed) and ``python`` were so."""
    here = environment.current_environment()
    packages = [
        replace(p, version=changes.get(p.name, p.version)) for p in here.packages if changes.get(p.name, p.version)
    ]
    fake = replace(here, packages=tuple(packages))
    return replace(fake, python=replace(fake.python, version=python)) if python else fake


def test_every_kind_of_version_records_the_environment_that_wrote_it(
    published: tuple[str, str], tmp_path: Path, raw_dir: str
) -> None:
    import dask.array as da

    lazy = VersionedDatasetBuilder(raw_dir, _DaskProcessor()).publish(str(tmp_path / "lazy"), "v1")
    table = VersionedDatasetBuilder(raw_dir, TablesProcessor(_tables)).publish(str(tmp_path / "table"), "v1")
    linked = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "linked"), "v1", raw="link")
    assert isinstance(VersionedDataset(lazy).X_train, da.Array)
    installed = _installed()
    assert VersionedDataset(table).record.tensors["X_train"].table is not None  # a table (Parquet)
    for path in (*published, lazy, linked, table):
        version = mlops.open_version(path)
        assert LOCK_FILES <= set(version.files), path
        env = version.environment
        assert isinstance(env, mlops.EnvironmentLock)
        assert env.distributions == installed
        assert env.python_version == platform.python_version()
        assert env.python.to_json() == {
            "implementation": sys.implementation.name,
            "version": platform.python_version(),
            "abi": f"cp{sys.version_info.major}{sys.version_info.minor}",
            "platform": __import__("sysconfig").get_platform(),
            "machine": platform.machine(),
            "sys_platform": sys.platform,
        }
        version.verify()
    lock = tomllib.loads((Path(published[0]) / LOCK_FILE).read_text())
    assert lock["lock-version"] == "1.0" and lock["created-by"] == "mlops"
    assert lock["requires-python"] == f"=={platform.python_version()}"
    core = next(p for p in lock["packages"] if p["name"] == "mlops-core")  # installed editable from its folder
    assert core["directory"]["editable"] is True and os.path.isdir(core["directory"]["path"])
    for package in lock["packages"]:  # what has a recorded origin is a valid PEP 751 entry
        if {"directory", "archive", "vcs"} & set(package):
            Package._from_dict(package)
    assert json.loads((Path(published[0]) / PYTHON_FILE).read_text())["version"] == platform.python_version()


def test_the_environment_does_not_change_the_content_hash(tmp_path: Path, raw_dir: str) -> None:
    a = VersionedDataset(VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "a"), "v1"))
    environment.environment_files.cache_clear()
    environment.current_environment.cache_clear()
    try:
        other = _with({"numpy": "0.0.1"})
        environment.current_environment.cache_clear()
        files = {LOCK_FILE: other.to_pylock().encode(), PYTHON_FILE: other.python_json().encode()}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("mlops.versions.writer.environment_files", lambda: files)
            b = VersionedDataset(VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "b"), "v1"))
    finally:
        environment.environment_files.cache_clear()
    assert a.environment != b.environment and b.environment is not None
    assert b.environment.distributions["numpy"] == "0.0.1"
    assert a.hash == b.hash  # the same data, whatever environment published it


def test_the_lock_is_built_once_per_process() -> None:
    assert environment.environment_files() is environment.environment_files()
    assert environment.current_environment() is environment.current_environment()


def test_the_python_api(published: tuple[str, str]) -> None:
    env = VersionedModel(published[1]).environment
    assert env is not None
    assert env.distributions["numpy"] == np.__version__
    assert env.get("Scikit_Learn") == env.get("scikit-learn") and env.get("scikit-learn") is not None
    requirements = env.to_requirements().splitlines()
    assert f"numpy=={np.__version__}" in requirements
    assert any(line.startswith("-e file:///") and line.endswith("/mlops-core") for line in requirements)
    assert requirements[0].startswith(f"# the environment of Python {platform.python_version()}")
    assert env.to_json()["python"]["version"] == platform.python_version()


def test_a_tampered_lock_fails_verification(published: tuple[str, str]) -> None:
    path = published[1]
    lock = Path(path) / LOCK_FILE
    lock.write_bytes(lock.read_bytes().replace(b'name = "numpy"', b'name = "numpyy"'))
    version = VersionedModel(path)
    with pytest.raises(errors.IntegrityError, match="pylock.toml"):
        version.verify()
    with pytest.raises(errors.IntegrityError, match="pylock.toml"):
        version.environment  # noqa: B018


def test_a_forged_lock_is_refused_under_a_trust_policy(tmp_path: Path, raw_dir: str) -> None:
    from mlops.trust.keys import generate_key_pair

    private, public = generate_key_pair(str(tmp_path / "team"))
    path = VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(str(tmp_path / "ds"), "v1", signing_key=private)
    assert VersionedDataset(path, trusted_keys=[public]).environment is not None
    forged = (Path(path) / LOCK_FILE).read_bytes() + b'\n[[packages]]\nname = "evil"\nversion = "1.0"\n'
    replace_file(path, LOCK_FILE, forged)  # every hash rewritten: only the signature can tell
    VersionedDataset(path).verify()
    with pytest.raises(errors.UntrustedVersionError):
        VersionedDataset(path, trusted_keys=[public])


def test_versions_without_an_environment_keep_loading(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "schema1"  # written before locks existed
    shutil.copytree(fixture, tmp_path / "schema1")
    dataset = VersionedDataset(tmp_path / "schema1" / "datasets" / "v1")
    assert dataset.environment is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(dataset.data_processor).__name__ == "CsvProcessor"  # its code stored by value
    dataset.verify()


def test_a_mismatched_numpy_warns_once_with_the_command(
    published: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_path, model_path = published
    with warnings.catch_warnings():  # the same environment: silence
        warnings.simplefilter("error")
        VersionedDataset(dataset_path).data_processor  # noqa: B018
        VersionedModel(model_path).model  # noqa: B018
    fake = _with({"numpy": "1.0.0", "pytz": None})
    monkeypatch.setattr(environment, "current_environment", lambda: fake)
    with pytest.warns(errors.EnvironmentMismatchWarning) as caught:
        processor = VersionedDataset(dataset_path).data_processor
    assert type(processor).__name__ == "CsvProcessor"
    assert len(caught) == 1
    message = str(caught[0].message)
    assert f"numpy {np.__version__} (recorded) != 1.0.0 (here)" in message
    assert f"`mlops env {dataset_path} --create DIR`" in message
    assert "pytz" not in message  # not referenced by the processor: not worth a warning
    assert caught[0].filename == __file__  # pointed at the line that loaded it
    assert [d.name for d in caught[0].message.differences] == ["numpy"]  # type: ignore[union-attr]
    with pytest.warns(errors.EnvironmentMismatchWarning) as caught:
        VersionedModel(model_path).model  # noqa: B018
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "numpy" in message and f"`mlops predict {model_path} INPUT -o OUT --env recorded`" in message
    assert f"`mlops env {model_path} --create DIR`" in message
    assert caught[0].filename == __file__


def test_what_the_pickles_reference_matters(published: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    model_path = published[1]
    unrelated = _with({"threadpoolctl": "0.1", "pytz": "0.1"})
    monkeypatch.setattr(environment, "current_environment", lambda: unrelated)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither is the framework nor referenced by model.joblib
        VersionedModel(model_path).model  # noqa: B018
    framework = _with({"scikit-learn": "0.1"})
    monkeypatch.setattr(environment, "current_environment", lambda: framework)
    with pytest.warns(errors.EnvironmentMismatchWarning, match=r"scikit-learn \S+ \(recorded\) != 0.1 \(here\)"):
        VersionedModel(model_path).model  # noqa: B018


def test_another_python_minor_is_an_error_that_gives_the_command(published: tuple[str, str]) -> None:
    dataset_path = published[0]
    meta_file = Path(dataset_path) / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["processor"]["python"] = "3.9.18"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(errors.PythonVersionMismatchError, match="3.9.18") as caught:
        VersionedDataset(dataset_path).data_processor  # noqa: B018
    assert f"`mlops env {dataset_path} --create DIR` then DIR/bin/python" in str(caught.value)


def _tables() -> tuple[dict[str, object], dict[str, object]]:
    return {"X_train": numeric_frame(50)}, {"y_train": np.arange(50)}


class _DaskProcessor(CsvProcessor):
    """CsvProcessor whose training features are a dask array (a chunked tensor)."""

    def get_raw_features_and_labels(self, dataset_path: str):  # type: ignore[no-untyped-def]
        import dask.array as da

        features, labels = super().get_raw_features_and_labels(dataset_path)
        features["X_train"] = da.from_array(np.asarray(features["X_train"]), chunks=4)
        return features, labels
