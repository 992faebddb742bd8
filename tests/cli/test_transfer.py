"""Copying versions between stores (republish) and changing their tags (update_tags)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest

import mlops
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import (
    IncompleteVersionError,
    IntegrityError,
    InvalidTagsError,
    InvalidVersionError,
    PublicationPathAlreadyExistsError,
    StoreError,
)
from mlops.model.versioned_model import VersionedModel


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return fs, path


def _read(url: str) -> bytes:
    fs, path = _fs(url)
    return bytes(fs.cat_file(path))


def _write(url: str, data: bytes) -> None:
    fs, path = _fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)


def _names(url: str) -> set[str]:
    fs, path = _fs(url)
    return {p[len(path.rstrip("/")) + 1 :] for p in fs.find(path, withdirs=False)}


@pytest.fixture
def make_root(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``make_root(kind)``: a fresh root on 'local', 'memory' or 's3'."""

    def make(kind: str) -> str:
        suffix = uuid.uuid4().hex[:8]
        if kind == "local":
            return str(tmp_path / f"local-{suffix}")
        if kind == "memory":
            return f"memory://transfer-{suffix}"
        return f"{request.getfixturevalue('s3_bucket')}/{suffix}"

    return make


@pytest.mark.parametrize(
    ("source", "target"), [("local", "s3"), ("s3", "local"), ("memory", "s3"), ("local", "memory")]
)
def test_republish_copies_the_same_version_to_another_store(
    source: str, target: str, make_root: Callable[[str], str], publish_dataset: Any
) -> None:
    original = publish_dataset(make_root(source) + "/points", "v1", tags=["tabular"])
    new_root = make_root(target) + "/points"

    copy = mlops.republish(original, new_root)

    assert copy.rstrip("/").endswith("v1") and copy.startswith(new_root.rstrip("/"))
    # Same metadata byte for byte: version, created_at, tags, hash, manifest.
    assert _read(copy.rstrip("/") + "/meta.json") == _read(original.rstrip("/") + "/meta.json")
    assert _names(copy) == _names(original)  # and no claim or temporary file left
    a, b = VersionedDataset(original), VersionedDataset(copy)
    b.verify()
    assert a == b and np.array_equal(a.X_train, b.X_train)
    assert type(b.data_processor).__name__ == "CsvProcessor"  # verified, then unpickled
    assert [i.path for i in mlops.list_versions(new_root)] == [copy]


def test_republish_under_another_version_name_changes_only_the_version(store: str, publish_dataset: Any) -> None:
    original = publish_dataset(store + "/points", "v1")

    copy = mlops.republish(original, store + "/archive", version="2024-01")

    a, b = VersionedDataset(original), VersionedDataset(copy)
    assert b.version == "2024-01" and b.hash == a.hash and b.created_at == a.created_at
    assert {k: v for k, v in b.metadata.items() if k != "version"} == {
        k: v for k, v in a.metadata.items() if k != "version"
    }
    with pytest.raises(InvalidVersionError):
        mlops.republish(original, store + "/archive", version="../escape")


def test_republish_never_overwrites(store: str, publish_dataset: Any) -> None:
    original = publish_dataset(store + "/points", "v1")
    other = publish_dataset(store + "/archive", "v1", seed=1)
    before = _read(other.rstrip("/") + "/meta.json")

    with pytest.raises(PublicationPathAlreadyExistsError, match="already exists"):
        mlops.republish(original, store + "/archive")
    with pytest.raises(PublicationPathAlreadyExistsError):
        mlops.republish(original, store + "/points")  # onto itself

    assert _read(other.rstrip("/") + "/meta.json") == before
    VersionedDataset(other).verify()


