"""The typed façade over the plugin manager: the only module that touches ``pm.hook``.

Entry points of the ``mlops`` group are loaded lazily (on first use, not at ``import mlops``) and
once. A plugin that fails to import or register is skipped with a :class:`PluginLoadWarning`, so
one broken plugin never breaks the others. ``MLOPS_LOAD_PLUGINS`` restricts loading for debugging:
a comma-separated list of entry-point names, or an empty string to load none.
"""

from __future__ import annotations

import difflib
import functools
import os
import threading
import warnings
from importlib import metadata as importlib_metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from mlops.errors import NoSerializerError, PluginError, SerializerNotInstalledError
from mlops.plugins import hookspecs
from mlops.store.base import Store
from mlops.utils.install import FIRST_PARTY_EXTRAS, install_command

if TYPE_CHECKING:
    from mlops.dataset.data_processor import DataProcessor
    from mlops.model.serializer import ModelSerializer

ENTRY_POINT_GROUP = "mlops"
_FRAMEWORK_EXTRAS = {
    "keras": "keras",
    "tensorflow": "keras",
    "tf_keras": "keras",
    **{e: e for e in FIRST_PARTY_EXTRAS.values()},
}
"""The mlops-core extra whose plugin saves models of each framework (by top-level module)."""


class PluginLoadWarning(UserWarning):
    """Warned when an installed plugin cannot be loaded and is skipped."""


_lock = threading.RLock()
_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created and populated from entry points on first call."""
    global _pm
    with _lock:
        if _pm is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            from mlops.plugins import builtin as builtin_plugin

            pm.register(builtin_plugin, name="mlops.builtin")
            _load_entry_points(pm)
            _report_unknown_hooks(pm)
            _pm = pm
        return _pm


def reset_plugin_manager(pm: pluggy.PluginManager | None = None) -> None:
    """Replace the plugin manager (``None``: rebuild it lazily), forgetting what was learnt about
    installed distributions. Meant for tests and for code that installs plugins at run time."""
    global _pm
    with _lock:
        _packages_distributions.cache_clear()
        _pm = pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    allowed = os.environ.get("MLOPS_LOAD_PLUGINS")
    names = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if names is not None and ep.name not in names:
            continue
        if pm.has_plugin(ep.name):
            continue
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code must be survivable
            warnings.warn(
                f"mlops plugin {ep.name!r} (from {dist}) failed to load and was skipped: {type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )


def _report_unknown_hooks(pm: pluggy.PluginManager) -> None:
    """Warn about hook implementations that match no hook (what :meth:`pluggy.PluginManager.check_pending`
    checks), naming the plugin: a misspelled hook is otherwise silently never called."""
    known = sorted(name for name in vars(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_"))
    for name, hook in vars(pm.hook).items():
        if name.startswith("_") or hook.has_spec():
            continue
        for impl in hook.get_hookimpls():
            if not impl.optionalhook:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"the hooks are {', '.join(known)}"
                warnings.warn(
                    f"mlops plugin {impl.plugin_name!r} implements {name!r}, which is not an mlops hook, so it is "
                    f"never called; {hint}",
                    PluginLoadWarning,
                    stacklevel=3,
                )


def _collect(hook_name: str, kind: type, what: str) -> list[Any]:
    """Call a register-callback hook and return what the plugins registered, type-checked."""
    registered: list[Any] = []

    def register(obj: Any) -> None:
        ok = isinstance(obj, type) and issubclass(obj, kind) if what == "class" else isinstance(obj, kind)
        if not ok:
            raise PluginError(f"a plugin registered {obj!r} through {hook_name}; expected a {kind.__name__} {what}")
        registered.append(obj)

    getattr(get_plugin_manager().hook, hook_name)(register=register)
    return registered


# --- serializers --------------------------------------------------------------------------------------


def serializers() -> dict[str, ModelSerializer]:
    """Every installed serializer by name (first registration wins on a clash, with a warning)."""
    from mlops.model.serializer import ModelSerializer

    found: dict[str, ModelSerializer] = {}
    for serializer in _collect("mlops_register_serializers", ModelSerializer, "instance"):
        name = getattr(serializer, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"serializer {serializer!r} has no name; set the class attribute `name`")
        if isinstance(serializer.priority, bool) or not isinstance(serializer.priority, int):
            raise PluginError(f"serializer {name!r} has priority {serializer.priority!r}; it must be an int")
        if name in found:
            warnings.warn(
                f"two plugins register a serializer named {name!r}; keeping the first", PluginLoadWarning, stacklevel=2
            )
            continue
        found[name] = serializer
    return found


def serializer_for(model: Any) -> ModelSerializer:
    """The installed serializer for ``model``: of those whose ``can_save(model)`` is true, the one
    with the highest ``priority`` (the most specific); on a tie, the first registered."""
    available = serializers()
    accepting = [s for s in available.values() if s.can_save(model)]
    if accepting:
        return max(accepting, key=lambda s: s.priority)  # max keeps the first of equal priorities
    names = ", ".join(sorted(available)) or "none"
    raise NoSerializerError(
        f"no installed serializer can save a {type(model).__module__}.{type(model).__qualname__} "
        f"(installed: {names}). To publish it, {_plugin_hint(model)}; or pass serializer=... explicitly, "
        "or write a serializer plugin (see the README's plugin section)."
    )


def _plugin_hint(model: Any) -> str:
    """Which plugin to install for ``model``: the one for the framework in its class hierarchy, if known."""
    for cls in type(model).__mro__:
        extra = _FRAMEWORK_EXTRAS.get(cls.__module__.split(".", 1)[0])
        if extra:
            return f"install its plugin: {install_command(extra)}"
    extras = ", ".join(FIRST_PARTY_EXTRAS.values())
    return f"install the plugin for its framework (mlops-core's extras: {extras}), e.g. {install_command('keras')}"


def serializer_named(name: str, distribution: str | None = None) -> ModelSerializer:
    """The installed serializer called ``name``; if missing, an error with the install command."""
    available = serializers()
    if name in available:
        return available[name]
    if distribution in FIRST_PARTY_EXTRAS:
        command = install_command(FIRST_PARTY_EXTRAS[distribution])
    elif distribution:
        command = f'pip install "{distribution}"'
    else:
        command = "install the plugin that provides it"
    raise SerializerNotInstalledError(
        f"this model was saved by the {name!r} serializer, which is not installed; run: {command}"
    )


def distribution_of(obj: Any) -> str | None:
    """The installed distribution that provides ``obj``'s class, if any (for install hints)."""
    return distribution_of_module(type(obj).__module__)


