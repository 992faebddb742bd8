"""Kept for plugins written against the original layout: the hook specifications and ``hookimpl``
now live in :mod:`mlops.plugins.hookspecs`; plugin authors import :mod:`mlops.plugin`."""

from mlops.plugins.hookspecs import (
    PROJECT,
    hookimpl,
    hookspec,
    mlops_pickle_by_value,
    mlops_register_dataset_adapters,
    mlops_register_processors,
    mlops_register_serializers,
    mlops_register_stores,
    mlops_training_history,
)

__all__ = [
    "PROJECT",
    "hookimpl",
    "hookspec",
    "mlops_pickle_by_value",
    "mlops_register_dataset_adapters",
    "mlops_register_processors",
    "mlops_register_serializers",
    "mlops_register_stores",
    "mlops_training_history",
]
