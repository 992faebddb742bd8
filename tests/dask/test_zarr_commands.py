# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""Zarr tensors through the rest of mlops: diff (chunk-wise statistics), show, ls and verify on the
command line, prefetch, and slices read from S3 fetching only the chunks they need."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.array")
pytest.importorskip("zarr")

import dask.array as da  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from counting_proxy import CountingProxy  # noqa: E402

from dask_processors import DaskProcessor, expected, write_raw  # noqa: E402
from mlops.cli import cli  # noqa: E402
from mlops.dataset.versioned_dataset import VersionedDataset  # noqa: E402
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder  # noqa: E402
from mlops.model.compare import compare  # noqa: E402
from sample_processors import FixedProcessor  # noqa: E402


def test_diff_sees_a_change_inside_one_chunk_and_describes_it_chunk_wise(tmp_path: Path) -> None:
    base = np.arange(400, dtype=np.float64).reshape(100, 4)
    changed = base.copy()
    changed[57, 2] = -1.0  # one element in the third chunk; zarr.json stays byte for byte the same
    raw = write_raw(str(tmp_path / "raw"))
    root = str(tmp_path / "out")
    for version, array in (("v1", base), ("v2", changed)):
        processor = FixedProcessor({"X": da.from_array(array, chunks=(25, 4))}, {})
        VersionedDatasetBuilder(raw, processor).publish(root, version)
    a, b = VersionedDataset(f"{root}/v1"), VersionedDataset(f"{root}/v2")
    result = compare(a, b)
    assert result["tensors"]["unchanged"] == []
    (change,) = result["tensors"]["changed"]
    assert change["differing_elements"] == 1
    assert change["a"]["max"] == 399.0 and change["b"]["min"] == -1.0
    assert change["b"]["mean"] == pytest.approx(changed.mean())
    # Chunks belong to their tensor, not to the other files (only the processor, which holds the data, differs).
    assert result["files"] == {"added": [], "removed": [], "changed": ["data_processor.pkl"]}
    out = CliRunner().invoke(cli, ["diff", f"{root}/v1", f"{root}/v2"])
    assert out.exit_code == 0, out.output
    assert "X" in out.output


def test_show_ls_and_verify_handle_zarr_tensors(tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    root = str(tmp_path / "out")
    path = VersionedDatasetBuilder(raw, DaskProcessor()).publish(root, "v1")
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", path])
    assert shown.exit_code == 0, shown.output
    stored = sum(p.stat().st_size for p in Path(path, "X_train.zarr").rglob("*") if p.is_file())
    row = next(line for line in shown.output.splitlines() if line.strip().startswith("X_train"))
    assert row.split()[:6] == ["X_train", "features", "100", "x", "3", "float32"]
    assert row.split()[6] == f"{stored / 1000:.1f}"  # zarr.json and every chunk, not zarr.json alone
    listed = runner.invoke(cli, ["ls", root, "--json"])
    assert listed.exit_code == 0, listed.output
    assert "v1" in listed.output
    verified = runner.invoke(cli, ["verify", path, "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)


def test_a_slice_from_s3_reads_only_its_chunks_and_prefetch_caches_them(
    s3_counted: CountingProxy, s3_bucket: str, tmp_path: Path
) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    options = {"endpoint_url": s3_counted.endpoint}
    big = np.random.default_rng(1).normal(size=(64, 4096))  # 8 chunks of 256 KB (incompressible)
    processor = FixedProcessor({"X": da.from_array(big, chunks=(8, 4096))}, {})
    path = VersionedDatasetBuilder(raw, processor).publish(f"{s3_bucket}/big", "v1", storage_options=options)
    ds = VersionedDataset(path, storage_options=options)
    s3_counted.reset()
    np.testing.assert_array_equal(np.asarray(ds.X[:8]), big[:8])
    one_chunk = s3_counted.counts().downstream
    assert 8 * 4096 * 8 * 0.9 < one_chunk < 2 * 8 * 4096 * 8  # one chunk of eight came down
    fresh = VersionedDataset(path, storage_options=options)
    fresh.prefetch(["X"])
    s3_counted.reset()
    np.testing.assert_array_equal(np.asarray(fresh.X), big)  # every chunk from the local cache
    assert s3_counted.counts().downstream == 0
    x, _ = expected(raw)  # the raw data stayed as it was
    assert x.shape == (100, 3)


def test_the_catalog_sizes_and_describes_zarr_tensors(tmp_path: Path) -> None:
    from mlops.catalog.data import build_catalog

    raw = write_raw(str(tmp_path / "raw"))
    root = str(tmp_path / "out")
    for version, scale in (("v1", 1.0), ("v2", 2.0)):
        array = da.from_array(np.arange(400, dtype=np.float64).reshape(100, 4) * scale, chunks=(25, 4))
        VersionedDatasetBuilder(raw, FixedProcessor({"X": array}, {})).publish(root, version)
    catalog = build_catalog([root])
    views = sorted(catalog.datasets.values(), key=lambda d: d.meta.version)
    tensors = [next(t for t in d.tensors if t.meta.name == "X") for d in views]
    stored = sum(p.stat().st_size for p in Path(root, "v1", "X.zarr").rglob("*") if p.is_file())
    assert tensors[0].size == stored
    assert tensors[0].sha256 != tensors[1].sha256  # same zarr.json, different chunks
    assert tensors[1].stats is not None and tensors[1].stats["max"] == 798.0


def test_republish_copies_a_zarr_tensor_to_s3_whole(s3_bucket: str, tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, DaskProcessor()).publish(str(tmp_path / "out"), "v1")
    copied = CliRunner().invoke(cli, ["republish", path, f"{s3_bucket}/rows"])
    assert copied.exit_code == 0, copied.output
    ds = VersionedDataset(f"{s3_bucket}/rows/v1")
    assert ds.hash == VersionedDataset(path).hash
    np.testing.assert_array_equal(np.asarray(ds.X_train), expected(raw)[0])
    ds.verify()
