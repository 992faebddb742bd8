"""Tables Parquet cannot hold as they are fail when the builder is made, naming the column, and
nothing is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pl = pytest.importorskip("polars")

from mlops import VersionedDatasetBuilder  # noqa: E402
from mlops.errors import InvalidProcessorOutputError, TableColumnError  # noqa: E402
from table_processors import TablesProcessor, write_raw  # noqa: E402


def _index_like_column() -> Any:
    frame = pd.DataFrame({"id": [1, 2]})
    frame.index.name = "id"
    return frame


BAD = {
    "mixed objects": (pd.DataFrame({"ok": [1, 2, 3], "mixed": ["a", 1, 2.5]}), "column 'mixed'.*str"),
    "duplicate names": (pd.DataFrame([[1, 2]], columns=["a", "a"]), "column 'a'.*more than once"),
    "integer names": (pd.DataFrame([[1, 2]]), "column 0 .*int name"),
    "hierarchical names": (
        pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])),
        "MultiIndex",
    ),
    "index of mixed objects": (pd.DataFrame({"v": [1, 2]}, index=pd.Index(["a", 3], name="key")), "index level 'key'"),
    "index named like a column": (_index_like_column(), "index .*named 'id', like one of its columns"),
    "index with a number for a name": (pd.DataFrame({"v": [1]}, index=pd.Index([0], name=7)), "index .*named 7"),
    "series with a number for a name": (pd.Series([1, 2], name=3), "named 3"),
    "arrow duplicate names": (pa.table([pa.array([1]), pa.array([2])], names=["x", "x"]), "column 'x'.*more than once"),
    "polars objects": (pl.DataFrame({"o": pl.Series([object(), object()], dtype=pl.Object)}), "column 'o'.*Object"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_tables_fail_naming_the_column_before_anything_is_written(case: str, tmp_path: Path) -> None:
    value, message = BAD[case]
    raw = write_raw(str(tmp_path / "raw"))
    with pytest.raises(TableColumnError, match=message) as caught:
        VersionedDatasetBuilder(raw, TablesProcessor(lambda: ({"X": value}, {}))).publish(str(tmp_path / "out"))
    assert isinstance(caught.value, InvalidProcessorOutputError)
    assert not (tmp_path / "out").exists()


def test_other_objects_are_still_refused_with_the_kinds_accepted(tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    with pytest.raises(InvalidProcessorOutputError, match="numpy arrays, dask arrays or tables"):
        VersionedDatasetBuilder(raw, TablesProcessor(lambda: ({"X": [1, 2, 3]}, {})))
