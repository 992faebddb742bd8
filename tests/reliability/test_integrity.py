"""Verified loading: tampered files are named and never trusted; pickles are never executed before
their hash matches; a hostile meta.json never makes mlops read outside the version folder."""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from sample_processors import CsvProcessor


class Marker:
    """Unpickling this creates a file: proof that a pickle was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (open, (self.path, "w"))


def _flip_one_byte(url: str, offset: int = -1) -> None:
    fs, path = fsspec.url_to_fs(url)
    data = bytearray(fs.cat_file(path))
    data[offset] ^= 0xFF
    fs.pipe_file(path, bytes(data))
    fs.invalidate_cache()


@pytest.fixture
def dataset_path(store: str, raw_dir: str) -> str:
    return VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(store + "/datasets", "v1")


@pytest.mark.parametrize(
    "relpath", ["X_train.npy", "y_test.npy", "raw/data.csv", "raw/extra/deep/blob.bin", "data_processor.pkl"]
)
def test_one_flipped_byte_in_any_dataset_file_is_named(dataset_path: str, relpath: str) -> None:
    _flip_one_byte(f"{dataset_path}/{relpath}", offset=len(relpath) % 7)
    with pytest.raises(errors.IntegrityError, match=relpath) as info:
        VersionedDataset(dataset_path).verify()
    assert info.value.file == relpath


def test_tampered_model_pickle_is_never_executed(store: str, dataset_path: str, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    dataset = VersionedDataset(dataset_path)
    classifier = LogisticRegression().fit(dataset.X_train, dataset.y_train.argmax(axis=1))
    path = VersionedModelBuilder(dataset, classifier).publish(store + "/models", "v1")
    marker = tmp_path / "executed"
    fs, p = fsspec.url_to_fs(path)
    fs.pipe_file(p + "/model.joblib", pickle.dumps(Marker(str(marker))))
    fs.invalidate_cache()
    with pytest.raises(errors.IntegrityError, match="model.joblib"):
        VersionedModel(path).model  # noqa: B018
    with pytest.raises(errors.IntegrityError, match="model.joblib"):
        VersionedModel(path).verify()
    assert not marker.exists()


def test_truncated_and_missing_model_files(store: str, dataset_path: str) -> None:
    from sklearn.linear_model import LogisticRegression

    dataset = VersionedDataset(dataset_path)
    classifier = LogisticRegression().fit(dataset.X_train, dataset.y_train.argmax(axis=1))
    path = VersionedModelBuilder(dataset, classifier).publish(store + "/models", "v1")
    fs, p = fsspec.url_to_fs(path)
    fs.pipe_file(p + "/model.joblib", fs.cat_file(p + "/model.joblib")[:10])
    with pytest.raises(errors.IntegrityError, match="model.joblib.*truncated|model.joblib"):
        VersionedModel(path).model  # noqa: B018
    fs.rm(p + "/model.joblib")
    fs.invalidate_cache()
    with pytest.raises(errors.IntegrityError, match="missing"):
        VersionedModel(path).model  # noqa: B018


# --- a hostile meta.json ------------------------------------------------------------------------------


class _OpenWatcher:
    """Records every file the interpreter opens (an audit hook cannot be removed, so it only
    records while ``active``)."""

    def __init__(self) -> None:
        self.active = False
        self.opened: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.active and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            self.opened.append(os.path.realpath(os.fsdecode(args[0])))


_WATCHER = _OpenWatcher()


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    from sample_processors import write_raw

    base = tmp_path_factory.mktemp("fuzz")
    (base / "secret").write_text("outside the version: must never be read")
    raw = write_raw(str(base / "raw"))
    path = VersionedDatasetBuilder(raw, CsvProcessor()).publish(str(base / "store"), "v1")
    yield Path(path), json.loads((Path(path) / "meta.json").read_text())


TRAVERSALS = [
    "../secret",
    "../../secret",
    "/etc/passwd",
    "raw/../../secret",
    "..",
    "raw//x",
    "C:\\x",
    "raw/./a",
    "meta.json",
    "",
]
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(TRAVERSALS),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(TRAVERSALS), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(meta: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON document."""
    found = [prefix]
    if isinstance(meta, dict):
        for key, value in meta.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(meta, list):
        for i, value in enumerate(meta):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def _mutated(draw: st.DrawFn, meta: dict[str, Any]) -> Any:
    meta = copy.deepcopy(meta)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(meta) if p]
        if not paths:
            break
        where = draw(st.sampled_from(paths))
        parent: Any = meta
        for key in where[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "rename"]))
        if action == "delete":
            del parent[where[-1]]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(TRAVERSALS))] = parent.pop(where[-1])
        else:
            parent[where[-1]] = draw(_json)
    return meta


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_fuzzed_meta_json_gives_clear_errors_and_never_reads_outside(
    data: st.DataObject, fuzz_base: tuple[Path, dict[str, Any]]
) -> None:
    version, meta = fuzz_base
    work = version.parent / "work"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(version, work)
    (work / "meta.json").write_text(json.dumps(data.draw(_mutated(meta))))
    inside = os.path.realpath(work) + os.sep
    _WATCHER.opened.clear()
    _WATCHER.active = True
    try:
        dataset = VersionedDataset(str(work))
        dataset.verify()
        for name in dataset.tensor_names:
            np.asarray(dataset[name])
        dataset.raw_path  # noqa: B018
        dataset.data_processor  # noqa: B018
    except errors.MlopsError:
        pass  # a clear, typed error is the expected outcome for a damaged meta.json
    finally:
        _WATCHER.active = False
    # Python's own imports open files too; what must never be opened is anything else around the
    # version (the secret next to it, the raw data it came from) or a system file named in meta.json.
    around = os.path.realpath(version.parent.parent) + os.sep
    outside = [
        p for p in _WATCHER.opened if (p.startswith(around) and not p.startswith(inside)) or p.startswith("/etc/")
    ]
    assert outside == []
