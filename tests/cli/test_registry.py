"""Finding versions (list_versions, latest, models_trained_on) on local disk, memory:// and S3."""

from __future__ import annotations

import json
from typing import Any

import fsspec
import pytest

import mlops
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import IncompleteVersionError, NoVersionsError, RootNotFoundError, VersionNotFoundError
from mlops.metadata import names
from mlops.model.versioned_model import VersionedModel
from mlops.versions import listing as registry


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return fs, path


def _put(url: str, data: bytes) -> None:
    fs, path = _fs(url)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)


def test_list_versions_newest_first_with_their_summary(store: str, publish_dataset: Any) -> None:
    root = store + "/points"
    for version, tags in (("b", ["x"]), ("a", ["x", "y"]), ("c", [])):
        publish_dataset(root, version, tags=tags)

    infos = mlops.list_versions(root)

    assert [i.version for i in infos] == ["c", "a", "b"]  # by created_at, not by name
    a = infos[1]
    dataset = VersionedDataset(a.path)
    assert (a.kind, a.name, a.tags, a.hash, a.created_at) == (
        "dataset",
        "points",
        ("x", "y"),
        dataset.hash,
        dataset.created_at,
    )
    assert a.size == sum(e.size for e in dataset.files.values()) > 0
    assert a.path == dataset.path and a.path.rstrip("/").endswith("a")
    with pytest.raises(AttributeError):
        a.version = "other"  # type: ignore[misc]  # frozen
    assert json.loads(json.dumps(a.to_json()))["tags"] == ["x", "y"]


def test_tags_filter_keeps_versions_with_every_tag(store: str, publish_dataset: Any) -> None:
    root = store + "/points"
    publish_dataset(root, "v1", tags=["image", "raw"])
    publish_dataset(root, "v2", tags=["image"])
    publish_dataset(root, "v3", tags=["image", "raw", "big"])

    assert [i.version for i in mlops.list_versions(root, ["image", "raw"])] == ["v3", "v1"]
    assert [i.version for i in mlops.list_versions(root, "big")] == ["v3"]
    assert mlops.list_versions(root, ["nope"]) == []
    assert mlops.latest(root, ["image", "raw"]).rstrip("/").endswith("v3")
    assert mlops.latest(root, tags=["image"], storage_options=None).rstrip("/").endswith("v3")


def test_incomplete_damaged_hidden_and_stray_entries_are_not_listed(store: str, publish_dataset: Any) -> None:
    root = store + "/points"
    good = publish_dataset(root, "good")
    _put(root + "/crashed/.mlops-publishing", b'{"token": "t"}')  # a publish killed after its claim
    _put(root + "/crashed/X_train.npy", b"partial")
    _put(root + "/stranger/notes.txt", b"not a version")  # no claim, no meta.json
    _put(root + "/.hidden/meta.json", b"{}")
    _put(root + "/README.txt", b"a file next to the versions")
    _put(root + "/broken/meta.json", b"{not json")

    assert [i.path for i in mlops.list_versions(root)] == [good]
    listing = registry.scan_root(root)
    assert [p.rstrip("/").rsplit("/", 1)[-1] for p in listing.incomplete] == ["crashed"]
    assert [p.rstrip("/").rsplit("/", 1)[-1] for p in listing.other] == ["stranger"]  # not mlops': never cleaned
    [(broken, reason)] = listing.unreadable.items()
    assert broken.endswith("broken") and "not valid JSON" in reason


