"""mlops: reproducible, versioned datasets and models on any filesystem.

Everything public is importable from here (``__all__``), with the types public calls return.
Submodules load on first use, so ``import mlops`` stays fast and never imports an ML framework.
Plugin authors import :mod:`mlops.plugin`, the plugin SDK; errors live in :mod:`mlops.errors`.
Every other module is internal: its layer folders (``store``, ``metadata``, ``versions``,
``dataset``, ``model``, ``envs``, ``plugins``, ``cli``, ``catalog``) may change between releases.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from mlops.plugins.hookspecs import hookimpl

if TYPE_CHECKING:  # the names __getattr__ provides, for type checkers and IDEs
    from mlops.dataset.data_processor import DataProcessor as DataProcessor
    from mlops.dataset.invertible_data_processor import InvertibleDataProcessor as InvertibleDataProcessor
    from mlops.dataset.versioned_dataset import VersionedDataset as VersionedDataset
    from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder as VersionedDatasetBuilder
    from mlops.envs import BuiltEnvironment as BuiltEnvironment
    from mlops.envs import create_environment as create_environment
    from mlops.envs import environment_differences as environment_differences
    from mlops.envs import run_in_recorded_environment as run_in_recorded_environment
    from mlops.metadata import ColumnRecord as ColumnRecord
    from mlops.metadata import DatasetRecord as DatasetRecord
    from mlops.metadata import ModelRecord as ModelRecord
    from mlops.metadata import TableRecord as TableRecord
    from mlops.metadata import TensorRecord as TensorRecord
    from mlops.metadata.environment import Difference as Difference
    from mlops.metadata.pylock import EnvironmentLock as EnvironmentLock
    from mlops.metadata.pylock import LockedDistribution as LockedDistribution
    from mlops.metadata.pylock import PythonInfo as PythonInfo
    from mlops.model.lineage import models_trained_on as models_trained_on
    from mlops.model.lineage import open_version as open_version
    from mlops.model.serializer import ModelSerializer as ModelSerializer
    from mlops.model.training_config import TrainingConfig as TrainingConfig
    from mlops.model.versioned_model import VersionedModel as VersionedModel
    from mlops.model.versioned_model_builder import VersionedModelBuilder as VersionedModelBuilder
    from mlops.serving.predictor import Prediction as Prediction
    from mlops.serving.predictor import Predictor as Predictor
    from mlops.store import FsspecStore as FsspecStore
    from mlops.store import LocalStore as LocalStore
    from mlops.store import S3Store as S3Store
    from mlops.store import Store as Store
    from mlops.store import resolve as resolve
    from mlops.store.base import DirEntry as DirEntry
    from mlops.store.base import FileEntry as FileEntry
    from mlops.store.base import Location as Location
    from mlops.versions.aliases import AliasEvent as AliasEvent
    from mlops.versions.aliases import AliasOptions as AliasOptions
    from mlops.versions.aliases import alias_history as alias_history
    from mlops.versions.aliases import get_alias as get_alias
    from mlops.versions.aliases import list_aliases as list_aliases
    from mlops.versions.aliases import remove_alias as remove_alias
    from mlops.versions.aliases import resolve_version as resolve_version
    from mlops.versions.aliases import set_alias as set_alias
    from mlops.versions.incomplete import IncompleteVersion as IncompleteVersion
    from mlops.versions.incomplete import list_incomplete as list_incomplete
    from mlops.versions.incomplete import remove_incomplete as remove_incomplete
    from mlops.versions.listing import VersionInfo as VersionInfo
    from mlops.versions.listing import latest as latest
    from mlops.versions.listing import list_versions as list_versions
    from mlops.versions.removal import RemovedVersion as RemovedVersion
    from mlops.versions.removal import remove_version as remove_version
    from mlops.versions.republish import republish as republish
    from mlops.versions.retention import GcReport as GcReport
    from mlops.versions.retention import gc as gc
    from mlops.versions.tags import update_tags as update_tags
    from mlops.versions.writer import PublishOptions as PublishOptions

from mlops._version import __version__

_EXPORTS = {
    "DataProcessor": "mlops.dataset.data_processor",
    "InvertibleDataProcessor": "mlops.dataset.invertible_data_processor",
    "VersionedDataset": "mlops.dataset.versioned_dataset",
    "VersionedDatasetBuilder": "mlops.dataset.versioned_dataset_builder",
    "ModelSerializer": "mlops.model.serializer",
    "TrainingConfig": "mlops.model.training_config",
    "VersionedModel": "mlops.model.versioned_model",
    "VersionedModelBuilder": "mlops.model.versioned_model_builder",
    "Predictor": "mlops.serving.predictor",
    "Store": "mlops.store",
    "LocalStore": "mlops.store",
    "FsspecStore": "mlops.store",
    "S3Store": "mlops.store",
    "resolve": "mlops.store",
    "open_version": "mlops.model.lineage",
    "remove_version": "mlops.versions.removal",
    "list_incomplete": "mlops.versions.incomplete",
    "remove_incomplete": "mlops.versions.incomplete",
    "VersionInfo": "mlops.versions.listing",
    "list_versions": "mlops.versions.listing",
    "latest": "mlops.versions.listing",
    "models_trained_on": "mlops.model.lineage",
    "republish": "mlops.versions.republish",
    "update_tags": "mlops.versions.tags",
    "create_environment": "mlops.envs",
    "run_in_recorded_environment": "mlops.envs",
    "environment_differences": "mlops.envs",
    "set_alias": "mlops.versions.aliases",
    "get_alias": "mlops.versions.aliases",
    "remove_alias": "mlops.versions.aliases",
    "alias_history": "mlops.versions.aliases",
    "list_aliases": "mlops.versions.aliases",
    "resolve_version": "mlops.versions.aliases",
    "gc": "mlops.versions.retention",
    "PublishOptions": "mlops.versions.writer",  # the options every publish takes
    "AliasOptions": "mlops.versions.aliases",  # the options set_alias and remove_alias take
    # the types public calls return
    "Location": "mlops.store.base",
    "FileEntry": "mlops.store.base",
    "DirEntry": "mlops.store.base",
    "RemovedVersion": "mlops.versions.removal",
    "Prediction": "mlops.serving.predictor",
    "AliasEvent": "mlops.versions.aliases",
    "GcReport": "mlops.versions.retention",
    "IncompleteVersion": "mlops.versions.incomplete",
    "DatasetRecord": "mlops.metadata",
    "ModelRecord": "mlops.metadata",
    "TensorRecord": "mlops.metadata",
    "EnvironmentLock": "mlops.metadata.pylock",
    "LockedDistribution": "mlops.metadata.pylock",
    "PythonInfo": "mlops.metadata.pylock",
    "Difference": "mlops.metadata.environment",
    "BuiltEnvironment": "mlops.envs",
    "TableRecord": "mlops.metadata",
    "ColumnRecord": "mlops.metadata",
}

# Quiet unless the application configures logging (``mlops -v`` does): records go to the "mlops" logger.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__", "errors", "hookimpl", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name == "errors":
        return importlib.import_module("mlops.errors")
    raise AttributeError(f"module 'mlops' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
