"""What differs between two versions of a dataset (or of a model): tensors, files, tags, metadata.

Tensors and files are compared by the sha256 in their manifests, so unchanged ones are never read;
only tensors whose bytes differ are loaded (verified) to describe how they changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.dataset import lazy
from mlops.errors import MlopsError
from mlops.metadata import ColumnRecord, TensorRecord
from mlops.store import FileEntry

if TYPE_CHECKING:
    from mlops.dataset.versioned_dataset import VersionedDataset
    from mlops.model.versioned_model import VersionedModel

SECTIONS_APART = ("files", "manifest", "tensors", "tags", "hash")
"""meta.json fields reported in their own section of a diff rather than as metadata changes."""
_FILE_FIELDS = ("processor.sha256", "processor.size", "training.history")
"""Nested fields reported elsewhere (the processor's file is in the files section)."""


def compare(a: VersionedDataset | VersionedModel, b: VersionedDataset | VersionedModel) -> dict[str, Any]:
    """The differences from version ``a`` to version ``b`` as plain JSON types::

    kind, a/b ({path, version, hash}), same_content,
    tensors   {added, removed, unchanged, changed}   (datasets only; changed tensors carry
              shape, dtype, mean/std/min/max on each side and, for equal shapes, how many
              elements differ)
    files     {added, removed, changed}              files that are not tensors (raw/, models)
    tags      {added, removed}
    metrics   [{name, a, b}]                         last value of each training curve (models)
    metadata  [{key, a, b}]                          every other field that differs
    """
    kind_a, kind_b = a.kind, b.kind
    if kind_a != kind_b:
        raise MlopsError(f"cannot compare a {kind_a} with a {kind_b}: give two datasets or two models")
    meta_a, meta_b = a.metadata, b.metadata
    tensor_files: set[str] = set()
    result: dict[str, Any] = {
        "kind": kind_a,
        "a": {"path": a.path, "version": a.version, "hash": a.hash},
        "b": {"path": b.path, "version": b.version, "hash": b.hash},
        "same_content": a.hash == b.hash,
    }
    if kind_a == "dataset":
        result["tensors"] = _tensors(a, b)  # type: ignore[arg-type]
        for dataset in (a, b):
            tensor_files |= {
                f
                for t in dataset.record.tensors.values()  # type: ignore[union-attr]
                for f in lazy.stored_files(t, dataset.files)
            }
    result["files"] = _files(a.files, b.files, tensor_files)
    result["tags"] = {
        "added": [t for t in meta_b["tags"] if t not in meta_a["tags"]],
        "removed": [t for t in meta_a["tags"] if t not in meta_b["tags"]],
    }
    if kind_a == "model":
        result["metrics"] = _metrics(meta_a, meta_b)
    result["metadata"] = _metadata(meta_a, meta_b)
    return result


def final_metrics(history: Any) -> dict[str, Any]:
    """The last recorded (non-null) value of every per-epoch list in a training history."""
    if not isinstance(history, Mapping):
        return {}
    finals = {}
    for key, values in history.items():
        if isinstance(values, list):
            present = [v for v in values if v is not None]
            if present:
                finals[key] = present[-1]
    return finals


def tensor_stats(array: np.ndarray) -> dict[str, Any]:
    """Shape, dtype and, for non-empty real arrays, mean/std/min/max (non-finite values as null)."""
    stats: dict[str, Any] = {"shape": list(array.shape), "dtype": str(array.dtype)}
    if array.size and (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) and not np.iscomplexobj(array):
        # One pass over the chunks of a dask (zarr) tensor, which is never loaded whole.
        values = lazy.compute(
            np.mean(array, dtype=np.float64), np.std(array, dtype=np.float64), np.min(array), np.max(array)
        )
        stats.update(zip(("mean", "std", "min", "max"), (_finite(v) for v in values), strict=True))
    return stats


def _tensors(a: VersionedDataset, b: VersionedDataset) -> dict[str, Any]:
    info_a, info_b = a.record.tensors, b.record.tensors
    out: dict[str, Any] = {
        "added": [_declared(name, info_b[name]) for name in info_b if name not in info_a],
        "removed": [_declared(name, info_a[name]) for name in info_a if name not in info_b],
        "unchanged": [],
        "changed": [],
    }
    for name in info_a:
        if name not in info_b:
            continue
        if lazy.stored_files(info_a[name], a.files) == lazy.stored_files(info_b[name], b.files):
            out["unchanged"].append(name)
            continue
        if info_a[name].table is not None or info_b[name].table is not None:
            out["changed"].append(_table_change(name, info_a[name], info_b[name]))
            continue
        array_a, array_b = a[name], b[name]
        change: dict[str, Any] = {"name": name, "a": tensor_stats(array_a), "b": tensor_stats(array_b)}
        if array_a.shape == array_b.shape and array_a.dtype == array_b.dtype:
            (differing,) = lazy.compute(np.count_nonzero(array_a != array_b))  # chunk-wise for dask tensors
            change["differing_elements"] = int(differing)
        out["changed"].append(change)
    return out


def _table_change(name: str, info_a: TensorRecord, info_b: TensorRecord) -> dict[str, Any]:
    """A changed table, from meta.json alone (nothing is read): its row counts, the columns added,
    removed or retyped, and the columns whose null count, min or max changed."""
    change: dict[str, Any] = {"name": name, "a": _declared(name, info_a), "b": _declared(name, info_b)}
    table_a, table_b = info_a.table, info_b.table
    if table_a is None or table_b is None:
        return change
    columns_a = {c.name: c for c in table_a.columns}
    columns_b = {c.name: c for c in table_b.columns}
    change["table"] = {
        "kind": [table_a.kind, table_b.kind],
        "rows": [table_a.rows, table_b.rows],
        "added": [{"name": c.name, "type": c.type} for c in table_b.columns if c.name not in columns_a],
        "removed": [{"name": c.name, "type": c.type} for c in table_a.columns if c.name not in columns_b],
        "retyped": [
            {"name": n, "a": columns_a[n].type, "b": c.type}
            for n, c in columns_b.items()
            if n in columns_a and columns_a[n].type != c.type
        ],
        "statistics": [
            {"name": n, "a": _column_stats(columns_a[n]), "b": _column_stats(c)}
            for n, c in columns_b.items()
            if n in columns_a and _column_stats(columns_a[n]) != _column_stats(c)
        ],
    }
    return change


def _column_stats(column: ColumnRecord) -> dict[str, Any]:
    return {"nulls": column.nulls, "min": column.min, "max": column.max}


def _declared(name: str, info: TensorRecord) -> dict[str, Any]:
    return {"name": name, "shape": list(info.shape), "dtype": info.dtype}


def _files(files_a: Mapping[str, FileEntry], files_b: Mapping[str, FileEntry], skip: set[str]) -> dict[str, list[str]]:
    names_a = [f for f in files_a if f not in skip]
    names_b = [f for f in files_b if f not in skip]
    return {
        "added": [f for f in names_b if f not in files_a],
        "removed": [f for f in names_a if f not in files_b],
        "changed": [f for f in names_a if f in files_b and files_a[f].sha256 != files_b[f].sha256],
    }


def _metrics(meta_a: Mapping[str, Any], meta_b: Mapping[str, Any]) -> list[dict[str, Any]]:
    finals_a = final_metrics(_history(meta_a))
    finals_b = final_metrics(_history(meta_b))
    names = list(dict.fromkeys([*finals_a, *finals_b]))
    return [
        {"name": n, "a": finals_a.get(n), "b": finals_b.get(n)} for n in names if finals_a.get(n) != finals_b.get(n)
    ]


def _history(meta: Mapping[str, Any]) -> Any:
    training = meta.get("training")
    return training.get("history") if isinstance(training, Mapping) else None


def _metadata(meta_a: Mapping[str, Any], meta_b: Mapping[str, Any]) -> list[dict[str, Any]]:
    flat_a, flat_b = _flatten(meta_a), _flatten(meta_b)
    keys = list(dict.fromkeys([*flat_a, *flat_b]))
    missing = object()
    changes = []
    for key in keys:
        value_a, value_b = flat_a.get(key, missing), flat_b.get(key, missing)
        if value_a != value_b:
            changes.append(
                {"key": key, "a": None if value_a is missing else value_a, "b": None if value_b is missing else value_b}
            )
    return changes


def _flatten(meta: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in meta.items():
        dotted = f"{prefix}{key}"
        if (not prefix and key in SECTIONS_APART) or dotted in _FILE_FIELDS:
            continue
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _finite(value: Any) -> float | int | None:
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, bool):
        return int(number)
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number  # type: ignore[no-any-return]
