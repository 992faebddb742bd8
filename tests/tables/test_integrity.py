"""Every Parquet file of a table is verified before it is read: a flipped byte in one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from mlops import VersionedDataset, VersionedDatasetBuilder  # noqa: E402
from mlops.dataset import tables  # noqa: E402
from mlops.errors import IntegrityError  # noqa: E402
from table_processors import TablesProcessor, numeric_frame, write_raw  # noqa: E402


@pytest.mark.parametrize("read", ["attribute", "table", "columns"])
def test_a_flipped_byte_in_one_part_is_named_on_read(
    read: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "TARGET_PART_BYTES", 64 << 10)
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, TablesProcessor(lambda: ({"X": numeric_frame(20_000)}, {}))).publish(
        str(tmp_path / "out"), "v1"
    )
    folder = Path(path) / "X.parquet"
    parts = sorted(folder.glob("part-*.parquet"))
    assert len(parts) > 3
    victim = parts[2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.chmod(0o644)
    victim.write_bytes(bytes(data))
    ds = VersionedDataset(path)
    with pytest.raises(IntegrityError, match=f"X.parquet/{victim.name}"):
        if read == "attribute":
            ds.X  # noqa: B018
        elif read == "table":
            ds.table("X")
        else:
            ds.table("X", columns=["a"])