@pytest.mark.parametrize("damage", ["changed", "truncated", "missing"])
def test_a_damaged_source_is_refused_and_leaves_nothing(damage: str, store: str, publish_dataset: Any) -> None:
    original = publish_dataset(store + "/points", "v1")
    victim = original.rstrip("/") + "/raw/data.csv"
    data = _read(victim)
    if damage == "changed":
        _write(victim, bytes([data[0] ^ 1]) + data[1:])
    elif damage == "truncated":
        _write(victim, data[:-5])
    else:
        fs, path = _fs(victim)
        fs.rm(path)

    with pytest.raises(IntegrityError, match="raw/data.csv") as info:
        mlops.republish(original, store + "/archive")

    assert info.value.file == "raw/data.csv"
    fs, path = _fs(store + "/archive/v1")
    assert not fs.exists(path)


def test_republish_a_model_keeps_it_loadable(
    store: str, publish_dataset: Any, publish_model: Any, tmp_path: Path
) -> None:
    dataset = publish_dataset(store + "/datasets", "v1")
    model = publish_model(dataset, store + "/models", "m1", history={"loss": [1.0, 0.5]})

    copy = mlops.republish(model, str(tmp_path / "models"))

    loaded = VersionedModel(copy)
    loaded.verify()
    assert loaded.hash == VersionedModel(model).hash and loaded.dataset_path == dataset
    assert loaded.predict(np.array([[2.0, 1.0]])).tolist() == [0.0]


def test_republish_refuses_incomplete_versions(store: str) -> None:
    _write(store + "/points/v1/.mlops-publishing", b'{"token": "t"}')
    with pytest.raises(IncompleteVersionError):
        mlops.republish(store + "/points/v1", store + "/archive")


def test_update_tags_rewrites_only_the_tags(store: str, publish_dataset: Any) -> None:
    path = publish_dataset(store + "/points", "v1", tags=["a", "b", "c"])
    before = VersionedDataset(path)
    names = _names(path)

    assert mlops.update_tags(path, add=["d", "a", "d"], remove=["b"]) == ["a", "c", "d"]
    assert mlops.update_tags(path, add="e") == ["a", "c", "d", "e"]  # a string is one tag
    assert mlops.update_tags(path, remove=["nope"]) == ["a", "c", "d", "e"]

    after = VersionedDataset(path)
    after.verify()  # the manifest still describes every file
    assert after.tags == ["a", "c", "d", "e"] and after.hash == before.hash
    assert {k: v for k, v in after.metadata.items() if k != "tags"} == {
        k: v for k, v in before.metadata.items() if k != "tags"
    }
    assert _names(path) == names  # no temporary sibling left behind
    assert mlops.list_versions(store + "/points", ["e"])[0].path == path


def test_update_tags_checks_its_input_before_writing(store: str, publish_dataset: Any) -> None:
    path = publish_dataset(store + "/points", "v1", tags=["a"])
    with pytest.raises(InvalidTagsError, match="both added and removed"):
        mlops.update_tags(path, add=["x"], remove=["x"])
    with pytest.raises(InvalidTagsError):
        mlops.update_tags(path, add=[""])
    with pytest.raises(InvalidTagsError):
        mlops.update_tags(path, add=[3])  # type: ignore[list-item]
    assert VersionedDataset(path).tags == ["a"]
    _write(store + "/points/v2/.mlops-publishing", b'{"token": "t"}')
    with pytest.raises(IncompleteVersionError):
        mlops.update_tags(store + "/points/v2", add=["x"])


def test_a_failed_tag_update_leaves_the_old_meta_json(
    store: str, publish_dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = publish_dataset(store + "/points", "v1", tags=["a"])
    meta = _read(path.rstrip("/") + "/meta.json")
    fs, _ = _fs(path)

    def broken_move(*args: Any, **kwargs: Any) -> None:
        raise OSError("the store went away")

    if isinstance(mlops.resolve(path).store, mlops.LocalStore):
        monkeypatch.setattr(os, "replace", broken_move)  # local stores rename the new file into place
    else:
        monkeypatch.setattr(fs, "cp_file", broken_move)  # fsspec stores copy it over the old one
    with pytest.raises(StoreError, match="the store went away"):
        mlops.update_tags(path, add=["b"])
    monkeypatch.undo()

    assert _read(path.rstrip("/") + "/meta.json") == meta
    assert not any(os.path.basename(n).endswith(".tmp") for n in _names(path))
