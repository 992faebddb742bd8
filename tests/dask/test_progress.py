# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""The progress bar of a dask publish advances while the chunks are written, on the threaded
scheduler and from a real 2-process LocalCluster, not only at the end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

from dask_processors import DaskProcessor, write_raw  # noqa: E402
from mlops.dataset.versioned_dataset import VersionedDataset  # noqa: E402
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder  # noqa: E402

_PERCENT = re.compile(r"publish v1\s+(\d+)%")


@pytest.mark.parametrize("scheduler", ["threaded", "cluster"])
def test_the_bar_advances_while_chunks_are_written(
    scheduler: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if scheduler == "cluster":
        request.getfixturevalue("client")
    raw = write_raw(str(tmp_path / "raw"))
    builder = VersionedDatasetBuilder(raw, DaskProcessor(delay=0.1, chunk=4))  # 25 chunks a tensor, ~3 s in all
    capsys.readouterr()
    path = builder.publish(str(tmp_path / "out"), "v1", progress=True)
    drawn = [int(p) for p in _PERCENT.findall(capsys.readouterr().err)]
    VersionedDataset(path).verify()
    assert drawn and drawn[-1] == 100, drawn
    assert drawn == sorted(drawn), drawn  # never goes back
    # The bar is drawn at most ten times a second once the work has run for a second: it went
    # through several values before the end, each a share of the chunks written so far.
    assert len({p for p in drawn if 0 < p < 100}) >= 5, drawn  # (2 when only the .npy and raw files report)
