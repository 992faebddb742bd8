"""Every hook a plugin can implement, one function per hook.

Plugins are modules (or objects) listed under the ``mlops`` entry-point group and decorated with
``from mlops import hookimpl``. Register-callback hooks receive a ``register`` function and call it
once per thing they contribute; every plugin's implementation is called. The rest of mlops never
calls ``pm.hook`` directly: it goes through the typed façade in :mod:`mlops.plugins.manager`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from mlops.dataset.data_processor import DataProcessor
    from mlops.model.serializer import ModelSerializer
    from mlops.store.base import Store

PROJECT = "mlops"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- model serializers ------------------------------------------------------------------------------


@hookspec
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register model serializers: call ``register(serializer)`` once per
    :class:`~mlops.model.serializer.ModelSerializer` instance. All implementations are called;
    serializer names must be unique across plugins (a duplicate is skipped with a warning).

    Choosing among them: a model is saved by the serializer whose ``can_save(model)`` is true and
    whose ``priority`` is the highest, i.e. the most specific one (``ModelSerializer.SPECIFIC`` for
    one library's classes beats ``ModelSerializer.GENERIC`` for a shared API such as scikit-learn's
    estimators); among equal priorities the first registered wins. Loading never chooses: it uses
    the serializer named in meta.json."""


@hookspec(firstresult=True)
def mlops_training_history(history: Any) -> dict[str, list[Any]] | None:
    """Turn a framework's training-history object (e.g. a Keras ``History``) into a plain dict of
    per-epoch lists. Return ``None`` for objects you do not know; the first non-None result wins."""


# --- stores ---------------------------------------------------------------------------------------


@hookspec
def mlops_register_stores(register: Callable[[type[Store]], None]) -> None:
    """Register store classes: call ``register(cls)`` with a subclass of
    :class:`~mlops.store.Store` (usually of :class:`~mlops.store.FsspecStore` or
    :class:`~mlops.store.LocalStore`) whose ``schemes`` name the URL schemes it claims (e.g.
    ``("gs", "gcs")``); :func:`mlops.store.resolve` then serves every URL of those schemes with
    ``cls.locate(url, storage_options)``, for every operation and command. All implementations are
    called; the first class registered for a scheme wins; schemes no plugin claims use the built-in
    stores. To wrap a built-in store, subclass it and call ``super()``."""


# --- processors -------------------------------------------------------------------------------------


@hookspec
def mlops_register_processors(register: Callable[[type[DataProcessor]], None]) -> None:
    """Contribute ready-made processors: call ``register(processor_class)`` once per
    :class:`~mlops.dataset.data_processor.DataProcessor` subclass. All implementations are called;
    :func:`mlops.plugins.manager.processors` lists the result by qualified class name."""


@hookspec
def mlops_pickle_by_value(processor: DataProcessor) -> Iterable[str] | None:
    """Take part in persisting ``processor``: return names of imported modules whose code must be
    stored by value with it (so the dataset keeps working after that code changes or disappears).
    Results of all implementations are combined with the built-in choice (the user's own modules)."""


# --- dataset adapters -------------------------------------------------------------------------------


@hookspec
def mlops_register_dataset_adapters(register: Callable[[str, DatasetAdapter], None]) -> None:
    """Register dataset adapters, which hand a published dataset's tensors to a training framework:
    call ``register(framework, adapter)`` once per framework name (``"torch"``, ``"keras"``...).
    ``adapter(dataset, names, **options)`` returns that framework's dataset object over the named
    tensors (``VersionedDataset.torch_dataset`` calls the ``"torch"`` adapter); it imports its
    framework only when called. All implementations are called; the first registration of a
    framework name wins (a duplicate is skipped with a warning)."""


if TYPE_CHECKING:
    from mlops.dataset.adapters import DatasetAdapter
