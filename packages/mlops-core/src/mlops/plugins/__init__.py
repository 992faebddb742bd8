"""The plugin system (internal): the hook specifications plugins implement (:mod:`.hookspecs`),
the typed façade the rest of mlops calls instead of ``pm.hook.*`` (:mod:`.manager`), and mlops' own
hook implementations (:mod:`.builtin`). Plugin authors import :mod:`mlops.plugin`, the declared SDK."""

from mlops.plugins.manager import (
    ENTRY_POINT_GROUP,
    PluginLoadWarning,
    dataset_adapter,
    get_plugin_manager,
    loaded_plugins,
    reset_plugin_manager,
    serializer_for,
    serializer_named,
    serializers,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadWarning",
    "dataset_adapter",
    "get_plugin_manager",
    "loaded_plugins",
    "reset_plugin_manager",
    "serializer_for",
    "serializer_named",
    "serializers",
]
