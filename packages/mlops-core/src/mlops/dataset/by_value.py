"""Storing data processors by value, so a dataset keeps processing data the way it was built.

A pickle normally stores a class by reference (``mymodule.MyProcessor``): load it after the module
was edited and you silently get the new behaviour; delete the module and loading fails. mlops
instead stores the *code* of the user's modules with the processor (cloudpickle's
``register_pickle_by_value``), while installed libraries (numpy, mlops itself...) stay by reference.
Which modules count as the user's is decided by :func:`user_modules` and by plugins through the
``mlops_pickle_by_value`` hook.

By-value pickles hold bytecode, which is tied to the Python minor version that wrote it, so the
writer's version is recorded and checked before unpickling.
"""

from __future__ import annotations

import functools
import io
import pickle
import platform
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import cloudpickle

from mlops.errors import ProcessorSerializationError, PythonVersionMismatchError

PICKLER = "cloudpickle"


def dumps_by_value(obj: Any, modules: Iterable[str] = (), persistent_id: Callable[[Any], Any] | None = None) -> bytes:
    """cloudpickle ``obj`` with the code of ``modules`` (names of imported modules) stored by value.

    ``persistent_id`` lets the caller store some objects elsewhere (e.g. weights in a safe tensor
    file): an object for which it returns a non-None id is pickled as that id only, and must be
    resolved by ``persistent_load`` when unpickling. Raises ``pickle.PicklingError``/``TypeError``
    etc. unchanged; callers wrap them in their error.
    """
    with pickled_by_value(modules):
        if persistent_id is None:
            data: bytes = cloudpickle.dumps(obj, protocol=pickle.DEFAULT_PROTOCOL)
            return data
        buffer = io.BytesIO()
        _PersistentPickler(buffer, persistent_id).dump(obj)
        return buffer.getvalue()


@contextmanager
def pickled_by_value(modules: Iterable[str]) -> Iterator[None]:
    """Within the block, cloudpickle (and picklers using its reducers) store the code of
    ``modules`` (names of imported modules) by value; registrations made here are undone after."""
    registered: list[ModuleType] = []
    try:
        already = cloudpickle.list_registry_pickle_by_value()
        for name in sorted(set(modules)):
            module = sys.modules.get(name)
            if module is not None and name not in already:
                cloudpickle.register_pickle_by_value(module)
                registered.append(module)
        yield
    finally:
        for module in registered:
            cloudpickle.unregister_pickle_by_value(module)


class _PersistentPickler(cloudpickle.Pickler):  # type: ignore[misc]
    def __init__(self, file: io.BytesIO, persistent_id: Callable[[Any], Any]) -> None:
        super().__init__(file, protocol=pickle.DEFAULT_PROTOCOL)
        self._persistent_id = persistent_id

    def persistent_id(self, obj: Any) -> Any:
        return self._persistent_id(obj)


def dumps_processor(processor: Any, modules: Iterable[str]) -> bytes:
    """Pickle ``processor`` with the code of ``modules`` (its user modules, as the plugins chose
    them: :func:`mlops.plugins.manager.by_value_modules`) by value; a clear error if that is impossible."""
    try:
        return dumps_by_value(processor, modules)
    except Exception as exc:
        raise ProcessorSerializationError(
            f"the data processor {type(processor).__qualname__} cannot be pickled: {type(exc).__name__}: {exc}. "
            "Keep only picklable state on it (arrays, numbers, functions, plain objects; no open files, "
            "locks or connections), or create such resources inside its methods."
        ) from exc


def loads_processor(data: bytes, written_by: str | None) -> Any:
    """Unpickle a processor written by Python ``written_by`` (``"3.11.7"``); the bytes must already
    be verified against the manifest. Refuses another Python minor version."""
    check_python_version(written_by, "data_processor.pkl")
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise ProcessorSerializationError(
            f"data_processor.pkl could not be unpickled: {type(exc).__name__}: {exc}. A library it "
            "references by name may be missing or of an incompatible version; see the dataset's "
            "meta.json 'libraries' for the versions that wrote it."
        ) from exc


def check_python_version(written_by: str | None, what: str) -> None:
    """Raise :class:`PythonVersionMismatchError` unless ``written_by`` has this interpreter's
    major.minor version (by-value pickles carry bytecode of that version)."""
    here = platform.python_version()
    if not isinstance(written_by, str) or written_by.split(".")[:2] != here.split(".")[:2]:
        raise PythonVersionMismatchError(
            f"{what} was written by Python {written_by or 'of an unknown version'} and holds code pickled "
            f"by value, which only loads safely on the same minor version; this is Python {here}. "
            f"Load it with Python {'.'.join(str(written_by or '?.?').split('.')[:2])}."
        )


def user_modules(obj: Any) -> set[str]:
    """Top-level packages of the user's own code that ``obj`` depends on: the modules of its class
    hierarchy and of the functions, classes and objects in its attributes, then, transitively, the
    user modules those import from. The standard library and installed distributions are left out
    (they stay by reference)."""
    candidates = {cls.__module__ for cls in type(obj).__mro__}
    for value in _attribute_values(obj):
        candidates.update(_module_names(value))
    found: set[str] = set()
    seen: set[str] = set()
    pending = {name.split(".", 1)[0] for name in candidates}
    while pending:
        top = pending.pop()
        if top in seen:
            continue
        seen.add(top)
        if top != "__main__":  # a script's own code is pickled by value by cloudpickle already,
            if not _is_user_module(top):  # but what it imports from the user's modules is not
                continue
            found.add(top)
        for name, module in list(sys.modules.items()):
            if module is not None and (name == top or name.startswith(top + ".")):
                for value in list(vars(module).values()):
                    pending.update(n.split(".", 1)[0] for n in _module_names(value))
    return found


def _module_names(value: Any) -> set[str]:
    """The module a global or attribute value comes from (itself, for a module)."""
    if isinstance(value, ModuleType):
        return {value.__name__}
    module = getattr(value, "__module__", None) if callable(value) else type(value).__module__
    return {module} if isinstance(module, str) else set()


def _attribute_values(obj: Any) -> Iterable[Any]:
    state = getattr(obj, "__dict__", {})
    for value in state.values():
        yield value
        if isinstance(value, (list, tuple, set)):
            yield from value
        elif isinstance(value, dict):
            yield from value.values()


@functools.lru_cache(maxsize=1)
def _installed_roots() -> tuple[str, ...]:
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(getattr(site, "getsitepackages", lambda: [])())
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if isinstance(user_site, str):
        paths.add(user_site)
    return tuple(sorted(p.rstrip("/") + "/" for p in paths if p))


def _is_user_module(name: str) -> bool:
    if name in ("__main__", "builtins", "mlops") or name in sys.builtin_module_names:
        return False  # __main__ is pickled by value by cloudpickle already
    module = sys.modules.get(name)
    if module is None:
        return False
    locations = list(getattr(module, "__path__", []) or [])
    file = getattr(module, "__file__", None)
    if file:
        locations.append(file)
    if not locations:
        return False
    roots = _installed_roots()
    return not any(str(loc).startswith(roots) for loc in locations)
