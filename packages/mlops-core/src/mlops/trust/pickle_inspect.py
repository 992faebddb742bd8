"""What a pickle would import and run, found without running it.

Loading a pickle calls whatever callables it names (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``
opcodes, resolved by ``find_class``), so the list of those names is what loading it would execute.
This module walks the opcodes with :func:`pickletools.genops` and a small symbolic stack (nothing is
imported, constructed or called) to list them, to tell which classes, functions and modules
cloudpickle stored *by value* (their code is in the file: ``_make_skeleton_class``,
``_make_function``, ``dynamic_subimport``...), and to flag callables that are dangerous in a pickle
whatever their arguments (``os.system``, ``subprocess.*``, ``builtins.eval``...).

Containers mlops stores are read as their loaders would: plain pickles (``data_processor.pkl``,
mlops-torch's ``model.pt``), joblib files (``model.joblib``: joblib writes each numpy array's raw
bytes right after the pickled ``NumpyArrayWrapper``; they are stepped over using its shape and
dtype, as ``NumpyUnpickler.load_build`` reads them; compressed joblib files are decompressed
first) and ``torch.save`` zip files (their ``data.pkl`` members). A flag is a hint, not a proof of
safety: block lists miss payloads, which is why loading is gated on a signature, not on this.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import copyreg
import gzip
import io
import lzma
import pickletools
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from mlops.errors import PickleInspectionError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".sav", ".dill")
"""File names ``mlops inspect`` reads as pickles (other files are data, read without unpickling)."""

_CLOUDPICKLE = ("cloudpickle.cloudpickle", "cloudpickle.cloudpickle_fast", "cloudpickle")
_JOBLIB_WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}

# Modules any of whose callables is dangerous in a pickle (command execution, file or network
# access, interpreters, code loading), and single callables of otherwise harmless modules.
_DANGEROUS_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "pty", "shutil", "socket", "ctypes", "runpy", "code", "codeop",
        "importlib", "pickle", "_pickle", "marshal", "dill", "sys", "multiprocessing", "asyncio", "webbrowser",
        "urllib", "http", "requests", "ftplib", "smtplib", "telnetlib", "bdb", "pdb", "timeit", "profile",
        "cProfile", "trace", "tempfile", "glob", "pathlib", "zipimport", "pydoc", "venv", "ensurepip",
    }
)  # fmt: skip
_DANGEROUS_NAMES = frozenset(
    {
        ("builtins", "eval"), ("builtins", "exec"), ("builtins", "compile"), ("builtins", "open"),
        ("builtins", "__import__"), ("builtins", "getattr"), ("builtins", "setattr"), ("builtins", "delattr"),
        ("builtins", "breakpoint"), ("builtins", "input"), ("builtins", "globals"), ("builtins", "locals"),
        ("builtins", "vars"), ("builtins", "exit"), ("builtins", "quit"), ("io", "open"), ("io", "FileIO"),
        ("operator", "attrgetter"), ("operator", "methodcaller"), ("types", "CodeType"), ("types", "FunctionType"),
        ("torch.serialization", "load"), ("torch", "load"), ("numpy", "load"), ("numpy.lib.npyio", "load"),
        ("joblib", "load"), ("torch._inductor.codecache", "compile_file"),
    }
)  # fmt: skip
# cloudpickle helpers that rebuild code stored by value (the code runs when what it builds is used).
_BY_VALUE_HELPERS = frozenset(
    {
        "_make_skeleton_class", "_make_skeleton_enum", "_make_function", "dynamic_subimport", "_class_setstate",
        "_function_setstate", "_make_cell", "_make_empty_cell", "_builtin_type", "_make_typevar",
        "_make_dict_keys", "_make_dict_values", "_make_dict_items", "_get_dataclass_field_type_sentinel",
    }
)  # fmt: skip


@dataclass(frozen=True, order=True)
class ImportRef:
    """A callable or class the pickle makes ``find_class`` import; ``dangerous`` says why it is flagged."""

    module: str
    name: str
    dangerous: str | None = None

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def rebuilds_code(self) -> bool:
        """Whether this is a cloudpickle helper that rebuilds a class, function or module from code in the file."""
        return self.module.startswith(_CLOUDPICKLE) and self.name in _BY_VALUE_HELPERS


@dataclass(frozen=True, order=True)
class ByValue:
    """A class, enum, function or module whose code is stored in the pickle itself (cloudpickle)."""

    kind: str
    module: str
    name: str

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.name}" if self.module and self.kind != "module" else self.name


@dataclass
class PickleReport:
    """What loading one file would import (``imports``) and which code it carries (``by_value``)."""

    container: str
    imports: list[ImportRef] = field(default_factory=list)
    by_value: list[ByValue] = field(default_factory=list)
    imported_modules: list[str] = field(default_factory=list)
    streams: int = 0

    @property
    def dangerous(self) -> list[ImportRef]:
        return [ref for ref in self.imports if ref.dangerous]

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "pickles": self.streams,
            "imports": [
                {"module": r.module, "name": r.name, "dangerous": r.dangerous, "rebuilds_code": r.rebuilds_code}
                for r in self.imports
            ],
            "modules_imported": self.imported_modules,
            "by_value": [{"kind": b.kind, "module": b.module, "name": b.name} for b in self.by_value],
            "dangerous": [r.qualified for r in self.dangerous],
        }


def is_pickle_name(relpath: str) -> bool:
    """Whether ``relpath`` is a file mlops (or a framework loader) would unpickle, by its name."""
    return relpath.lower().endswith(PICKLE_SUFFIXES)


def inspect_bytes(data: bytes) -> PickleReport:
    """Inspect a plain pickle, a joblib file (compressed or not) or a torch zip archive held in
    ``data``, executing nothing. Raises :class:`~mlops.errors.PickleInspectionError` when the bytes
    are none of these or are truncated."""
    if data[:4] == b"PK\x03\x04":
        return _inspect_zip(data)
    decompressed = _decompress_joblib(data)
    if decompressed is not None:
        container, raw = decompressed
        report = _inspect_stream(io.BytesIO(raw), container)
        return report
    return _inspect_stream(io.BytesIO(data), "pickle")


def dangerous_reason(module: str, name: str) -> str | None:
    """Why calling ``module.name`` from a pickle is dangerous, or ``None`` when it is not on the list."""
    top = module.split(".", 1)[0]
    if (module, name) in _DANGEROUS_NAMES:
        return f"{module}.{name} can run code or touch files and the network"
    if module in _DANGEROUS_MODULES or top in _DANGEROUS_MODULES:
        return f"module {module} runs commands, loads code, or reaches files, processes or the network"
    return None


# --- containers --------------------------------------------------------------------------------------------


def _inspect_zip(data: bytes) -> PickleReport:
    """A torch.save archive: every ``.pkl`` member (``ARCHIVE/data.pkl``, TorchScript's constants)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [n for n in archive.namelist() if n.endswith(".pkl")]
    except zipfile.BadZipFile as exc:
        raise PickleInspectionError(f"a damaged zip archive: {exc}") from exc
    if not members:
        raise PickleInspectionError("a zip archive without a .pkl member (not a torch.save file)")
    report = PickleReport("torch-zip")
    for member in members:
        _inspect_stream(io.BytesIO(archive.read(member)), "torch-zip", report)
    return report


def _decompress_joblib(data: bytes) -> tuple[str, bytes] | None:
    """(container, pickle bytes) of a compressed joblib file, or None for an uncompressed file."""
    try:
        if data[:2] == b"\x1f\x8b":
            return "joblib-gzip", gzip.decompress(data)
        if data[:3] == b"BZh":
            return "joblib-bz2", bz2.decompress(data)
        if data[:5] == b"\xfd7zXZ":
            return "joblib-xz", lzma.decompress(data)
        if data[:2] == b"\x5d\x00":
            return "joblib-lzma", lzma.decompress(data, format=lzma.FORMAT_ALONE)
        if data[:4] == b"\x04\x22\x4d\x18":
            raise PickleInspectionError("an lz4-compressed joblib file; decompress it (lz4 -d) and inspect that")
        if data[:1] == b"\x78":  # zlib, as joblib's compress=True writes ('x' is not a pickle opcode)
            return "joblib-zlib", zlib.decompress(data)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise PickleInspectionError(f"a damaged compressed file: {exc}") from exc
    return None


def _inspect_stream(stream: BinaryIO, container: str, report: PickleReport | None = None) -> PickleReport:
    """Walk every pickle in ``stream`` one after the other (torch's legacy format and some tools
    write several), stopping at the first byte that does not start one."""
    report = report if report is not None else PickleReport(container)
    machine = _Machine(stream, report)
    machine.run()
    report.streams += 1
    while True:
        start = stream.tell()
        if stream.read(1) != b"\x80":  # a further protocol-2+ pickle starts with PROTO; anything else is data
            stream.seek(start)
            break
        stream.seek(start)
        try:
            machine.run()
        except PickleInspectionError:  # raw data that happens to start like a pickle (torch's legacy format)
            stream.seek(start)
            break
        report.streams += 1
    if machine.saw_joblib:
        report.container = "joblib" if container == "pickle" else container
    report.imports = sorted(set(report.imports))
    report.by_value = sorted(set(report.by_value))
    report.imported_modules = sorted(set(report.imported_modules))
    return report


# --- the symbolic machine ------------------------------------------------------------------------------


class _Mark:
    """The MARK placeholder on the symbolic stack."""


_MARK = _Mark()


@dataclass(eq=False)
class _Global:
    module: str
    name: str


@dataclass(eq=False)
class _Call:
    """A value the unpickler would build by calling ``func(*args)``; ``state`` from BUILD."""

    func: Any
    args: Any
    state: Any = None


@dataclass(eq=False)
class _Opaque:
    """A value the symbolic machine does not model (persistent ids, out-of-band buffers...)."""

    what: str


class _Machine:
    """Runs pickle opcodes on symbolic values: constants are kept, globals and calls are recorded,
    nothing is imported or executed."""

    def __init__(self, stream: BinaryIO, report: PickleReport) -> None:
        self.stream = stream
        self.report = report
        self.saw_joblib = False

    def run(self) -> None:
        stack: list[Any] = []
        memo: dict[int, Any] = {}
        try:
            for opcode, arg, _pos in _genops(self.stream):
                self._step(opcode, arg, stack, memo)
                if opcode.name == "STOP":
                    return
        except PickleInspectionError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, EOFError) as exc:
            raise PickleInspectionError(f"not a readable pickle: {type(exc).__name__}: {exc}") from exc
        raise PickleInspectionError("truncated pickle: no STOP opcode")

    def _step(self, op: pickletools.OpcodeInfo, arg: Any, stack: list[Any], memo: dict[int, Any]) -> None:
        name = op.name
        if name in ("PROTO", "FRAME", "STOP"):
            return
        if name == "MARK":
            stack.append(_MARK)
        elif name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            ref = self._global(module, attr)
            if name == "INST":
                stack.append(self._call(ref, tuple(_pop_mark(stack))))
            else:
                stack.append(ref)
        elif name == "STACK_GLOBAL":
            attr, module = stack.pop(), stack.pop()
            if isinstance(module, str) and isinstance(attr, str):
                stack.append(self._global(module, attr))
            else:
                self.report.imports.append(ImportRef("?", "?", "a global whose name is computed at load time"))
                stack.append(_Opaque("global"))
        elif name in ("EXT1", "EXT2", "EXT4"):
            registered = copyreg._inverted_registry.get(arg)  # type: ignore[attr-defined]
            if registered is None:
                self.report.imports.append(ImportRef("?", f"extension {arg}", "an unregistered copyreg extension"))
                stack.append(_Opaque("extension"))
            else:
                stack.append(self._global(*registered))
        elif name == "REDUCE":
            args = stack.pop()
            stack.append(self._call(stack.pop(), args))
        elif name == "NEWOBJ":
            args = stack.pop()
            stack.append(self._call(stack.pop(), args))
        elif name == "NEWOBJ_EX":
            stack.pop()  # kwargs
            args = stack.pop()
            stack.append(self._call(stack.pop(), args))
        elif name == "OBJ":
            items = _pop_mark(stack)
            stack.append(self._call(items[0], tuple(items[1:])))
        elif name == "BUILD":
            state = stack.pop()
            obj = stack[-1]
            if isinstance(obj, _Call):
                obj.state = state
                if isinstance(obj.func, _Global) and (obj.func.module, obj.func.name) in _JOBLIB_WRAPPERS:
                    self._skip_joblib_array(obj)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[int(arg)])
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            _pop_mark(stack)
        elif name == "DUP":
            stack.append(stack[-1])
        elif name in ("EMPTY_TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "TUPLE"):
            count = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}.get(name)
            if count is None:
                stack.append(tuple(_pop_mark(stack)))
            else:
                items = stack[len(stack) - count :] if count else []
                del stack[len(stack) - count :]
                stack.append(tuple(items))
        elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
            stack.append({"EMPTY_LIST": [], "EMPTY_DICT": {}, "EMPTY_SET": []}[name])
        elif name == "LIST":
            stack.append(_pop_mark(stack))
        elif name == "DICT":
            items = _pop_mark(stack)
            stack.append(_dict(items))
        elif name == "FROZENSET":
            stack.append(_pop_mark(stack))
        elif name == "APPEND":
            value = stack.pop()
            _extend(stack[-1], [value])
        elif name in ("APPENDS", "ADDITEMS"):
            items = _pop_mark(stack)
            _extend(stack[-1], items)
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            _update(stack[-1], [key, value])
        elif name == "SETITEMS":
            items = _pop_mark(stack)
            _update(stack[-1], items)
        elif name in ("PERSID", "BINPERSID"):
            if name == "BINPERSID":
                stack.pop()
            stack.append(_Opaque("persistent id"))
        else:
            self._generic(op, arg, stack)

    @staticmethod
    def _generic(op: pickletools.OpcodeInfo, arg: Any, stack: list[Any]) -> None:
        """Constants push their value; any other opcode pops and pushes per its documented stack effect."""
        before, after = op.stack_before, op.stack_after
        if pickletools.markobject in before:
            _pop_mark(stack)
            before = [s for s in before if s not in (pickletools.markobject, pickletools.stackslice)]
        for _ in before:
            stack.pop()
        if not before and len(after) == 1:
            stack.append(arg if op.arg is not None else _constant(op.name))
        else:
            stack.extend(_Opaque(op.name) for _ in after)

    def _global(self, module: str, name: str) -> _Global:
        module, name = _py3_name(module, name)
        self.report.imports.append(ImportRef(module, name, dangerous_reason(module, name)))
        return _Global(module, name)

    def _call(self, func: Any, args: Any) -> _Call:
        call = _Call(func, args)
        if isinstance(func, _Global) and func.module.startswith(_CLOUDPICKLE):
            self._note_cloudpickle(func.name, args)
        return call

    def _note_cloudpickle(self, helper: str, args: Any) -> None:
        """Record what a cloudpickle helper rebuilds from code stored in the file."""
        args = args if isinstance(args, tuple) else ()
        if helper == "_make_skeleton_class" and len(args) >= 4:
            kwargs = args[3] if isinstance(args[3], dict) else {}
            self.report.by_value.append(ByValue("class", _text(kwargs.get("__module__")), _text(args[1])))
        elif helper == "_make_skeleton_enum" and len(args) >= 5:
            self.report.by_value.append(ByValue("enum", _text(args[4]), _text(args[2])))
        elif helper == "dynamic_subimport" and args:
            self.report.by_value.append(ByValue("module", "", _text(args[0])))
        elif helper == "subimport" and args:
            self.report.imported_modules.append(_text(args[0]))
        elif helper == "_function_setstate" and len(args) >= 2:
            func, state = args[0], args[1]
            slots = state[1] if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict) else {}
            if isinstance(func, _Call) and isinstance(func.func, _Global) and func.func.name == "_make_function":
                name = slots.get("__qualname__") or slots.get("__name__") or _code_name(func.args)
                self.report.by_value.append(ByValue("function", _text(slots.get("__module__")), _text(name)))

    def _skip_joblib_array(self, wrapper: _Call) -> None:
        """Step over the array bytes joblib wrote right after a NumpyArrayWrapper (its write_array)."""
        self.saw_joblib = True
        state = wrapper.state if isinstance(wrapper.state, dict) else {}
        shape, dtype = state.get("shape"), state.get("dtype")
        itemsize, has_object = _dtype_layout(dtype)
        if has_object:
            # Object arrays are a nested pickle stream (protocol 5), read by a fresh unpickler.
            _Machine(self.stream, self.report).run()
            return
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape) or itemsize is None:
            raise PickleInspectionError("a joblib array whose shape or dtype cannot be read without unpickling")
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.stream.read(1)
            if len(padding) != 1:
                raise PickleInspectionError("truncated joblib file (array padding)")
            self.stream.seek(padding[0], io.SEEK_CUR)
        count = 1
        for n in shape:
            count *= n
        start = self.stream.tell()
        end = self.stream.seek(count * itemsize, io.SEEK_CUR)
        if end > _stream_size(self.stream):
            raise PickleInspectionError(f"truncated joblib file (an array of {count * itemsize} bytes at {start})")


