"""Naming the custom classes a saved Keras model needs but this process cannot find.

Keras stores a custom layer, loss or metric by name only (``model.keras`` also records its module),
never its code, so such a class cannot travel by value as a processor's or a torch module's code
does. When loading fails, the saved config is read to tell the user exactly which classes are
missing and how to make them loadable, instead of Keras' generic deserialization error.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from mlops.errors import ModelCodeMissingError

_KERAS_PACKAGES = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp", "tf_keras", "tensorflow"})


def missing_code_error(path: str) -> ModelCodeMissingError | None:
    """The error naming every custom class that the model at ``path`` (``model.keras`` or
    ``model.h5``) refers to and that cannot be found here, or ``None`` if none is missing."""
    try:
        config = _saved_config(path)
    except Exception:  # noqa: BLE001 - an unreadable config: let the caller's original error stand
        return None
    missing = sorted({name for name in (_unresolved(entry) for entry in _entries(config)) if name})
    if not missing:
        return None
    file = path.rsplit("/", 1)[-1]
    return ModelCodeMissingError(
        f"{file} needs the custom Keras class{'es' if len(missing) > 1 else ''} {', '.join(missing)}, which "
        "Keras cannot find in this process. Keras stores custom layers, losses and metrics by name, not their "
        "code, so the code must be importable where the model is loaded: keep the module that defines them "
        "installed or on the Python path, decorate each class with @keras.saving.register_keras_serializable(), "
        "and import that module before loading the model."
    )


def _saved_config(path: str) -> Any:
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    import h5py

    with h5py.File(path, "r") as file:
        raw = file.attrs["model_config"]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def _entries(config: Any) -> Iterator[dict[str, Any]]:
    """Every serialized object in a Keras config: the dicts with a ``class_name``."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("class_name"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _unresolved(entry: dict[str, Any]) -> str | None:
    """How to name the class of ``entry`` if Keras cannot find it in this process, else ``None``.

    Keras finds a custom object through its registered name only (``model.keras`` records the
    module too, but Keras does not import modules other than its own while loading)."""
    import keras

    class_name: str = entry["class_name"]
    module = entry.get("module")
    registered = entry.get("registered_name") or (class_name if ">" in class_name else None)
    if isinstance(module, str) and module.split(".", 1)[0] in _KERAS_PACKAGES:
        return None
    if class_name == "function":  # a function: only a registered one ("package>name") can be told apart
        name = registered if isinstance(registered, str) and ">" in registered else None
        return repr(name) if name and keras.saving.get_registered_object(name) is None else None
    if not isinstance(registered, str) or keras.saving.get_registered_object(registered) is not None:
        return None
    if not isinstance(module, str) or not module:  # model.h5 records registered names only
        return repr(registered)
    try:
        importable = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        importable = False
    where = "importable here but not imported" if importable else "not importable here"
    return f"{module}.{class_name} (registered as {registered!r}; its module is {where})"
