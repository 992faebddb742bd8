# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""``mlops predict`` on a processor that returns dask arrays: scored block by block on a 2-worker
LocalCluster (the active client, or one reached with --scheduler), written as Zarr, equal to the
same prediction made in memory."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_support import fails, ok

from mlops import Predictor, VersionedDataset, VersionedDatasetBuilder, VersionedModelBuilder
from mlops.dataset.invertible_data_processor import InvertibleDataProcessor
from mlops.serving import batch
from tests.support.dask_processors import CHUNK, ROWS, DaskProcessor, write_raw

pytest.importorskip("distributed")
SUPPORT = str(Path(__file__).resolve().parents[1] / "support")


class NamedDaskProcessor(DaskProcessor, InvertibleDataProcessor):
    """The dask processor, whose labels read back as class names."""

    def unpreprocess_features(self, feature_tensor: Any) -> Any:
        return feature_tensor / 2

    def unpreprocess_labels(self, label_tensor: Any) -> Any:
        return np.where(np.asarray(label_tensor) > 0, "positive", "not positive")


@pytest.fixture(scope="module")
def dask_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(model path, raw folder): a logistic regression on the dask processor's rows."""
    from sklearn.linear_model import LogisticRegression

    base = tmp_path_factory.mktemp("dask-serving")
    raw = write_raw(str(base / "raw"))
    dataset = VersionedDataset(VersionedDatasetBuilder(raw, NamedDaskProcessor()).publish(str(base / "ds"), "v1"))
    x, y = np.asarray(dataset.X_train), np.asarray(dataset.y_train)
    model = LogisticRegression().fit(x, y)
    return VersionedModelBuilder(dataset, model).publish(str(base / "models"), "v1"), raw


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (1 thread each); workers find the test support modules."""
    from distributed import LocalCluster

    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SUPPORT, saved]))
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as running:
            yield running
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def _in_memory(model_path: str, raw: str) -> Any:
    return Predictor(model_path).predict_raw(np.load(os.path.join(raw, "rows.npy")))


def _read(out: Path) -> dict[str, np.ndarray]:
    import zarr

    group = zarr.open_group(str(out), mode="r")
    return {name: group[name][...] for name in sorted(group.array_keys())}


@pytest.mark.slow  # a 2-worker cluster: start it early under xdist
def test_scored_block_by_block_on_the_active_client(
    dask_model: tuple[str, str], cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client

    model_path, raw = dask_model
    monkeypatch.setattr(batch, "ROW_BLOCK_BYTES", 1)  # the processor's own 25-row chunks: 4 blocks
    out = tmp_path / "scores.zarr"
    with Client(cluster) as client:
        summary = json.loads(ok("predict", model_path, raw, "-o", out, "--json"))
        # each worker opened the model (and verified it) once, not once per block
        loaded = client.run(lambda: len(batch._PREDICTORS))
    assert summary == {"path": str(out), "format": "zarr", "rows": ROWS, "labels": True, "blocks": ROWS // CHUNK}
    assert set(loaded.values()) <= {0, 1} and sum(loaded.values()) >= 1
    expected = _in_memory(model_path, raw)
    read = _read(out)
    np.testing.assert_array_equal(read["predictions"], expected.predictions)
    np.testing.assert_array_equal(read["labels"], expected.labels)
    assert set(np.unique(read["labels"])) == {"positive", "not positive"}
    assert [p.name for p in tmp_path.iterdir()] == ["scores.zarr"]


def test_scheduler_option_connects_to_a_cluster(dask_model: tuple[str, str], cluster: Any, tmp_path: Path) -> None:
    model_path, raw = dask_model
    out = tmp_path / "scores.zarr"
    printed = ok("predict", model_path, raw, "-o", out, "--scheduler", cluster.scheduler_address)
    assert printed == f"wrote predictions and labels for {ROWS} rows to {out}\n"
    np.testing.assert_array_equal(_read(out)["labels"], _in_memory(model_path, raw).labels)


def test_a_trust_policy_travels_to_the_workers(cluster: Any, tmp_path: Path) -> None:
    """Key objects do not pickle: the workers rebuild the policy from the public keys, and load
    the signed model under it."""
    from distributed import Client
    from sklearn.linear_model import LogisticRegression

    from mlops.trust.keys import generate_key_pair

    private, public = generate_key_pair(tmp_path / "team")
    raw = write_raw(str(tmp_path / "raw"))
    builder = VersionedDatasetBuilder(raw, NamedDaskProcessor())
    dataset = VersionedDataset(builder.publish(str(tmp_path / "ds"), "v1", signing_key=private))
    model = LogisticRegression().fit(np.asarray(dataset.X_train), np.asarray(dataset.y_train))
    path = VersionedModelBuilder(dataset, model).publish(str(tmp_path / "models"), "v1", signing_key=private)
    out = tmp_path / "scores.zarr"
    with Client(cluster) as client:
        client.run(lambda: batch._PREDICTORS.clear())  # the models of the other tests
        ok("predict", path, raw, "-o", out, "-k", public)
        policies = client.run(lambda: [p.model._policy.fingerprints for p in batch._PREDICTORS.values()])
    assert any(policies.values()) and all(len(f) == 1 for found in policies.values() for f in found)
    np.testing.assert_array_equal(_read(out)["labels"], _in_memory(path, raw).labels)


def test_local_threads_without_a_cluster_and_zarr_is_required(dask_model: tuple[str, str], tmp_path: Path) -> None:
    model_path, raw = dask_model
    stderr = fails("predict", model_path, raw, "-o", tmp_path / "scores.npy")
    assert "must be a Zarr folder ending in .zarr" in stderr and "scores.zarr" in stderr
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "scores.zarr"
    ok("predict", model_path, raw, "-o", out)
    np.testing.assert_array_equal(_read(out)["predictions"], _in_memory(model_path, raw).predictions)


def test_a_progress_bar_counts_the_blocks(
    dask_model: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops.utils import progress

    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)
    monkeypatch.setattr(batch, "ROW_BLOCK_BYTES", 1)
    model_path, raw = dask_model
    result = batch.predict_to_file(Predictor(model_path), raw, tmp_path / "s.zarr", show_progress=True)
    assert result.blocks == ROWS // CHUNK
    bar = capsys.readouterr().err.split("\r")[-1]
    assert bar.startswith("predict v1 100% |########################|") and bar.endswith("\n")
