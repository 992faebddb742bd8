"""Tables as numeric arrays, for the frameworks that train on tensors (torch, Keras...).

A table is a pandas DataFrame or Series, a polars DataFrame or Series, a pyarrow Table, RecordBatch
or (chunked) array, or a dask DataFrame or Series. :func:`table_kind` recognises one from the
module names of its classes, so nothing here imports pandas, polars or pyarrow before a table of
that library is given (``import mlops`` stays light). :func:`table_to_numpy` stacks the float,
integer and bool columns of a table into one 2-D array (a Series or array gives a 1-D one); any
other column (strings, categories, dates, lists, Python objects...) is refused with
:class:`~mlops.errors.NonNumericColumnError` naming it, as is an integer or bool column holding
missing values, which no integer tensor can hold. The index of a pandas table is not a column and
is left out. A dask table becomes a lazy dask array, one block per partition, each converted (and
checked) when it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mlops.errors import NonNumericColumnError
from mlops.metadata import TableKind

TableLibrary = Literal["pandas", "polars", "arrow", "dask"]


@dataclass(frozen=True)
class TableClass:
    """What a table class is: its library, 1 (a Series or array) or 2 dimensions, and the kind it
    is stored as in a dataset (``None``: converted to arrays, never stored as a table)."""

    library: TableLibrary
    ndim: int
    stored: TableKind | None


_TABLE_CLASSES: dict[tuple[str, str], TableClass] = {
    ("pandas", "DataFrame"): TableClass("pandas", 2, "pandas"),
    ("pandas", "Series"): TableClass("pandas", 1, "pandas-series"),
    ("polars", "DataFrame"): TableClass("polars", 2, "polars"),
    ("polars", "Series"): TableClass("polars", 1, "polars-series"),
    ("pyarrow", "Table"): TableClass("arrow", 2, "arrow"),
    ("pyarrow", "RecordBatch"): TableClass("arrow", 2, None),
    ("pyarrow", "ChunkedArray"): TableClass("arrow", 1, None),
    ("pyarrow", "Array"): TableClass("arrow", 1, None),
    ("dask", "DataFrame"): TableClass("dask", 2, "dask"),
    ("dask", "Series"): TableClass("dask", 1, None),
}
"""(top-level package, class name) of the table classes (a subclass of one is one too): the one
place that says which values are tables, for storing them (:mod:`mlops.dataset.tables`) and for
reading them as tensors (here)."""

NUMERIC_KINDS = frozenset("biuf")
"""numpy dtype kinds read as tensors: bool, signed and unsigned integers, floats."""

FIX = "encode it as numbers in preprocess_features (e.g. category codes or one-hot columns), or drop it"


def table_class(value: Any) -> TableClass | None:
    """What table ``value`` is (see :class:`TableClass`), or ``None`` for anything else; decided
    from its classes' modules and names, without importing any table library."""
    for cls in type(value).__mro__:
        found = _TABLE_CLASSES.get((cls.__module__.split(".", 1)[0], cls.__name__))
        if found is not None:
            return found
    return None


def table_kind(value: Any) -> TableLibrary | None:
    """``"pandas"``, ``"polars"``, ``"arrow"`` or ``"dask"`` when ``value`` is a table (DataFrame,
    Series, Arrow table or array) of that library, else ``None``. Imports none of them."""
    found = table_class(value)
    return None if found is None else found.library


def is_table(value: Any) -> bool:
    """Whether ``value`` is a table :func:`table_to_numpy` converts (see :func:`table_kind`)."""
    return table_class(value) is not None


def is_dataframe(value: Any) -> bool:
    """Whether ``value`` is a two-dimensional table with named columns (a DataFrame, an Arrow
    Table or RecordBatch), not a Series or an array."""
    found = table_class(value)
    return found is not None and found.ndim == 2


def column_names(table: Any) -> list[str]:
    """The column names of a DataFrame or Arrow table, in order, as strings."""
    found = table_class(table)
    if found is None or found.ndim != 2:
        raise TypeError(f"{type(table).__qualname__} is not a DataFrame or an Arrow table")
    names = table.column_names if found.library == "arrow" else list(table.columns)
    return [str(name) for name in names]


def table_to_numpy(table: Any, name: str = "table") -> Any:
    """The numeric columns of ``table`` as one array: 2-D (rows, columns) for a DataFrame or an
    Arrow table, in column order; 1-D for a Series or an Arrow array. The dtype is numpy's common
    type of the columns' (float32 and int8 columns give float32; int64 and float32 give float64).

    A dask table gives a lazy dask array with one block per partition (its column types are
    checked now, from its metadata; the number of rows of each partition is counted now, one
    pass that holds one partition at a time). Anything that is not a table is returned as it is.
    ``name`` (the tensor's name) is used in errors. Raises
    :class:`~mlops.errors.NonNumericColumnError` for a column that is not float, integer or bool,
    or an integer or bool column with missing values, naming it."""
    found = table_class(table)
    if found is None:
        return table
    kind, ndim = found.library, found.ndim
    if kind == "dask":
        return _dask_to_array(table, name, ndim)
    columns = _columns(table, kind, ndim)
    dtype = _common_dtype(name, [(column, _column_dtype(name, column, values, kind)) for column, values in columns])
    if ndim == 1:
        return _column_to_numpy(name, *columns[0], kind, dtype)
    out = np.empty((_length(table, kind), len(columns)), dtype=dtype)
    for i, (column, values) in enumerate(columns):
        out[:, i] = _column_to_numpy(name, column, values, kind, dtype)
    return out


