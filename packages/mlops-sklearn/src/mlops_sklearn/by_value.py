"""Writing ``model.joblib`` with the user's own classes and functions stored by value.

A plain ``joblib.dump`` stores every class and function by reference (``my_module.MyTransformer``):
once that module is renamed or deleted, the model no longer loads. Here the model's user modules
are found as for data processors (:func:`mlops.dataset.by_value.user_modules`, over every object the model
holds, however deeply nested: pipeline steps, ``FunctionTransformer`` functions, fitted clones)
and stored by value with cloudpickle's reducers, while joblib's own pickler keeps writing numpy
arrays as raw buffers after their header, so a large coefficient array is neither copied into the
pickle stream nor loaded twice. The file is an ordinary joblib file: ``joblib.load`` reads it
(with mlops-sklearn installed, whose small rebuild function by-value code goes through).

This module imports joblib; the serializer imports it only when saving.
"""

from __future__ import annotations

import functools
import io
import pickle
import platform
import types
from collections.abc import Callable, Iterator
from typing import IO, Any

import cloudpickle
import numpy as np
from joblib.numpy_pickle import NumpyPickler

from mlops.plugin import check_python_version, user_modules

_LEAVES = (str, bytes, bytearray, int, float, complex, bool, type(None), range, slice)
_WALK_LIMIT = 1_000_000
"""Objects visited at most while looking for user code (a bound for pathological models)."""


def model_user_modules(model: Any) -> set[str]:
    """The user's own modules that the classes and functions of any object reachable from ``model``
    come from, plus the user modules those import from (see :func:`mlops.dataset.by_value.user_modules`)."""
    # user_modules looks at an object's attribute values: one namespace holding every reachable
    # object lets it judge them all in one pass, with the same rules as for processors. This
    # plugin stays by reference even when installed editable: the file calls its _rebuild.
    return user_modules(types.SimpleNamespace(reachable=list(_reachable(model)))) - {__name__.split(".", 1)[0]}


def _reachable(root: Any) -> Iterator[Any]:
    """``root`` and every object it holds: attributes, container items, the parts of partials and
    bound methods, items of object arrays. Classes and functions are yielded, not entered."""
    seen: set[int] = set()
    stack = [root]
    while stack and len(seen) < _WALK_LIMIT:
        obj = stack.pop()
        if isinstance(obj, _LEAVES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)):
            continue
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                stack.extend(obj.ravel().tolist())
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, functools.partial):
            stack.extend([obj.func, *obj.args, *obj.keywords.values()])
        elif isinstance(obj, types.MethodType):
            stack.extend([obj.__func__, obj.__self__])
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict):
            stack.extend(state.values())


class ByValuePickler(NumpyPickler):  # type: ignore[misc]
    """joblib's pickler (numpy arrays as raw buffers in the file) with cloudpickle's reducers for
    classes and functions: those of modules registered by value (and of ``__main__``, or defined
    dynamically) are stored with their code. ``by_value`` names what was stored that way.

    Code stored by value is bytecode, which only loads on the Python minor version that wrote it.
    The check travels in the file: every by-value class or function is rebuilt through
    :func:`_rebuild`, whose first argument, unpickled before any stored code, refuses another minor
    version (:class:`~mlops.errors.PythonVersionMismatchError`) before a code object is made.
    """

    dispatch_table = cloudpickle.Pickler.dispatch_table
    """cloudpickle's reducers for code objects, cells, modules... which by-value code needs."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=pickle.DEFAULT_PROTOCOL)
        # Only its reducer_override is used (it writes nothing): it decides by value or by
        # reference, and keeps the globals shared by the functions it stores.
        self._cloudpickler = cloudpickle.Pickler(io.BytesIO(), protocol=pickle.DEFAULT_PROTOCOL)
        self._python = _PythonCheck(platform.python_version())
        self.by_value: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if obj is _rebuild or obj is _require_python:
            return NotImplemented  # by reference, always: loading calls them
        reduced = self._cloudpickler.reducer_override(obj)
        if reduced is NotImplemented or not isinstance(obj, (type, types.FunctionType)):
            return reduced
        module = getattr(obj, "__module__", None)
        if module == "builtins":  # NoneType and friends: reduced by name, not by value
            return reduced
        if f"{module}.{obj.__qualname__.rpartition('.')[0]}" not in self.by_value:  # methods go with their class
            self.by_value.add(f"{module}.{obj.__qualname__}")
        make, args, *rest = reduced
        return (_rebuild, (self._python, make, args), *rest)


class _PythonCheck:
    """Pickled as a call of :func:`_require_python`: unpickling it checks the Python version."""

    def __init__(self, version: str) -> None:
        self.version = version

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _require_python, (self.version,)


def _require_python(written_by: str) -> str:
    """Run while unpickling, before any code stored by value is rebuilt."""
    check_python_version(written_by, "model.joblib (it holds code stored by value)")
    return written_by


def _rebuild(written_by: str, make: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """A class or function stored by value, made as cloudpickle makes it (after the version check)."""
    return make(*args)
