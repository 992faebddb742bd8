"""The plugin system (internal): the hook specifications plugins implement (:mod:`.hookspecs`),
the typed façade the rest of mlops calls instead of ``pm.hook.*`` (:mod:`.manager`), and mlops' own
hook implementations (:mod:`.builtin`). Plugin authors import :mod:`mlops.plugin`, the declared SDK."""

from mlops.plugins.manager import (
    ENTRY_POINT_GROUP,
    PluginLoadWarning,
    by_value_modules,
    dataset_adapter,
    dataset_adapters,
    distribution_of,
    distribution_of_module,
    get_plugin_manager,
    history_to_dict,
    loaded_plugins,
    processors,
    reset_plugin_manager,
    serializer_for,
    serializer_named,
    serializers,
    store_class_for,
    store_classes,
)

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
