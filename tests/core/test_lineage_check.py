"""A model's link to its dataset is checked by content hash when followed: after the dataset version
is removed and other data is published under its name, ``VersionedModel.dataset`` raises
``DatasetChangedError`` (it used to return the new data silently); ``mlops lineage`` reports it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

import mlops
from mlops.cli import cli
from mlops.errors import DatasetChangedError, MlopsError
from sample_processors import CsvProcessor, write_raw


def _publish_dataset(tmp_path: Path, root: str, seed: int) -> str:
    raw = write_raw(str(tmp_path / f"raw-{seed}"), seed=seed)
    return mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1")


@pytest.fixture
def trained(tmp_path: Path) -> tuple[str, mlops.VersionedDataset]:
    """A model published on dataset v1 (seed 0); returns the model's path and that dataset."""
    dataset = mlops.VersionedDataset(_publish_dataset(tmp_path, str(tmp_path / "datasets"), seed=0))
    estimator = LinearRegression().fit(dataset.X_train, dataset.y_train)
    config = mlops.TrainingConfig(None, {})
    return mlops.VersionedModelBuilder(dataset, estimator, config).publish(str(tmp_path / "models"), "m1"), dataset


def test_a_dataset_replaced_under_the_same_name_is_refused(
    tmp_path: Path, trained: tuple[str, mlops.VersionedDataset]
) -> None:
    model_path, original = trained
    mlops.remove_version(original.path)
    replaced = _publish_dataset(tmp_path, str(tmp_path / "datasets"), seed=1)
    assert replaced == original.path
    now = mlops.VersionedDataset(replaced)
    assert now.hash != original.hash

    model = mlops.VersionedModel(model_path)
    with pytest.raises(DatasetChangedError) as caught:
        model.dataset  # noqa: B018
    error = caught.value
    assert isinstance(error, MlopsError)
    assert (error.path, error.recorded, error.found) == (original.path, original.hash, now.hash)
    message = str(error)
    assert f"content hash {original.hash[:12]}" in message and f"hash {now.hash[:12]}" in message
    assert model_path in message and f"VersionedDataset({original.path!r})" in message
    # ... which opens the new data, on purpose
    np.testing.assert_array_equal(mlops.VersionedDataset(error.path).X_train, now.X_train)
    assert not np.array_equal(now.X_train, original.X_train)


def test_lineage_reports_the_replaced_dataset(tmp_path: Path, trained: tuple[str, mlops.VersionedDataset]) -> None:
    model_path, original = trained
    mlops.remove_version(original.path)
    now = mlops.VersionedDataset(_publish_dataset(tmp_path, str(tmp_path / "datasets"), seed=1))

    text = CliRunner().invoke(cli, ["lineage", model_path])
    assert text.exit_code == 0, text.output
    assert f"(hash {original.hash[:12]})  [changed: the path now holds other content (hash {now.hash[:12]})]" in (
        text.output
    )
    listed = CliRunner().invoke(cli, ["lineage", model_path, "--json"])
    chain = json.loads(listed.output)["chain"]
    assert [node["kind"] for node in chain] == ["model", "dataset", "raw"]
    assert chain[1]["hash"] == original.hash and chain[1]["status"].startswith("changed")
    assert chain[2]["source"] == now.record.raw.source  # the raw data of what is there now


def test_the_same_content_published_again_is_the_same_dataset(
    tmp_path: Path, trained: tuple[str, mlops.VersionedDataset]
) -> None:
    model_path, original = trained
    mlops.remove_version(original.path)
    _publish_dataset(tmp_path, str(tmp_path / "datasets"), seed=0)  # identical raw files and tensors

    linked = mlops.VersionedModel(model_path).dataset
    assert linked == original and linked.created_at != original.created_at
    result = CliRunner().invoke(cli, ["lineage", model_path, "--json"])
    assert json.loads(result.output)["chain"][1]["status"] == "ok"
