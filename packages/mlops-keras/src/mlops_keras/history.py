"""Turning the ``History`` that Keras' ``fit`` returns into plain JSON, without importing Keras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_KERAS_PACKAGES = frozenset({"keras", "tf_keras", "tensorflow"})
"""Top-level packages whose ``History`` callback has the Keras shape (a ``history`` dict of lists)."""


def is_keras_history(obj: Any) -> bool:
    """Whether ``obj`` is a Keras ``History`` callback (or a subclass), judged from class names and
    modules only, so asking about a foreign object never imports Keras."""
    return not isinstance(obj, type) and any(
        cls.__name__ == "History" and cls.__module__.split(".", 1)[0] in _KERAS_PACKAGES for cls in type(obj).__mro__
    )


def history_to_dict(history: Any) -> dict[str, list[Any]] | None:
    """``history.history`` as ``{metric: [per-epoch Python floats]}``, or ``None`` if ``history`` is
    not a Keras ``History``. Numpy and tensor scalars become floats; anything else is left for the
    caller's JSON check to report."""
    if not is_keras_history(history):
        return None
    logs = getattr(history, "history", None)
    if not isinstance(logs, Mapping):
        return None
    return {str(key): [_plain(value) for value in values] for key, values in logs.items()}


def _plain(value: Any) -> Any:
    """A per-epoch log value as a Python float when it is a real scalar (int, float, numpy or
    tensor scalar); other values unchanged."""
    if isinstance(value, bool):
        return value
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - an exotic value: let the JSON check name it
        return value
    if array.shape == () and np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array):
        return float(array)
    return value
