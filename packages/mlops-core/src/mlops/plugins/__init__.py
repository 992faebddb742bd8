"""The plugin system (internal): the hook specifications plugins implement (:mod:`.hookspecs`),
the typed façade the rest of mlops calls instead of ``pm.hook.*`` (:mod:`.manager`), and mlops' own
hook implementations (:mod:`.builtin`). Plugin authors import :mod:`mlops.plugin`, the declared SDK."""

from typing import Any

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadWarning",
    "by_value_modules",
    "dataset_adapter",
    "dataset_adapters",
    "distribution_of",
    "distribution_of_module",
    "get_plugin_manager",
    "history_to_dict",
    "loaded_plugins",
    "processors",
    "reset_plugin_manager",
    "serializer_for",
    "serializer_named",
    "serializers",
    "store_class_for",
    "store_classes",
]


def __getattr__(name: str) -> Any:
    """The façade's functions, loaded on first use: ``import mlops`` needs only the hook markers."""
    if name in __all__:
        from mlops.plugins import manager

        return getattr(manager, name)
    raise AttributeError(f"module 'mlops.plugins' has no attribute {name!r}")
