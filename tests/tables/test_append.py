"""Appending 1% of rows to a table rewrites only its last parts: the publish stores at most 5% new
bytes, the rest reused from the previous version (see mlops.versions.dedup)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from mlops import VersionedDataset, VersionedDatasetBuilder  # noqa: E402
from mlops.dataset import parquet_parts, tables  # noqa: E402
from table_processors import TablesProcessor, numeric_frame, write_raw  # noqa: E402

ROWS = 200_000  # ~6 MB in memory, ~50 parts of 4096 rows with 128 kB parts


def _make(rows: int) -> tuple[dict[str, object], dict[str, object]]:
    frame = numeric_frame(rows)
    return {"X": frame.drop(columns="d")}, {"y": frame["d"]}


def test_appending_one_percent_of_rows_stores_at_most_five_percent_new_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "TARGET_PART_BYTES", 128 << 10)
    raw = write_raw(str(tmp_path / "raw"))
    root = str(tmp_path / "datasets")
    v1 = VersionedDatasetBuilder(raw, TablesProcessor(functools.partial(_make, ROWS))).publish(root, "v1")
    encoded: list[int] = []
    encode = parquet_parts.encode
    monkeypatch.setattr(parquet_parts, "encode", lambda part: encoded.append(part.num_rows) or encode(part))
    v2 = VersionedDatasetBuilder(raw, TablesProcessor(functools.partial(_make, ROWS + ROWS // 100))).publish(root, "v2")
    assert 0 < len(encoded) <= 4  # the parts seen in v1 were not encoded again, only the last ones
    first, second = VersionedDataset(v1), VersionedDataset(v2)
    assert first.record.tensors["X"].table.files >= 20  # type: ignore[union-attr]
    stats = second.record.publish
    assert stats is not None and stats.bytes_reused > 0
    assert stats.bytes_written <= 0.05 * second.record.total_bytes, stats.describe()
    assert len(second.X) == ROWS + ROWS // 100
    assert second.X.iloc[:ROWS].equals(first.X)
    table = second.record.tensors["X"].table
    assert table is not None and table.rows == ROWS + ROWS // 100
    whole = numeric_frame(ROWS + ROWS // 100)
    column = table.column("b")  # statistics of reused parts come from their footers
    assert column is not None and (column.min, column.max) == (whole.b.min(), whole.b.max())


@pytest.mark.parametrize("blake3_installed", [True, False])
def test_the_fingerprint_tells_equal_rows_from_different_ones(
    blake3_installed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BLAKE3 when the tables extra installed it, sha256 otherwise: both name themselves, so a cache
    filled under one is never read as the other."""
    import sys

    import pyarrow as pa

    if blake3_installed:
        pytest.importorskip("blake3")
    else:
        monkeypatch.setitem(sys.modules, "blake3", None)  # import blake3 now fails
    parquet_parts._hash_function.cache_clear()
    try:
        table = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
        again = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
        prints = {
            parquet_parts.fingerprint(table.slice(0, 500)),
            parquet_parts.fingerprint(again.slice(0, 500)),  # the same rows, another table
            parquet_parts.fingerprint(table.slice(0, 500).replace_schema_metadata({b"k": b"v"})),  # metadata aside
        }
        assert len(prints) == 1
        (same,) = prints
        assert same.startswith("blake3-" if blake3_installed else "sha256-")
        assert parquet_parts.fingerprint(table.slice(1, 500)) != same  # the rows shifted by one
        assert (
            parquet_parts.fingerprint(table.slice(0, 500).cast(pa.schema([("a", pa.int32()), ("b", pa.string())])))
            != same
        )
    finally:
        parquet_parts._hash_function.cache_clear()