def _columns(table: Any, kind: TableLibrary, ndim: int) -> list[tuple[str | None, Any]]:
    """(name, values) of each column; a Series or array is its one, unnamed, column."""
    if ndim == 1:
        return [(None, table)]
    if kind == "pandas":
        return [(str(column), table.iloc[:, i]) for i, column in enumerate(table.columns)]
    if kind == "polars":
        return [(str(column), table.get_column(column)) for column in table.columns]
    return [(str(column), table.column(i)) for i, column in enumerate(table.column_names)]


def _length(table: Any, kind: TableLibrary) -> int:
    return int(table.num_rows) if kind == "arrow" else len(table)


def _where(name: str, column: str | None) -> str:
    return f"column {column!r} of {name!r}" if column is not None else repr(name)


def _refuse(name: str, column: str | None, dtype: Any) -> NonNumericColumnError:
    return NonNumericColumnError(
        f"{_where(name, column)} has type {dtype}, which is not a number: only float, integer and bool "
        f"columns are read as tensors; {FIX}",
        tensor=name,
        column=column,
    )


def _missing(name: str, column: str | None, dtype: Any, count: int) -> NonNumericColumnError:
    return NonNumericColumnError(
        f"{_where(name, column)} has type {dtype} and {count} missing value(s), which no {dtype} tensor can "
        "hold: fill them in preprocess_features (fillna / fill_null), or cast the column to float (missing "
        "values become NaN)",
        tensor=name,
        column=column,
    )


def _column_dtype(name: str, column: str | None, values: Any, kind: TableLibrary) -> np.dtype[Any]:
    """The numpy dtype a column converts to, or the error naming it when it is not numeric."""
    if kind == "pandas":
        return _pandas_dtype(name, column, values.dtype)
    found: np.dtype[Any]
    if kind == "polars":
        import polars as pl

        dtype = values.dtype
        if not (dtype.is_integer() or dtype.is_float() or dtype == pl.Boolean):
            raise _refuse(name, column, dtype)
        found = np.dtype(values.head(0).to_numpy().dtype)
        return found
    import pyarrow as pa

    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_boolean(values.type)):
        raise _refuse(name, column, values.type)
    found = np.dtype(values.type.to_pandas_dtype())
    return found


def _pandas_dtype(name: str, column: str | None, dtype: Any) -> np.dtype[Any]:
    """The numpy dtype of a pandas column's dtype (numpy, nullable or Arrow-backed), if numeric."""
    if getattr(dtype, "kind", "O") not in NUMERIC_KINDS:
        raise _refuse(name, column, dtype)
    try:
        found: np.dtype[Any] = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        return found
    except TypeError:
        raise _refuse(name, column, dtype) from None


def _common_dtype(name: str, dtypes: Sequence[tuple[str | None, np.dtype[Any]]]) -> np.dtype[Any]:
    if not dtypes:
        raise NonNumericColumnError(f"{name!r} has no columns: there is nothing to read as a tensor", tensor=name)
    return np.result_type(*(dtype for _, dtype in dtypes))


def _column_to_numpy(name: str, column: str | None, values: Any, kind: TableLibrary, dtype: np.dtype[Any]) -> Any:
    """One column as a 1-D numpy array of ``dtype`` (missing floats become NaN)."""
    if kind == "pandas":
        missing = int(values.isna().sum())
        if missing and values.dtype.kind != "f":
            raise _missing(name, column, values.dtype, missing)
        return values.to_numpy(dtype=dtype, na_value=np.nan) if missing else values.to_numpy(dtype=dtype)
    if kind == "polars":
        missing = int(values.null_count())
        if missing and not values.dtype.is_float():
            raise _missing(name, column, values.dtype, missing)
        return values.to_numpy().astype(dtype, copy=False)
    import pyarrow as pa

    missing = int(values.null_count)
    if missing and not pa.types.is_floating(values.type):
        raise _missing(name, column, values.type, missing)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def _dask_to_array(table: Any, name: str, ndim: int) -> Any:
    """A dask DataFrame or Series as a lazy dask array, one block per partition, converted by
    :func:`table_to_numpy` when read; its column types are checked now, from its metadata."""
    import dask
    import dask.array as da

    dtypes: list[tuple[str | None, np.dtype[Any]]]
    if ndim == 1:
        dtypes = [(None, _pandas_dtype(name, None, table.dtype))]
    else:
        dtypes = [(str(column), _pandas_dtype(name, str(column), dtype)) for column, dtype in table.dtypes.items()]
    dtype = _common_dtype(name, dtypes)
    partitions = table.to_delayed()
    lengths = dask.compute(*(dask.delayed(len)(partition) for partition in partitions))
    convert = dask.delayed(_partition_to_numpy, pure=True)
    blocks = [
        da.from_delayed(convert(partition, name, dtype), shape=(n, len(dtypes))[:ndim], dtype=dtype)
        for partition, n in zip(partitions, lengths, strict=True)
    ]
    return da.concatenate(blocks) if blocks else da.empty((0, len(dtypes))[:ndim], dtype=dtype)


def _partition_to_numpy(partition: Any, name: str, dtype: np.dtype[Any]) -> np.ndarray:
    array: np.ndarray = table_to_numpy(partition, name)
    return array.astype(dtype, copy=False)
