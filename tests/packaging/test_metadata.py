"""The release metadata of every distribution, read from the source tree: one version per
distribution (its package's ``__version__``), all equal to mlops-core's; the MIT license file in
each; version ranges rather than pins between core and plugins; an extra per plugin. The built
wheels are checked as installed by ``nox -s packaging`` (check_install.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import tomllib

from mlops.plugins.manager import FIRST_PARTY_EXTRAS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
PLUGINS = [p for p in PACKAGES if p != "mlops-core"]
CORE_RANGE = "mlops-core>=0.1,<0.2"


def _pyproject(package: str) -> dict[str, Any]:
    with open(ROOT / "packages" / package / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _module(package: str) -> str:
    return "mlops" if package == "mlops-core" else package.replace("-", "_")


def _version_module(package: str) -> str:
    """Where the package's version is written: mlops-core keeps it in ``mlops/_version.py`` (so that
    no module of mlops needs to import the package's façade), the plugins in their ``__init__.py``."""
    return "mlops._version" if package == "mlops-core" else _module(package)


def _source_version(package: str) -> str:
    """The ``__version__ = "..."`` literal of the module :func:`_version_module` names."""
    parts = _version_module(package).split(".")
    init = ROOT / "packages" / package / "src" / Path(*parts[:-1], parts[-1] + ".py")
    if len(parts) == 1:
        init = ROOT / "packages" / package / "src" / parts[0] / "__init__.py"
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__version__"]:
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"{init} has no __version__ literal")


def test_the_repository_has_seven_distributions() -> None:
    assert PACKAGES == sorted(
        ["mlops-core", "mlops-keras", "mlops-torch", "mlops-sklearn", "mlops-xgboost", "mlops-lightgbm", "mlops-onnx"]
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_release_metadata(package: str) -> None:
    data = _pyproject(package)
    project = data["project"]

    assert "version" not in project and project["dynamic"] == ["version"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": f"{_version_module(package)}.__version__"}
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "packages" / package / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    assert project["readme"] == "README.md"
    assert (ROOT / "packages" / package / "README.md").read_text().startswith(f"# {package}\n")
    assert project["authors"] and project["keywords"] and project["classifiers"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # the expression says it
    assert "setuptools>=77" in data["build-system"]["requires"]  # license = "MIT" needs PEP 639 support
    assert "urls" not in project  # no placeholder URLs until the project has real ones
    assert _source_version(package) == _source_version("mlops-core")


@pytest.mark.parametrize("package", PLUGINS)
def test_plugins_accept_any_core_of_the_same_minor_and_register_an_entry_point(package: str) -> None:
    project = _pyproject(package)["project"]
    extra = package.removeprefix("mlops-")

    assert CORE_RANGE in project["dependencies"]
    assert not [d for d in project["dependencies"] if "==" in d]
    assert project["entry-points"]["mlops"] == {extra: f"{_module(package)}.plugin"}
    assert FIRST_PARTY_EXTRAS[package] == extra


def test_core_has_an_extra_per_plugin_and_all_of_them_in_all() -> None:
    extras = _pyproject("mlops-core")["project"]["optional-dependencies"]

    for plugin in PLUGINS:
        extra = plugin.removeprefix("mlops-")
        (requirement,) = extras[extra]
        assert re.fullmatch(rf"{plugin}(\[tensorflow\])?>=0\.1,<0\.2", requirement), requirement
    assert extras["keras"] == ["mlops-keras[tensorflow]>=0.1,<0.2"]  # newcomers get a Keras backend
    (everything,) = extras["all"]
    assert set(everything.removeprefix("mlops-core[").removesuffix("]").split(",")) == set(extras) - {"all"}


def test_keras_does_not_force_tensorflow() -> None:
    project = _pyproject("mlops-keras")["project"]

    assert not [d for d in project["dependencies"] if d.startswith("tensorflow")]
    assert project["optional-dependencies"]["tensorflow"] == ["tensorflow>=2.16"]


def test_changelog_and_license_at_the_root() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {_source_version('mlops-core')} " in changelog
