"""The plugin SDK: everything a plugin for mlops needs, and nothing else.

A framework plugin (``mlops-keras``, ``mlops-torch``, ... or yours) imports from here, from
:mod:`mlops` (the public API) and from :mod:`mlops.errors`; every other module of mlops is
internal and may change between releases. A tutorial: docs/plugins.md.

- :data:`hookimpl` marks the hook implementations of a plugin module (see
  :mod:`mlops.plugins.hookspecs` for the hooks and what each is called with).
- :class:`ModelSerializer` is the base of a model serializer (``mlops_register_serializers``);
  :func:`mro_modules` answers ``can_save`` without importing a framework, and
  :func:`installed_versions` records the versions of the distributions a model needs;
  :class:`LibraryClasses` checks the classes of a serializer that saves exactly some classes of
  one library in its own format.
- :class:`DatasetAdapter` is what ``mlops_register_dataset_adapters`` registers;
  :class:`LazyTensors` (rows of some tensors of a dataset version, opened lazily in each worker
  process) is what adapters build on, and :data:`Index` the rows a framework asks for.
- :func:`dumps_by_value`, :func:`pickled_by_value`, :func:`user_modules` and
  :func:`check_python_version` store user code by value in pickles, as mlops stores processors.
- :func:`table_to_numpy` reads a table (pandas, polars, Arrow or dask DataFrame or Series; see
  :func:`table_kind`, :func:`is_table`) as a numeric array, refusing a non-numeric column by name:
  what tensor frameworks need (``LazyTensors`` already applies it to tables in a dataset).
  :func:`model_features` checks a table given to ``predict`` against the columns a model was
  trained on (see :func:`check_feature_columns`) and hands it over as the model expects.
- :func:`install_command` and :func:`upgrade_command` give the one-line pip command that installs
  or upgrades a part of this project (never the unrelated PyPI project named mlops-core).
"""

from __future__ import annotations

from mlops.dataset.adapters import DatasetAdapter
from mlops.dataset.by_value import check_python_version, dumps_by_value, pickled_by_value, user_modules
from mlops.dataset.lazy_tensors import Index, LazyTensors
from mlops.dataset.table_arrays import is_table, table_kind, table_to_numpy
from mlops.model.feature_columns import check_feature_columns, model_features
from mlops.model.serializer import LibraryClasses, ModelSerializer, installed_versions, mro_modules
from mlops.plugins.hookspecs import hookimpl
from mlops.utils.install import install_command, upgrade_command

__all__ = [
    "DatasetAdapter",
    "Index",
    "LazyTensors",
    "LibraryClasses",
    "ModelSerializer",
    "check_feature_columns",
    "check_python_version",
    "dumps_by_value",
    "hookimpl",
    "install_command",
    "installed_versions",
    "is_table",
    "model_features",
    "mro_modules",
    "pickled_by_value",
    "table_kind",
    "table_to_numpy",
    "upgrade_command",
    "user_modules",
]
