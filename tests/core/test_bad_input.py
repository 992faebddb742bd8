"""Input that users hit at once, each refused with a clear mlops.errors exception before anything
is written; and the habits of a Python mapping on datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import mlops
from mlops import errors
from sample_processors import CsvProcessor, FixedProcessor
from schema1_support import NpyLinear, npy_linear_plugin


def _publish(raw: str | Path, root: Path, **options: object) -> str:
    return mlops.VersionedDatasetBuilder(str(raw), CsvProcessor()).publish(str(root), "v1", **options)  # type: ignore[arg-type]


def test_a_link_leading_outside_the_raw_folder_is_refused_by_default(raw_dir: str, tmp_path: Path) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = hunter2")
    os.symlink(secret, os.path.join(raw_dir, "extra", "innocent.txt"))
    with pytest.raises(errors.UnsafeLinkError, match=r"innocent.txt is a symbolic link to .*credentials, outside"):
        _publish(raw_dir, tmp_path / "store")
    assert not (tmp_path / "store").exists()  # refused before anything was written
    path = _publish(raw_dir, tmp_path / "store", follow_symlinks=True)  # the opt-in copies what it points to
    assert (Path(path) / "raw" / "extra" / "innocent.txt").read_text() == secret.read_text()


def test_a_linked_folder_outside_is_refused_too(raw_dir: str, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.txt").write_text("a")
    os.symlink(tmp_path / "elsewhere", os.path.join(raw_dir, "linked"))
    with pytest.raises(errors.UnsafeLinkError, match="linked is a symbolic link"):
        _publish(raw_dir, tmp_path / "store")


def test_links_inside_the_raw_folder_keep_working(raw_dir: str, tmp_path: Path) -> None:
    os.symlink("data.csv", os.path.join(raw_dir, "alias.csv"))
    os.symlink("extra/deep", os.path.join(raw_dir, "shortcut"))
    path = _publish(raw_dir, tmp_path / "store")
    files = mlops.VersionedDataset(path).files
    assert files["raw/alias.csv"] == files["raw/data.csv"]
    assert files["raw/shortcut/blob.bin"] == files["raw/extra/deep/blob.bin"]


def test_a_link_loop_and_a_broken_link_are_named(raw_dir: str, tmp_path: Path) -> None:
    loop = os.path.join(raw_dir, "extra", "deep", "again")
    os.symlink("..", loop)
    with pytest.raises(errors.UnsafeLinkError, match="again is a symbolic link loop"):
        _publish(raw_dir, tmp_path / "store")
    os.unlink(loop)
    os.symlink("nowhere", os.path.join(raw_dir, "dangling"))
    with pytest.raises(errors.UnsafeLinkError, match="dangling is a broken symbolic link"):
        _publish(raw_dir, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_a_masked_array_is_refused_rather_than_stored_without_its_mask(raw_dir: str, tmp_path: Path) -> None:
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(errors.MaskedTensorError, match="'X'.*mask"):
        mlops.VersionedDatasetBuilder(raw_dir, FixedProcessor({"X": masked}, {"y": np.arange(3)}))
    # What the message suggests works: the data filled in and the mask as a tensor of its own.
    processor = FixedProcessor({"X": masked.filled(0.0), "X_mask": np.ma.getmaskarray(masked)}, {"y": np.arange(3)})
    dataset = mlops.VersionedDataset(
        mlops.VersionedDatasetBuilder(raw_dir, processor).publish(str(tmp_path / "s"), "v1")
    )
    np.testing.assert_array_equal(dataset.X_mask, [False, True, False])


def test_listing_a_root_that_does_not_exist_says_so(tmp_path: Path) -> None:
    with pytest.raises(errors.RootNotFoundError, match="typo-root does not exist"):
        mlops.list_versions(tmp_path / "typo-root")
    (tmp_path / "empty-root").mkdir()
    assert mlops.list_versions(tmp_path / "empty-root") == []


def test_a_missing_bucket_is_not_an_empty_root(s3_bucket: str) -> None:
    with pytest.raises(errors.RootNotFoundError):
        mlops.list_versions(f"{s3_bucket}-typo/datasets")


def test_a_dataset_is_a_read_only_mapping_of_its_tensors(raw_dir: str, tmp_path: Path) -> None:
    from collections.abc import Mapping

    dataset = mlops.VersionedDataset(_publish(raw_dir, tmp_path / "store"))
    assert isinstance(dataset, Mapping)
    assert "X_train" in dataset and "nope" not in dataset
    assert dataset._loaded == {}  # membership loads nothing
    assert list(dataset) == ["X_train", "X_test", "y_train", "y_test"] == list(dataset.keys())
    assert len(dataset) == 4
    assert dataset.get("nope") is None
    np.testing.assert_array_equal(dataset.get("X_test"), dataset.X_test)
    assert {name: array.shape for name, array in dataset.items()} == {
        "X_train": (9, 2),
        "X_test": (3, 2),
        "y_train": (9, 2),
        "y_test": (3, 2),
    }
    with pytest.raises(TypeError):
        dataset["X_train"] = np.zeros(2)  # type: ignore[index]
    assert dataset == mlops.VersionedDataset(dataset.path)  # equality is still by content hash


def test_storage_options_travel_from_a_model_to_its_dataset(
    s3_bucket: str, s3_server: str, raw_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without AWS_ENDPOINT_URL, only the explicit endpoint reaches the server: the dataset a model
    links to must be opened with the model's options, not the default AWS endpoint."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    options = {"endpoint_url": s3_server}
    builder = mlops.VersionedDatasetBuilder(raw_dir, CsvProcessor())
    dataset = mlops.VersionedDataset(
        builder.publish(f"{s3_bucket}/ds", "v1", storage_options=options), storage_options=options
    )
    with npy_linear_plugin():
        path = mlops.VersionedModelBuilder(dataset, NpyLinear(np.ones((2, 2)))).publish(
            f"{s3_bucket}/models", "m1", storage_options=options
        )
        model = mlops.VersionedModel(path, storage_options=options)
        assert model.dataset == dataset
        np.testing.assert_array_equal(model.dataset.X_train, dataset.X_train)
        opened = mlops.open_version(path, storage_options=options)
        assert isinstance(opened, mlops.VersionedModel) and opened.dataset.hash == dataset.hash


def test_a_misspelled_publish_keyword_names_publish_and_its_keywords(raw_dir: str, tmp_path: Path) -> None:
    """Both builders take the shared options as ``**options`` (PublishOptions): a typo still fails as
    Python would, before anything is written, and says which keywords publish takes."""
    builder = mlops.VersionedDatasetBuilder(raw_dir, CsvProcessor())
    with pytest.raises(TypeError, match=r"publish\(\) got an unexpected keyword argument 'tagz'.*name, tags"):
        builder.publish(str(tmp_path / "ds"), "v1", tagz=["a"])  # type: ignore[call-arg]
    assert not (tmp_path / "ds").exists()