def test_listing_costs_one_listing_call_and_one_batch_of_reads(
    store: str, publish_dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.store import FsspecStore, Store

    root = store + "/points"
    for n in range(4):
        publish_dataset(root, f"v{n}")

    def counting(owner: Any, name: str, calls: dict[str, int]) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    # At the store layer (every store): one folder listing, one batch of meta.json reads, nothing else.
    store_calls = {"list_dir": 0, "read_many": 0, "read_bytes": 0, "exists": 0, "is_dir": 0, "list_files": 0}
    store_class = type(mlops.resolve(root).store)
    for name in store_calls:
        counting(store_class, name, store_calls)
    # Below it, on fsspec stores: one ls, one batch of reads (concurrent on async stores), and no
    # per-version round trip.
    fs_calls: dict[str, int] = {"ls": 0, "exists": 0, "isdir": 0, "find": 0, "cat_file": 0, "info": 0}
    batches = {"_cat_files": 0}
    if issubclass(store_class, FsspecStore):
        fs, _ = _fs(root)
        for name in fs_calls:
            counting(fs, name, fs_calls)
        counting(store_class, "_cat_files", batches)

    assert len(mlops.list_versions(root)) == 4
    # A local batch, or one on a sync filesystem (memory://), reads each meta.json itself (no request
    # overhead to save); async fsspec stores request them all at once.
    is_async = issubclass(store_class, FsspecStore) and getattr(_fs(root)[0], "async_impl", False)
    batch_reads = 0 if is_async else 4
    assert store_calls == {
        "list_dir": 1, "read_many": 1, "read_bytes": batch_reads, "exists": 0, "is_dir": 0, "list_files": 0
    }  # fmt: skip
    if issubclass(store_class, FsspecStore):
        in_batch = 0 if is_async else 4  # a sync filesystem reads file by file
        assert fs_calls == {"ls": 1, "exists": 0, "isdir": 0, "find": 0, "cat_file": in_batch, "info": 0}
        assert batches == {"_cat_files": 1}
    assert issubclass(store_class, Store)


def test_version_names_with_glob_characters_are_read_literally(
    store: str, publish_dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions named before the name policy refused glob characters are still listed and read as
    they are (names.path_segment_problem is switched off to write one, as an older mlops did)."""
    root = store + "/points"
    with monkeypatch.context() as old_mlops:
        old_mlops.setattr(names, "path_segment_problem", lambda name: None)
        publish_dataset(root, "v[1]")
    publish_dataset(root, "v1", seed=1)

    infos = {i.version: i for i in mlops.list_versions(root)}

    assert set(infos) == {"v[1]", "v1"}
    assert infos["v[1]"].hash == VersionedDataset(infos["v[1]"].path).hash != infos["v1"].hash


def test_latest_and_empty_roots(store: str, publish_dataset: Any) -> None:
    root = store + "/points"
    # A root that does not exist is an error, not an empty list: a typo must not read as "no versions".
    with pytest.raises(RootNotFoundError, match="points does not exist"):
        mlops.latest(root)
    with pytest.raises(RootNotFoundError, match="points does not exist"):
        mlops.list_versions(root)

    _put(root + "/crashed/.mlops-publishing", b'{"token": "t"}')
    with pytest.raises(NoVersionsError, match="1 incomplete"):
        mlops.latest(root)

    publish_dataset(root, "v1")
    newest = publish_dataset(root, "v2", seed=1)
    assert mlops.latest(root) == newest
    with pytest.raises(LookupError, match="tagged gold"):  # NoVersionsError is a LookupError
        mlops.latest(root, ["gold"])


def test_a_version_or_a_file_is_not_a_root(store: str, publish_dataset: Any) -> None:
    path = publish_dataset(store + "/points", "v1")
    with pytest.raises(NoVersionsError, match="is a version, not a publication root"):
        mlops.list_versions(path)
    with pytest.raises(NoVersionsError, match="is a file"):
        mlops.list_versions(path.rstrip("/") + "/X_train.npy")


def test_open_version_picks_the_class_from_meta_json(store: str, publish_dataset: Any, publish_model: Any) -> None:
    dataset_path = publish_dataset(store + "/datasets", "v1")
    model_path = publish_model(dataset_path, store + "/models", "m1")

    assert isinstance(mlops.open_version(dataset_path), VersionedDataset)
    model = mlops.open_version(model_path)
    assert isinstance(model, VersionedModel) and model.dataset_hash == VersionedDataset(dataset_path).hash
    assert registry.version_info(model_path).kind == "model"
    with pytest.raises(VersionNotFoundError, match="publication root holding 1 version"):
        mlops.open_version(store + "/datasets")
    with pytest.raises(VersionNotFoundError, match="does not exist"):
        mlops.open_version(store + "/datasets/v9")
    _put(store + "/datasets/v2/.mlops-publishing", b'{"token": "t"}')
    with pytest.raises(IncompleteVersionError):
        mlops.open_version(store + "/datasets/v2")


def test_models_trained_on_matches_the_dataset_hash(store: str, publish_dataset: Any, publish_model: Any) -> None:
    first = publish_dataset(store + "/datasets", "v1")
    second = publish_dataset(store + "/datasets", "v2", seed=1)
    models = store + "/models"
    m1 = publish_model(first, models, "m1")
    m2 = publish_model(second, models, "m2")
    m3 = publish_model(first, models, "m3", tags=["retrained"])

    assert [i.path for i in mlops.models_trained_on(models, first)] == [m3, m1]
    assert [i.path for i in mlops.models_trained_on(models, VersionedDataset(second))] == [m2]
    # The same content published elsewhere is the same dataset: its models are found by hash.
    copy = mlops.republish(first, store + "/elsewhere")
    assert [i.version for i in mlops.models_trained_on(models, copy)] == ["m3", "m1"]
    with pytest.raises(RootNotFoundError):
        mlops.models_trained_on(store + "/nothing-here", first)
