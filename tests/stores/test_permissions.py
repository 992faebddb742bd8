"""Published files and folders get the permissions the publishing process's umask gives, as plain
``open()`` and ``mkdir()`` would: under a umask of 022 another user reads every version (its
tensors, chunks, raw files, model, the root's listing) and cannot change it; under 077 they stay
private. The second user is real: a child process that drops root's uid and gid to 65534."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import mlops
from dask_processors import DaskProcessor
from dask_processors import write_raw as write_rows
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model import VersionedModel
from mlops.model.versioned_model_builder import VersionedModelBuilder
from sample_processors import CsvProcessor, write_raw

NOBODY = 65534
"""The uid and gid the second user runs as (``nobody`` on Debian and most Linux systems)."""

UMASKS = [0o022, 0o002, 0o077]


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def shared_dir() -> Iterator[str]:
    """A folder every user may enter (pytest's tmp_path lies below root's private 0700 folder)."""
    folder = tempfile.mkdtemp(prefix="mlops-permissions-")
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _publish_everything(base: str) -> dict[str, str]:
    """A dataset of .npy tensors with its raw files copied, a dataset with a chunked (zarr) tensor,
    and a model, each in its own root under ``base``."""
    import dask

    raw = write_raw(os.path.join(base, "raw"))
    dataset = VersionedDataset(VersionedDatasetBuilder(raw, CsvProcessor()).publish(f"{base}/datasets/points", "v1"))
    with dask.config.set(scheduler="synchronous"):  # no worker threads left behind for the fork below
        rows = write_rows(os.path.join(base, "rows"))
        chunked = VersionedDatasetBuilder(rows, DaskProcessor()).publish(f"{base}/datasets/rows", "v1")
    estimator = LinearRegression().fit(dataset.X_train, dataset.y_train)
    model = VersionedModelBuilder(dataset, estimator, TrainingConfig(None, {})).publish(f"{base}/models/lr", "v1")
    return {"dataset": dataset.path, "chunked": chunked, "model": model}


def _modes_below(base: str) -> tuple[dict[str, int], dict[str, int]]:
    """``({file: mode}, {folder: mode})`` of everything below ``base``, by relative path."""
    files, folders = {}, {}
    for folder, dirs, names in os.walk(base):
        for name in dirs:
            path = os.path.join(folder, name)
            folders[os.path.relpath(path, base)] = stat.S_IMODE(os.lstat(path).st_mode)
        for name in names:
            path = os.path.join(folder, name)
            files[os.path.relpath(path, base)] = stat.S_IMODE(os.lstat(path).st_mode)
    return files, folders


def _read_everything(paths: dict[str, str]) -> list[str]:
    """Open, verify and use every published version, list their roots; returns the listed versions."""
    dataset = VersionedDataset(paths["dataset"])
    dataset.verify()  # reads every file again: tensors, raw files, the pickled processor, the manifest
    assert dataset.X_train.shape[1] == 2
    assert dataset.data_processor.get_raw_features(os.path.join(paths["dataset"], "raw"))["X_pred"].shape[1] == 2
    chunked = VersionedDataset(paths["chunked"])
    chunked.verify()
    assert chunked.X_train.compute(scheduler="synchronous").shape == (100, 3)
    model = VersionedModel(paths["model"])
    model.verify()
    assert model.predict(dataset.X_test).shape == (len(dataset.X_test), 2)
    assert model.dataset == dataset
    roots = [os.path.dirname(p) for p in paths.values()]
    return [info.path for root in roots for info in mlops.list_versions(root)]


def _as_second_user(work: Callable[[], object]) -> str:
    """Run ``work`` in a forked child as uid and gid 65534; returns ``repr`` of its result, or the
    child's traceback. Everything the child needs must already be imported: the interpreter's own
    files may be in a folder that user cannot read."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+ warns that threads do not survive a fork
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        report = "?"
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            report = repr(work())
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            report = traceback.format_exc()
        finally:
            with os.fdopen(write_end, "wb") as out:
                out.write(report.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        report = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report
    return report


@pytest.mark.parametrize("mask", UMASKS, ids=lambda m: f"umask-{m:03o}")
def test_everything_published_has_the_modes_the_umask_gives(shared_dir: str, mask: int) -> None:
    with _umask(mask):
        _publish_everything(shared_dir)
    files, folders = _modes_below(shared_dir)

    assert len(files) > 20 and any("/c/" in f for f in files)  # chunk files of the zarr tensor among them
    assert {f: m for f, m in files.items() if m != 0o666 & ~mask} == {}
    assert {d: m for d, m in folders.items() if m != 0o777 & ~mask} == {}


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="reading as a second user needs root (to switch the child process to uid 65534)",
)
@pytest.mark.parametrize("mask", UMASKS, ids=lambda m: f"umask-{m:03o}")
def test_a_second_user_reads_what_the_umask_lets_them(shared_dir: str, mask: int) -> None:
    with _umask(mask):
        paths = _publish_everything(shared_dir)
    listed = _read_everything(paths)  # as root first: imports every module the child needs
    assert sorted(listed) == sorted(paths.values())

    def intrude() -> str:
        try:
            with open(os.path.join(paths["dataset"], "intruder"), "x"):
                return "written"
        except PermissionError:
            return "refused"

    if mask & 0o004:
        report = _as_second_user(lambda: _read_everything(paths))
        assert "PermissionError" in report and "Permission denied" in report, report
    else:
        assert _as_second_user(lambda: _read_everything(paths)) == repr(listed)
    assert _as_second_user(intrude) == repr("refused")  # others never get write access: not with 002 either
    assert not os.path.exists(os.path.join(paths["dataset"], "intruder"))


def test_a_file_reused_from_a_private_version_is_not_shared(shared_dir: str) -> None:
    """Identical files are hard-linked between versions of a root; a version published under a
    wider umask copies a private version's file instead, so it still gets its own modes."""
    raw = write_raw(os.path.join(shared_dir, "raw"))
    root = f"{shared_dir}/datasets"
    with _umask(0o077):
        private = VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1")
    with _umask(0o022):
        shared = VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v2")
    with _umask(0o077):
        again = VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v3")

    shared_files, _ = _modes_below(shared)
    assert shared_files and set(shared_files.values()) == {0o644}
    private_files, _ = _modes_below(private)
    assert set(private_files.values()) == {0o600}
    again_inodes = {os.stat(os.path.join(again, f)).st_ino for f in private_files if f != "meta.json"}
    private_inodes = {os.stat(os.path.join(private, f)).st_ino for f in private_files if f != "meta.json"}
    assert again_inodes & private_inodes  # under the same umask, files are still shared
    np.testing.assert_array_equal(VersionedDataset(shared).X_train, VersionedDataset(private).X_train)
