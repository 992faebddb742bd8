"""Tables come back as they were published: pandas (categorical, string[pyarrow], nullable Int64,
tz-aware datetime, a named index), polars (Categorical, tz-aware Datetime, List) and Arrow, with
their schema, row count and column statistics in meta.json, and ``dataset.table`` reading a
selection."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")
pc = pytest.importorskip("pyarrow.compute")

from format_checks import check_against_json_schema  # noqa: E402
from mlops import VersionedDataset, VersionedDatasetBuilder  # noqa: E402
from table_processors import TablesProcessor, write_raw  # noqa: E402


def pandas_frame() -> Any:
    return pd.DataFrame(
        {
            "colour": pd.Categorical(["red", "blue", "red", None], categories=["red", "blue", "green"], ordered=True),
            "name": pd.array(["ann", None, "bo", "cy"], dtype="string[pyarrow]"),
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
            "seen": pd.date_range("2024-03-30", periods=4, freq="12h", tz="Europe/Paris"),
            "score": [0.5, 1.5, np.nan, -2.0],
        },
        index=pd.Index([10, 11, 12, 13], name="customer"),
    )


def polars_frame() -> Any:
    return pl.DataFrame(
        {
            "kind": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
            "at": pl.Series([1_700_000_000_000_000, None, 1_700_000_100_000_000]).cast(pl.Datetime("us", "Asia/Tokyo")),
            "items": [[1, 2], [], None],
            "value": [1.0, 2.0, 3.0],
        }
    )


def _make() -> tuple[dict[str, Any], dict[str, Any]]:
    features = {
        "X_pandas": pandas_frame(),
        "X_polars": polars_frame(),
        "X_arrow": pa.table({"id": pa.array([1, 2, 3], pa.int32()), "tag": ["x", None, "z"]}),
        "X_numpy": np.arange(6.0).reshape(3, 2),
    }
    labels = {
        "y_pandas": pd.Series([0, 1, 1, 0], name="churned", index=pd.RangeIndex(4)),
        "y_unnamed": pd.Series([1.5, 2.5]),
        "y_polars": pl.Series("target", [1, 0, 1]),
        "y_polars_unnamed": pl.Series([2.5, 3.5]),
        "y_empty": pd.DataFrame({"a": pd.Series([], dtype="float64")}),
    }
    return features, labels


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = tmp_path_factory.mktemp("tables")
    builder = VersionedDatasetBuilder(write_raw(str(base / "raw")), TablesProcessor(_make))
    return builder.publish(str(base / "datasets"), "v1")


def test_pandas_comes_back_as_pandas_with_its_dtypes_and_index(published: str) -> None:
    back = VersionedDataset(published).X_pandas
    pd.testing.assert_frame_equal(back, pandas_frame())
    assert list(back["colour"].cat.categories) == ["red", "blue", "green"] and back["colour"].cat.ordered
    assert back.index.name == "customer"
    assert str(back["seen"].dt.tz) == "Europe/Paris"


def test_series_come_back_as_series(published: str) -> None:
    ds = VersionedDataset(published)
    pd.testing.assert_series_equal(ds.y_pandas, pd.Series([0, 1, 1, 0], name="churned"))
    pd.testing.assert_series_equal(ds.y_unnamed, pd.Series([1.5, 2.5]))
    assert ds.y_polars.equals(pl.Series("target", [1, 0, 1]))
    assert ds.y_polars.name == "target"
    assert ds.y_polars_unnamed.name == "" and ds.y_polars_unnamed.to_list() == [2.5, 3.5]
    pd.testing.assert_frame_equal(ds.y_empty, pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    empty = ds.record.tensors["y_empty"].table
    assert empty is not None and (empty.rows, empty.files, empty.columns[0].nulls) == (0, 1, 0)


def test_polars_comes_back_as_polars(published: str) -> None:
    back = VersionedDataset(published).X_polars
    assert isinstance(back, pl.DataFrame)
    assert back.schema == polars_frame().schema
    assert back.equals(polars_frame())


def test_arrow_comes_back_as_arrow_and_numpy_as_numpy(published: str) -> None:
    ds = VersionedDataset(published)
    assert ds.X_arrow.equals(pa.table({"id": pa.array([1, 2, 3], pa.int32()), "tag": ["x", None, "z"]}))
    np.testing.assert_array_equal(ds.X_numpy, np.arange(6.0).reshape(3, 2))


def test_meta_json_records_schema_rows_and_statistics(published: str) -> None:
    meta = json.loads((Path(published) / "meta.json").read_text())
    check_against_json_schema(meta)
    info = meta["tensors"]["X_pandas"]
    assert (info["format"], info["dtype"], info["shape"], info["file"]) == (
        "parquet",
        "table",
        [4, 6],
        "X_pandas.parquet",
    )
    table = info["table"]
    assert (table["kind"], table["rows"], table["files"]) == ("pandas", 4, 1)
    columns = {c["name"]: c for c in table["columns"]}
    assert columns["count"] == {"name": "count", "type": "int64", "nulls": 1, "min": 1, "max": 4}
    assert columns["name"]["min"] == "ann" and columns["name"]["nulls"] == 1
    assert columns["seen"]["type"] == "timestamp[ns, tz=Europe/Paris]" or "tz=Europe/Paris" in columns["seen"]["type"]
    assert columns["seen"]["min"].startswith("2024-03-29T23:00:00")
    assert columns["customer"]["min"] == 10  # the named index is a column of the schema
    assert meta["tensors"]["X_polars"]["table"]["columns"][2] == {
        "name": "items", "type": "large_list<item: int64>", "nulls": None, "min": None, "max": None,
    }  # fmt: skip
    assert "pyarrow" in meta["libraries"] and "polars" in meta["libraries"]
    record = VersionedDataset(published).record.tensors["X_pandas"].table
    assert record is not None and record.column("score") is not None


def test_table_selects_columns_and_row_groups(published: str) -> None:
    ds = VersionedDataset(published)
    whole = ds.table("X_pandas")
    assert isinstance(whole, pa.Table) and whole.num_rows == 4
    picked = ds.table("X_pandas", columns=["count"], filter=pc.field("count") > 1)
    assert picked.column_names == ["count"] and picked.column("count").to_pylist() == [3, 4]
    assert ds.table("X_polars", columns=["value"], filter=[("value", ">=", 2.0)]).num_rows == 2
    with pytest.raises(KeyError, match="no column 'nope'"):
        ds.table("X_pandas", columns=["nope"])
    with pytest.raises(TypeError, match="not a table"):
        ds.table("X_numpy")


def test_mlops_import_does_not_import_table_libraries() -> None:
    import subprocess

    code = "import sys, mlops; print(sorted(m for m in ('pandas', 'polars', 'pyarrow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
