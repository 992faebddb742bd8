# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""A dask DataFrame published from a 2-worker LocalCluster to the moto S3 server: the workers write
one Parquet file per partition (the client never computes a partition), and reading it back gives
a lazy dask DataFrame whose partitions are each verified when read."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
dd = pytest.importorskip("dask.dataframe")

from distributed import Client  # noqa: E402

import table_processors  # noqa: E402
from mlops import VersionedDataset, VersionedDatasetBuilder  # noqa: E402
from mlops.errors import IntegrityError  # noqa: E402
from table_processors import DaskTableProcessor, dask_frame, write_raw  # noqa: E402


def test_a_cluster_publishes_a_dask_dataframe_to_s3_and_it_reads_back_lazily(
    client: Client, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_processors, "COMPUTED", [])
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, DaskTableProcessor(partitions=4)).publish(f"{s3_bucket}/datasets", "v1")
    assert table_processors.COMPUTED == []  # the workers computed and wrote every partition

    ds = VersionedDataset(path)
    info = ds.record.tensors["X_train"]
    assert info.table is not None and (info.table.kind, info.table.rows, info.table.files) == ("dask", 1000, 4)
    assert {c.name: (c.min, c.max) for c in info.table.columns}["x"] == (0.0, 99.9)
    frame = ds.X_train
    assert isinstance(frame, dd.DataFrame) and frame.npartitions == 4
    expected = dask_frame(4).compute()
    pd.testing.assert_frame_equal(client.compute(frame).result(), expected, check_index_type=False)
    assert ds.table("X_train", columns=["x"]).num_rows == 1000


def test_a_damaged_partition_is_named_when_its_task_reads_it(tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, DaskTableProcessor(partitions=3)).publish(str(tmp_path / "out"), "v1")
    victim = Path(path) / "X_train.parquet" / "part-00001.parquet"
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.chmod(0o644)
    victim.write_bytes(bytes(data))
    frame = VersionedDataset(path).X_train  # lazy: nothing read yet
    assert len(frame.partitions[0].compute()) == 250
    with pytest.raises(IntegrityError, match="X_train.parquet/part-00001.parquet"):
        frame.compute()
