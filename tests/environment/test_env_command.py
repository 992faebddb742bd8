"""``mlops env PATH``: the recorded lock in three formats, and ``--diff`` with what matters first."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_support import fails, mlops, ok
from sklearn.linear_model import LogisticRegression

from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from mlops.metadata import environment
from mlops.metadata.pylock import LOCK_FILE, EnvironmentLock
from sample_processors import CsvProcessor, write_raw


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("env-command")
    path = VersionedDatasetBuilder(write_raw(str(base / "raw")), CsvProcessor()).publish(str(base / "ds"), "v1")
    dataset = VersionedDataset(path)
    model = LogisticRegression().fit(dataset.X_train, dataset.y_train.argmax(axis=1))
    return path, VersionedModelBuilder(dataset, model).publish(str(base / "models"), "v1")


def _elsewhere(changes: dict[str, str], python: str) -> EnvironmentLock:
    here = environment.current_environment()
    packages = tuple(replace(p, version=changes.get(p.name, p.version)) for p in here.packages)
    return replace(here, packages=packages, python=replace(here.python, version=python))


def test_the_formats(versions: tuple[str, str]) -> None:
    path = versions[1]
    assert ok("env", path) == (Path(path) / LOCK_FILE).read_text()  # the recorded bytes
    assert ok("env", path, "--format", "pylock") == (Path(path) / LOCK_FILE).read_text()
    requirements = ok("env", path, "--format", "requirements").splitlines()
    assert f"numpy=={np.__version__}" in requirements
    data = json.loads(ok("env", path, "--format", "json"))
    assert json.loads(ok("env", path, "--json")) == data
    names = [d["name"] for d in data["distributions"]]
    assert names == sorted(names) and "scikit-learn" in names
    assert data["python"]["version"] == environment.current_python().version


def test_diff_in_the_same_environment(versions: tuple[str, str]) -> None:
    assert "no differences" in ok("env", versions[0], "--diff")
    assert json.loads(ok("env", versions[0], "--diff", "--json")) == []


def test_diff_lists_what_matters_first(versions: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    dataset_path, model_path = versions
    elsewhere = _elsewhere({"click": "0.1", "numpy": "0.2", "cloudpickle": "0.3", "scikit-learn": "0.4"}, "3.99.1")
    monkeypatch.setattr(environment, "current_environment", lambda: elsewhere)
    model = json.loads(ok("env", model_path, "--diff", "--json"))
    assert [(d["name"], d["why"]) for d in model] == [
        ("python", "Python minor"),
        ("numpy", "the serializer's framework"),  # scikit-learn's serializer records numpy's version too
        ("scikit-learn", "the serializer's framework"),
        ("click", None),
        ("cloudpickle", None),  # model.joblib holds no code by value: cloudpickle plays no part
    ]
    dataset = json.loads(ok("env", dataset_path, "--diff", "--json"))
    assert [(d["name"], d["why"]) for d in dataset] == [
        ("python", "Python minor"),
        ("numpy", "numpy"),
        ("cloudpickle", "its modules are referenced by the version's pickles"),
        ("click", None),
        ("scikit-learn", None),
    ]
    text = ok("env", dataset_path, "--diff").splitlines()
    assert text[0].split() == ["DISTRIBUTION", "RECORDED", "HERE", "MATTERS"]
    assert [line.split()[0] for line in text[1:]] == ["python", "numpy", "cloudpickle", "click", "scikit-learn"]


def test_bad_uses(versions: tuple[str, str], tmp_path: Path) -> None:
    assert "--with is for --create" in mlops("env", versions[0], "--with", str(tmp_path)).stderr
    assert "no dataset or model version" in fails("env", str(tmp_path / "nothing"))
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "schema1" / "datasets" / "v1"
    assert "records no environment" in fails("env", str(fixture))


def test_serve_env_recorded_hands_its_command_line_over(
    versions: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlops import envs

    calls: list[tuple[str, list[str], dict[str, object]]] = []

    def run(version: str, argv: list[str], **options: object) -> int:
        calls.append((version, argv, options))
        return 3

    monkeypatch.setattr(envs, "run_in_recorded_environment", run)
    key = tmp_path / "team.pub"
    result = mlops("-o", "anon=true", "serve", versions[1], "--port", "9", "--env", "recorded", "-k", key)
    assert result.exit_code == 3, result.output  # the child's status
    ((version, argv, options),) = calls
    assert version == versions[1]
    assert argv == [
        "-o", "anon=true", "serve", versions[1], "--host", "127.0.0.1", "--port", "9", "--workers", "1",
        "--max-body-size", str(16 * 1024 * 1024), "-k", str(key),
    ]  # fmt: skip
    assert options["trusted_keys"] == [str(key)] and options["storage_options"] == {"anon": True}
    assert any(str(extra).startswith("fastapi") for extra in options["extras"])  # type: ignore[attr-defined]


def test_predict_env_recorded_hands_its_command_line_over(
    versions: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlops import envs

    calls: list[tuple[str, list[str], dict[str, object]]] = []
    monkeypatch.setattr(envs, "run_in_recorded_environment", lambda v, argv, **o: calls.append((v, argv, o)) or 0)
    out = tmp_path / "scores.parquet"
    result = mlops("predict", versions[1], "raw", "-o", out, "--force", "--env", "recorded", "--json")
    assert result.exit_code == 0, result.output
    ((version, argv, options),) = calls
    assert (version, argv) == (versions[1], ["predict", versions[1], "raw", "-o", str(out), "--force", "--json"])
    assert any(str(extra).startswith("pyarrow") for extra in options["extras"])  # type: ignore[attr-defined]
    assert not out.exists()  # written by the recorded environment, not here
