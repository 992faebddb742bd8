"""Tables read as tensors: ``mlops.plugin.table_to_numpy`` stacks the numeric columns of pandas, polars,
Arrow and dask tables, and refuses any other column by name, saying how to fix it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import dask.dataframe as dd
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from mlops.errors import MlopsError, NonNumericColumnError
from mlops.plugin import is_table, table_kind, table_to_numpy


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": np.array([31, 45, 27, 60], dtype=np.int32),
            "income": np.array([1.5, np.nan, 2.25, 4.0], dtype=np.float32),
            "member": [True, False, True, True],
            "visits": pd.array([1, 2, 3, 4], dtype="Int64"),
        },
        index=pd.Index([10, 11, 12, 13], name="customer"),  # the index is not a column
    )


EXPECTED = np.array([[31, 1.5, 1, 1], [45, np.nan, 0, 2], [27, 2.25, 1, 3], [60, 4.0, 1, 4]])


def _as(kind: str, frame: pd.DataFrame) -> Any:
    if kind == "pandas":
        return frame
    if kind == "polars":
        return pl.from_pandas(frame)
    if kind == "arrow":
        return pa.Table.from_pandas(frame, preserve_index=False)
    return dd.from_pandas(frame, npartitions=2)


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow", "dask"])
def test_numeric_columns_are_stacked_in_order(kind: str) -> None:
    table = _as(kind, _frame())
    assert table_kind(table) == kind and is_table(table)
    array = table_to_numpy(table, "X_train")
    if kind == "dask":
        assert type(array).__module__.startswith("dask.array")
        assert array.numblocks == (2, 1)  # one block per partition, converted when read
        array = array.compute()
    assert isinstance(array, np.ndarray) and array.dtype == np.float64 and array.shape == (4, 4)
    np.testing.assert_array_equal(array, EXPECTED)


@pytest.mark.parametrize(
    ("series", "dtype"),
    [
        (pd.Series([1, 2, 3], dtype="int16", name="n"), np.int16),
        (pl.Series("n", [1.0, 2.0, 3.0], dtype=pl.Float32), np.float32),
        (pa.chunked_array([[1, 2], [3]], type=pa.int64()), np.int64),
        (pa.array([True, False, True]), np.bool_),
    ],
)
def test_a_series_is_one_dimensional(series: Any, dtype: type) -> None:
    array = table_to_numpy(series, "y_train")
    assert array.shape == (3,) and array.dtype == dtype


def test_the_common_type_is_numpys() -> None:
    small = pd.DataFrame({"a": np.array([1, 2], dtype=np.int8), "b": np.array([0.5, 1], dtype=np.float32)})
    assert table_to_numpy(small).dtype == np.float32
    assert table_to_numpy(pl.DataFrame({"flag": [True, False]})).dtype == np.bool_


def test_anything_else_is_returned_as_it_is() -> None:
    array = np.arange(3)
    assert table_to_numpy(array) is array
    assert not is_table(array) and table_kind([1, 2]) is None


NON_NUMERIC = [
    ("pandas string", lambda f: f.assign(city=["Oslo", "Lima", "Pune", "Kyiv"]), "city"),
    ("pandas categorical", lambda f: f.assign(plan=pd.Categorical(["a", "b", "a", "b"])), "plan"),
    ("pandas datetime", lambda f: f.assign(seen=pd.date_range("2024-01-01", periods=4, tz="UTC")), "seen"),
    ("pandas object", lambda f: f.assign(blob=pd.Series([{}, [], 1, "x"], index=f.index, dtype=object)), "blob"),
    ("polars string", lambda f: pl.from_pandas(f).with_columns(pl.lit("x").alias("city")), "city"),
    ("polars list", lambda f: pl.from_pandas(f).with_columns(pl.lit([1, 2]).alias("tags")), "tags"),
    ("polars categorical", lambda f: pl.from_pandas(f).with_columns(pl.lit("a").cast(pl.Categorical).alias("c")), "c"),
    ("arrow string", lambda f: pa.table({"age": [1, 2], "city": ["Oslo", "Lima"]}), "city"),
    ("arrow dictionary", lambda f: pa.table({"plan": pa.array(["a", "b"]).dictionary_encode()}), "plan"),
    ("dask string", lambda f: dd.from_pandas(f.assign(city=["Oslo", "Lima", "Pune", "Kyiv"]), npartitions=2), "city"),
]


@pytest.mark.parametrize(("case", "make", "column"), NON_NUMERIC, ids=[c[0] for c in NON_NUMERIC])
def test_a_non_numeric_column_is_named(case: str, make: Any, column: str) -> None:
    with pytest.raises(NonNumericColumnError, match=rf"column '{column}' of 'X_train' .* preprocess_features") as info:
        table_to_numpy(make(_frame()), "X_train")
    assert isinstance(info.value, MlopsError) and isinstance(info.value, TypeError)
    assert (info.value.tensor, info.value.column) == ("X_train", column)


@pytest.mark.parametrize(
    "table",
    [
        pd.DataFrame({"visits": pd.array([1, None], dtype="Int64")}),
        pl.DataFrame({"visits": [1, None]}),
        pa.table({"visits": [1, None]}),
    ],
    ids=["pandas", "polars", "arrow"],
)
def test_missing_values_in_an_integer_column_are_refused(table: Any) -> None:
    with pytest.raises(NonNumericColumnError, match=r"column 'visits' .* 1 missing value.*fill"):
        table_to_numpy(table, "X_train")


def test_importing_mlops_and_its_plugin_sdk_imports_no_table_library() -> None:
    code = (
        "import sys, mlops, mlops.plugin\n"
        "from mlops import plugins\n"
        "plugins.serializers(); plugins.dataset_adapters()\n"
        "print([m for m in ('pandas', 'polars', 'pyarrow', 'dask.dataframe') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
