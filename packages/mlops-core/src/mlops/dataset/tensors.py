"""Checks on the tensors a processor returns, made before anything is written."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops.dataset.lazy import is_dask_array
from mlops.dataset.tables import table_kind
from mlops.errors import InvalidProcessorOutputError, MaskedTensorError, TensorNameError
from mlops.metadata.names import check_tensor_name

RESERVED_NAMES = frozenset({"raw", "meta", "data_processor", "metadata"})


def check_tensors(
    features: Any, labels: Any, reserved: frozenset[str] = RESERVED_NAMES
) -> dict[str, tuple[str, np.ndarray]]:
    """Validate a processor's ``(features, labels)`` output and return ``{name: (role, array)}``.

    Dask arrays are checked from their metadata only (dtype, shape, chunks): nothing is computed.
    Tables (pandas, polars, Arrow, dask DataFrames) pass here; :func:`mlops.dataset.tables.prepare`
    checks their columns.
    Raises :class:`InvalidProcessorOutputError` for anything but dicts of numeric numpy or dask arrays
    (or tables) and
    :class:`TensorNameError` for names that collide, are reserved or break the name policy
    (:mod:`mlops.metadata.names`).
    """
    tensors: dict[str, tuple[str, np.ndarray]] = {}
    lowered: dict[str, str] = {}
    for role, group in (("features", features), ("labels", labels)):
        if not isinstance(group, dict):
            raise InvalidProcessorOutputError(
                f"the processor must return {role} as a dict of name -> numpy array, got {type(group).__name__}"
            )
        for name, array in group.items():
            _check_name(name, reserved)
            if name in tensors:
                raise TensorNameError(
                    f"tensor name {name!r} is used by both features and labels; give each tensor its own name"
                )
            if name.lower() in lowered:
                raise TensorNameError(
                    f"tensor names {lowered[name.lower()]!r} and {name!r} differ only in case; they would "
                    "collide on case-insensitive filesystems"
                )
            _check_array(name, array)
            tensors[name] = (role, array)
            lowered[name.lower()] = name
    if not tensors:
        raise InvalidProcessorOutputError("the processor returned no tensors at all")
    return tensors


def _check_name(name: Any, reserved: frozenset[str]) -> None:
    check_tensor_name(name)
    if name in reserved or name.startswith("_"):
        raise TensorNameError(
            f"tensor name {name!r} is reserved (it would shadow an attribute of VersionedDataset); rename it"
        )


def _check_array(name: str, array: Any) -> None:
    if isinstance(array, np.ma.MaskedArray):
        raise MaskedTensorError(
            f"tensor {name!r} is a numpy masked array; a .npy file would keep its data and silently drop its "
            f"mask. Return the mask as a tensor of its own (e.g. {name}_mask = np.ma.getmaskarray(a)) and the "
            "data filled in (a.filled(value)), or np.asarray(a) if the mask does not matter"
        )
    if is_dask_array(array):
        _check_dask_array(name, array)
        return
    if table_kind(array) is not None:
        return
    if not isinstance(array, np.ndarray):
        raise InvalidProcessorOutputError(
            f"tensor {name!r} is a {type(array).__module__}.{type(array).__qualname__}; processors must "
            "return numpy arrays, dask arrays or tables (pandas, polars, pyarrow or dask DataFrames); "
            "convert it with np.asarray"
        )
    if array.dtype.hasobject:
        raise InvalidProcessorOutputError(
            f"tensor {name!r} has dtype {array.dtype}, which holds Python objects and would need pickle; "
            "convert it to a numeric, boolean or fixed-width string dtype"
        )


def _check_dask_array(name: str, array: Any) -> None:
    """A dask tensor must have a known shape, a storable dtype and a regular chunk grid (every chunk
    of an axis the same size but the last), which becomes its zarr chunk grid."""
    if any(np.isnan(n) for n in array.shape):
        raise InvalidProcessorOutputError(
            f"tensor {name!r} is a dask array of unknown shape {array.shape}; call .compute_chunk_sizes() "
            "(or build it with known chunk sizes) before returning it"
        )
    if np.dtype(array.dtype).hasobject:
        raise InvalidProcessorOutputError(
            f"tensor {name!r} has dtype {array.dtype}, which holds Python objects and would need pickle; "
            "convert it to a numeric, boolean or fixed-width string dtype"
        )
    for axis, sizes in enumerate(array.chunks):
        if len(sizes) > 1 and (len(set(sizes[:-1])) > 1 or sizes[-1] > sizes[0]):
            raise InvalidProcessorOutputError(
                f"tensor {name!r} has irregular chunks along axis {axis} ({sizes[:4]}...); zarr needs every "
                f"chunk of an axis the same size but the last: call .rechunk({{{axis}: {max(sizes)}}}) first"
            )
