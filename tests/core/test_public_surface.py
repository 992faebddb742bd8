"""Two declared surfaces: ``mlops`` (the public API, with every type its calls return) and
``mlops.plugin`` (the SDK plugins are written against); the import paths the design contract and
the original README taught keep working as thin re-exports."""

from __future__ import annotations

import ast
import importlib
import inspect
import typing
from pathlib import Path

import pytest

import mlops
import mlops.plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted(
    p for p in ROOT.glob("packages/mlops-*/src/mlops_*") if p.is_dir() and not p.name.endswith(".egg-info")
)
ALLOWED_FOR_PLUGINS = {"mlops", "mlops.plugin", "mlops.errors"}


def test_plugins_import_only_the_declared_surfaces() -> None:
    assert len(PLUGIN_SOURCES) == 6
    found = []
    for path in (f for source in PLUGIN_SOURCES for f in source.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                if (name == "mlops" or name.startswith("mlops.")) and name not in ALLOWED_FOR_PLUGINS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert found == []


def test_the_sdk_declares_what_it_offers() -> None:
    for name in mlops.plugin.__all__:
        assert getattr(mlops.plugin, name) is not None
    assert mlops.plugin.hookimpl is mlops.hookimpl


def _classes(tp: object, out: set[type]) -> None:
    if isinstance(tp, type):
        out.add(tp)
    origin = typing.get_origin(tp)
    if isinstance(origin, type):
        out.add(origin)
    for arg in typing.get_args(tp):
        _classes(arg, out)


def test_every_type_a_public_call_returns_is_exported() -> None:
    from mlops.trust.policy import TrustPolicy

    exported = {getattr(mlops, name) for name in mlops.__all__ if name not in ("__version__", "errors")}
    missing: dict[str, str] = {}
    for name in mlops.__all__:
        obj = getattr(mlops, name)
        members = [(name, obj)] if inspect.isfunction(obj) else []
        if inspect.isclass(obj):
            for attr, value in inspect.getmembers(obj):
                if attr.startswith("_"):
                    continue
                value = value.fget if isinstance(value, property) else getattr(value, "func", value)
                if inspect.isfunction(value):
                    members.append((f"{name}.{attr}", value))
        for label, function in members:
            returned = typing.get_type_hints(function, localns={"TrustPolicy": TrustPolicy}).get("return")
            classes: set[type] = set()
            _classes(returned, classes)
            for cls in classes:
                if cls.__module__.startswith("mlops") and cls.__module__ != "mlops.errors" and cls not in exported:
                    missing[f"{cls.__module__}.{cls.__qualname__}"] = label
    assert missing == {}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("mlops.dataset.data_processor", "DataProcessor"),
        ("mlops.dataset.invertible_data_processor", "InvertibleDataProcessor"),
        ("mlops.dataset.versioned_dataset_builder", "VersionedDatasetBuilder"),
        ("mlops.dataset.versioned_dataset", "VersionedDataset"),
        ("mlops.model.training_config", "TrainingConfig"),
        ("mlops.model.versioned_model_builder", "VersionedModelBuilder"),
        ("mlops.model.versioned_model", "VersionedModel"),
        ("mlops.model.serializer", "ModelSerializer"),
        ("mlops.registry", "list_versions"),
        ("mlops.registry", "latest"),
        ("mlops.registry", "open_version"),
        ("mlops.registry", "models_trained_on"),
        ("mlops.registry", "VersionInfo"),
        ("mlops.maintenance", "list_incomplete"),
        ("mlops.maintenance", "remove_incomplete"),
        ("mlops.removal", "remove_version"),
        ("mlops.transfer", "republish"),
        ("mlops.transfer", "update_tags"),
        ("mlops.hookspecs", "hookimpl"),
        ("mlops.store", "resolve"),
    ],
)
def test_import_paths_of_the_design_contract_keep_working(path: str, name: str) -> None:
    """Users' code and the original README import these paths: each still gives the public object."""
    assert getattr(importlib.import_module(path), name) is getattr(mlops, name)