def _genops(stream: BinaryIO) -> Iterator[tuple[pickletools.OpcodeInfo, Any, int | None]]:
    """``pickletools.genops`` on ``stream``: it reads lazily, so the caller may seek past raw data
    (joblib arrays) between two opcodes."""
    return pickletools.genops(stream)


def _stream_size(stream: BinaryIO) -> int:
    here = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    return size


def _pop_mark(stack: list[Any]) -> list[Any]:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            items = stack[i + 1 :]
            del stack[i:]
            return items
    raise PickleInspectionError("not a readable pickle: an opcode needs a MARK that is not on the stack")


def _dict(items: list[Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    _update(out, items)
    return out


def _update(target: Any, items: list[Any]) -> None:
    if isinstance(target, dict):
        for key, value in zip(items[::2], items[1::2], strict=False):
            try:
                target[key] = value
            except TypeError:  # an unhashable symbolic key: the content does not matter here
                pass


def _extend(target: Any, items: list[Any]) -> None:
    if isinstance(target, list):
        target.extend(items)


def _constant(opname: str) -> Any:
    return {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}.get(opname, _Opaque(opname))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "?"


def _code_name(code_call: Any) -> str:
    """The function name inside cloudpickle's ``_make_function(code, ...)`` arguments."""
    if isinstance(code_call, tuple) and code_call and isinstance(code_call[0], _Call):
        strings = [a for a in code_call[0].args if isinstance(a, str)] if isinstance(code_call[0].args, tuple) else []
        names = [s for s in strings if s.isidentifier() or "<" in s]
        if names:
            return names[-1]
    return "?"


def _py3_name(module: str, name: str) -> tuple[str, str]:
    """The module and name Python 3 resolves a protocol 0-2 (Python 2) global to, as ``fix_imports`` does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _dtype_layout(dtype: Any) -> tuple[int | None, bool]:
    """(itemsize, has_objects) of a pickled ``numpy.dtype(code, align, copy)`` with its BUILD state
    ``(version, byteorder, subarray, names, fields, elsize, alignment, flags)``."""
    if not isinstance(dtype, _Call) or not isinstance(dtype.args, tuple) or not dtype.args:
        return None, False
    code = dtype.args[0]
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = state[7] if len(state) > 7 and isinstance(state[7], int) else 0
    if (isinstance(code, str) and code.startswith("O")) or flags & 1:  # NPY_ITEM_HASOBJECT
        return None, True
    elsize = state[5] if len(state) > 5 and isinstance(state[5], int) else -1
    if elsize > 0:
        return elsize, False
    if not isinstance(code, str):
        return None, False
    import numpy as np

    try:
        return int(np.dtype(code).itemsize), False  # a dtype from its type code: a table lookup, no unpickling
    except TypeError:
        return None, False
