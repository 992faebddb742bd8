# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""Dask tensors stored as Zarr v3: lazy validation, publish on the threaded scheduler, verified lazy
reads, plain zarr readers, and a corrupted chunk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.array")
pytest.importorskip("zarr")

import dask.array as da  # noqa: E402
import zarr  # noqa: E402

import dask_processors  # noqa: E402
from dask_processors import CHUNK, ROWS, DaskProcessor, expected, write_raw  # noqa: E402
from format_checks import check_against_json_schema  # noqa: E402
from mlops.dataset.versioned_dataset import VersionedDataset  # noqa: E402
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder  # noqa: E402
from mlops.errors import IntegrityError, InvalidProcessorOutputError  # noqa: E402
from sample_processors import FixedProcessor  # noqa: E402


@pytest.fixture
def raw(tmp_path: Path) -> str:
    folder: str = write_raw(str(tmp_path / "raw"))
    return folder


@pytest.fixture
def published(raw: str, tmp_path: Path) -> str:
    path: str = VersionedDatasetBuilder(raw, DaskProcessor()).publish(str(tmp_path / "datasets" / "rows"), "v1")
    return path


def test_the_builder_computes_nothing_before_publish(raw: str, tmp_path: Path) -> None:
    dask_processors.COMPUTED.clear()
    builder = VersionedDatasetBuilder(raw, DaskProcessor())
    assert isinstance(builder.features["X_train"], da.Array)
    assert dask_processors.COMPUTED == []
    builder.publish(str(tmp_path / "out"), "v1")
    assert sum(dask_processors.COMPUTED) >= ROWS  # every block ran, during publish