def distribution_of_module(module: str) -> str | None:
    """The installed distribution that provides the module named ``module``, if any."""
    dists = _packages_distributions().get(module.split(".", 1)[0])
    return dists[0] if dists else None


def loaded_plugins() -> dict[str, str]:
    """``{plugin name: module name}`` of every registered plugin (installed plugins are named by
    their entry point), for listings such as ``mlops plugins``."""
    found = {}
    for name, plugin in get_plugin_manager().list_name_plugin():
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        found[str(name)] = module
    return found


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    return dict(importlib_metadata.packages_distributions())


def history_to_dict(history: Any) -> dict[str, list[Any]] | None:
    """A plugin's conversion of a framework history object, or ``None`` if no plugin knows it."""
    result: dict[str, list[Any]] | None = get_plugin_manager().hook.mlops_training_history(history=history)
    return result


# --- stores -------------------------------------------------------------------------------------------


def store_class_for(scheme: str) -> type[Store] | None:
    """The store class a plugin registered for the URL scheme ``scheme`` (first registered wins),
    or ``None``: then :func:`mlops.store.resolve` uses a built-in store."""
    for cls in store_classes():
        if scheme in {s.lower() for s in cls.schemes}:
            return cls
    return None


def store_classes() -> list[type[Store]]:
    """Store classes registered by plugins, first registered first (the built-in local and fsspec
    stores, which serve every scheme none of them claims, are not included)."""
    found = _collect("mlops_register_stores", Store, "class")
    for cls in found:
        if not cls.schemes:
            raise PluginError(f"store class {cls.__qualname__} claims no URL scheme; set its `schemes` attribute")
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        if missing:
            raise PluginError(
                f"store class {cls.__qualname__} does not implement {', '.join(missing)}, which every store "
                "must; subclass mlops.FsspecStore (or mlops.LocalStore) or implement them (see mlops.Store)"
            )
    return found


# --- processors ---------------------------------------------------------------------------------------


def processors() -> dict[str, type[DataProcessor]]:
    """Ready-made processors contributed by plugins, by ``module.QualifiedName``."""
    from mlops.dataset.data_processor import DataProcessor

    return {
        f"{c.__module__}.{c.__qualname__}": c for c in _collect("mlops_register_processors", DataProcessor, "class")
    }


def by_value_modules(processor: DataProcessor) -> set[str]:
    """Names of modules to pickle by value with ``processor``, as chosen by every plugin."""
    results = get_plugin_manager().hook.mlops_pickle_by_value(processor=processor)
    return {name for result in results if result for name in result}


# --- dataset adapters ---------------------------------------------------------------------------------


def dataset_adapters() -> dict[str, DatasetAdapter]:
    """Every installed dataset adapter by framework name (first registration wins on a clash, with a warning)."""
    found: dict[str, DatasetAdapter] = {}

    def register(framework: str, adapter: DatasetAdapter) -> None:
        if not isinstance(framework, str) or not framework or not callable(adapter):
            raise PluginError(
                f"a plugin registered ({framework!r}, {adapter!r}) through mlops_register_dataset_adapters; "
                "expected a framework name and a callable adapter"
            )
        if framework in found:
            warnings.warn(
                f"two plugins register a dataset adapter for {framework!r}; keeping the first",
                PluginLoadWarning,
                stacklevel=2,
            )
            return
        found[framework] = adapter

    get_plugin_manager().hook.mlops_register_dataset_adapters(register=register)
    return found


def dataset_adapter(framework: str) -> DatasetAdapter:
    """The installed adapter that hands datasets to ``framework``; if none, an error with the install command."""
    from mlops.errors import DatasetAdapterNotInstalledError

    adapters = dataset_adapters()
    if framework in adapters:
        return adapters[framework]
    if framework in FIRST_PARTY_EXTRAS.values():
        command = install_command(framework)
    else:
        command = f"install a plugin that registers a {framework!r} dataset adapter"
    installed = ", ".join(sorted(adapters)) or "none"
    raise DatasetAdapterNotInstalledError(
        f"no installed plugin hands datasets to {framework} (installed adapters: {installed}); run: {command}"
    )


if TYPE_CHECKING:
    from mlops.dataset.adapters import DatasetAdapter