def test_each_dask_tensor_is_a_zarr_v3_array_with_one_object_per_dask_chunk(published: str, raw: str) -> None:
    meta = json.loads(Path(published, "meta.json").read_text())
    check_against_json_schema(meta)
    assert meta["tensors"]["X_train"]["format"] == "zarr"
    assert meta["tensors"]["X_train"]["file"] == "X_train.zarr"
    assert meta["tensors"]["X_small"]["format"] == "npy"
    assert sorted(os.listdir(Path(published, "X_train.zarr", "c"))) == [str(i) for i in range(ROWS // CHUNK)]
    manifest = [json.loads(line)["path"] for line in Path(published, "manifest.jsonl").read_text().splitlines()]
    assert [p for p in manifest if p.startswith("X_train.zarr/")] == [
        *(f"X_train.zarr/c/{i}/0" for i in range(ROWS // CHUNK)),
        "X_train.zarr/zarr.json",
    ]
    x, y = expected(raw)
    plain = zarr.open_array(os.path.join(published, "X_train.zarr"), mode="r")
    assert plain.chunks == (CHUNK, 3)
    np.testing.assert_array_equal(plain[:], x)
    np.testing.assert_array_equal(da.from_zarr(os.path.join(published, "y_train.zarr")).compute(), y)


def test_a_chunked_tensor_loads_as_a_lazy_verified_dask_array(published: str, raw: str) -> None:
    x, y = expected(raw)
    ds = VersionedDataset(published)
    assert isinstance(ds.X_train, da.Array)
    assert ds.X_train.chunks == ((CHUNK,) * (ROWS // CHUNK), (3,))
    np.testing.assert_array_equal(np.asarray(ds.X_train[:10]), x[:10])
    np.testing.assert_array_equal(np.asarray(ds["y_train"]), y)
    np.testing.assert_array_equal(ds.X_small, np.arange(5))
    assert float(ds.X_train.sum().compute()) == pytest.approx(float(x.sum()), rel=1e-5)
    ds.verify()


def test_a_flipped_byte_in_one_chunk_fails_that_chunk_only_naming_it(published: str, raw: str) -> None:
    chunk = Path(published, "X_train.zarr", "c", "1", "0")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    x, _ = expected(raw)
    ds = VersionedDataset(published)
    np.testing.assert_array_equal(np.asarray(ds.X_train[:CHUNK]), x[:CHUNK])
    np.testing.assert_array_equal(np.asarray(ds.X_train[2 * CHUNK :]), x[2 * CHUNK :])
    with pytest.raises(IntegrityError, match="X_train.zarr/c/1/0") as info:
        np.asarray(ds.X_train[CHUNK : 2 * CHUNK])
    assert info.value.file == "X_train.zarr/c/1/0"
    with pytest.raises(IntegrityError, match="X_train.zarr/c/1/0"):
        ds.verify()


def test_prediction_data_stays_lazy(raw: str) -> None:
    dask_processors.COMPUTED.clear()
    features = DaskProcessor().get_preprocessed_features(raw)
    assert isinstance(features["X_train"], da.Array)
    assert dask_processors.COMPUTED == []


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (da.ones((10, 2), chunks=((3, 4, 3), (2,))), "irregular chunks along axis 0"),
        (da.ones(10, chunks=5)[da.ones(10, chunks=5) > 0], "unknown shape"),
        (da.from_array(np.array([object()] * 4, dtype=object), chunks=2), "Python objects"),
    ],
)
def test_unstorable_dask_tensors_are_refused_before_anything_runs(raw: str, array: da.Array, message: str) -> None:
    with pytest.raises(InvalidProcessorOutputError, match=message):
        VersionedDatasetBuilder(raw, FixedProcessor({"X": array}, {}))


def test_a_chunk_equal_to_the_fill_value_is_stored_like_any_other(raw: str, tmp_path: Path) -> None:
    # All-zero chunks (a block of identical labels, padding) are what zarr skips by default.
    values = np.zeros((12, 2), dtype=np.int8)
    values[4:8] = 3
    labels = da.from_array(values, chunks=(4, 2))
    path = VersionedDatasetBuilder(raw, FixedProcessor({"X": labels}, {})).publish(str(tmp_path / "out"), "v1")
    assert sorted(os.listdir(Path(path, "X.zarr", "c"))) == ["0", "1", "2"]
    np.testing.assert_array_equal(np.asarray(VersionedDataset(path).X), values)
    np.testing.assert_array_equal(zarr.open_array(os.path.join(path, "X.zarr"), mode="r")[:], values)
    VersionedDataset(path).verify()


def test_xarray_opens_the_chunked_tensors_of_a_version(published: str, raw: str) -> None:
    xr = pytest.importorskip("xarray")
    x, y = expected(raw)
    with xr.open_zarr(published) as opened:  # the version folder is a group; its metadata consolidated
        assert set(opened.data_vars) == {"X_train.zarr", "y_train.zarr"}
        assert opened["X_train.zarr"].dims == ("X_train_dim_0", "X_train_dim_1")
        assert opened["X_train.zarr"].chunks == ((CHUNK,) * (ROWS // CHUNK), (3,))
        np.testing.assert_array_equal(opened["X_train.zarr"].values, x)
        np.testing.assert_array_equal(opened["y_train.zarr"].values, y)
    plain = zarr.open_array(os.path.join(published, "X_train.zarr"), mode="r")  # each array stays plain
    assert json.loads(Path(published, "X_train.zarr", "zarr.json").read_text())["dimension_names"] == [
        "X_train_dim_0",
        "X_train_dim_1",
    ]
    assert plain.shape == (ROWS, 3)
    files = VersionedDataset(published).files
    assert "zarr.json" in files  # in the manifest like every file, so verify checks it
    VersionedDataset(published).verify()


def test_a_version_of_numpy_tensors_only_is_no_zarr_group(raw: str, tmp_path: Path) -> None:
    path = VersionedDatasetBuilder(raw, FixedProcessor({"X": np.arange(4)}, {})).publish(str(tmp_path / "o"), "v1")
    assert not Path(path, "zarr.json").exists()


def test_xarray_opens_a_version_on_s3(raw: str, s3_bucket: str) -> None:
    xr = pytest.importorskip("xarray")
    path = VersionedDatasetBuilder(raw, DaskProcessor()).publish(f"{s3_bucket}/rows", "v1")
    with xr.open_zarr(path) as opened:  # through zarr's fsspec store, the moto server from AWS_ENDPOINT_URL
        np.testing.assert_array_equal(opened["X_train.zarr"].values, expected(raw)[0])


def test_a_plugin_store_with_the_two_argument_create_exclusive_takes_chunks(raw: str) -> None:
    """Chunk writes ask only stores that need syncing (local disks) to defer their flush: a plugin
    store written against the two-argument ``create_exclusive`` (as README's example) still works."""
    from typing import Any

    from mlops import FsspecStore, hookimpl
    from mlops.plugins import manager as plugins
    from mlops.store import Location

    created: list[str] = []

    class TwoArgumentStore(FsspecStore):
        schemes = ("memory",)

        def create_exclusive(self, loc: Location, data: bytes) -> None:  # type: ignore[override]
            created.append(loc.name)
            super().create_exclusive(loc, data)

    class Plugin:
        @hookimpl
        def mlops_register_stores(self, register: Any) -> None:
            register(TwoArgumentStore)

    manager = plugins.get_plugin_manager()
    plugin = Plugin()
    manager.register(plugin)
    try:
        path = VersionedDatasetBuilder(raw, DaskProcessor()).publish("memory://two-argument/rows", "v1")
        dataset = VersionedDataset(path)
        np.testing.assert_array_equal(np.asarray(dataset.X_train), expected(raw)[0])
    finally:
        manager.unregister(plugin)
    assert created.count("0") >= ROWS // CHUNK  # every chunk of X_train (keys c/I/0) went through it
