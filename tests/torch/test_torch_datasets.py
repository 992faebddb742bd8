"""VersionedDataset.torch_dataset: a map-style torch Dataset over published tensors, read by real
DataLoaders (worker processes, forked and spawned), DistributedSampler and a training loop."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, SequentialSampler

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import TensorLengthMismatchError
from mlops_torch.datasets import TorchDataset, TorchDtypeError

ROWS = 2000


class RowsProcessor(DataProcessor):
    """Generated tensors; ``y_train[i] == i`` tells every row apart."""

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        rng = np.random.default_rng(0)
        features = {
            "X_train": rng.normal(size=(ROWS, 32, 8)).astype(np.float32),  # 2 MB
            "X_test": rng.normal(size=(100, 32, 8)).astype(np.float32),
            "names": np.asarray([f"r{i}" for i in range(ROWS)]),
        }
        return features, {"y_train": np.arange(ROWS, dtype=np.int64), "y_test": np.arange(100, dtype=np.int64)}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor


def _publish(store: str, tmp_path: Path) -> VersionedDataset:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "note.txt").write_text("generated in the test\n")
    return VersionedDataset(VersionedDatasetBuilder(str(raw), RowsProcessor()).publish(f"{store}/datasets", "v1"))


@pytest.fixture
def dataset(store: str, tmp_path: Path) -> VersionedDataset:
    """The generated dataset, published on each kind of store."""
    return _publish(store, tmp_path)


@pytest.fixture
def local_dataset(tmp_path: Path) -> VersionedDataset:
    return _publish(str(tmp_path / "store"), tmp_path)


def _cache_inodes() -> dict[str, int]:
    root = os.environ["MLOPS_CACHE_DIR"]
    return {
        os.path.join(folder, name): os.stat(os.path.join(folder, name)).st_ino
        for folder, _dirs, names in os.walk(root)
        for name in names
    }


def test_dataloader_with_two_workers_yields_exactly_the_published_tensors(dataset: VersionedDataset) -> None:
    train = dataset.torch_dataset("X_train", "y_train")
    cached = _cache_inodes()
    xs, ys = [], []
    for x, y in DataLoader(train, batch_size=64, num_workers=2, shuffle=False):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        xs.append(x)
        ys.append(y)
    assert [len(y) for y in ys] == [64] * (ROWS // 64) + [ROWS % 64]
    np.testing.assert_array_equal(torch.cat(xs).numpy(), dataset.X_train)
    np.testing.assert_array_equal(torch.cat(ys).numpy(), np.arange(ROWS))
    # Remote stores: the workers memory-mapped the blobs this process downloaded and verified,
    # without fetching them again (a new download would replace the file: a new inode).
    assert _cache_inodes() == cached


def test_spawned_workers_open_the_version_themselves(local_dataset: VersionedDataset) -> None:
    train = local_dataset.torch_dataset("X_train", "y_train")
    loader = DataLoader(train, batch_size=500, num_workers=2, multiprocessing_context="spawn")
    ys = torch.cat([y for _x, y in loader])
    np.testing.assert_array_equal(ys.numpy(), np.arange(ROWS))


def test_the_pickled_dataset_holds_no_arrays(local_dataset: VersionedDataset) -> None:
    train = local_dataset.torch_dataset("X_train", "y_train")
    data = pickle.dumps(train)
    assert local_dataset.X_train.nbytes == ROWS * 32 * 8 * 4
    assert len(data) < 1_000, f"{len(data)} bytes: the arrays were pickled"
    copy = pickle.loads(data)
    x, y = copy[ROWS - 1]
    np.testing.assert_array_equal(x.numpy(), local_dataset.X_train[ROWS - 1])
    assert int(y) == ROWS - 1


def test_distributed_sampler_ranks_cover_every_row_once(local_dataset: VersionedDataset) -> None:
    train = local_dataset.torch_dataset("X_train", "y_train")
    seen = []
    for rank in (0, 1):
        sampler: DistributedSampler[int] = DistributedSampler(train, num_replicas=2, rank=rank, shuffle=True, seed=3)
        sampler.set_epoch(1)
        rows = torch.cat([y for _x, y in DataLoader(train, batch_size=128, sampler=sampler, num_workers=2)])
        assert len(rows) == ROWS // 2
        x_rows = torch.cat([x for x, _y in DataLoader(train, batch_size=128, sampler=sampler)])
        np.testing.assert_array_equal(x_rows.numpy(), local_dataset.X_train[rows.numpy()])
        seen.append(set(rows.tolist()))
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(ROWS))


def test_samples_batches_and_what_dataloader_asks_for(local_dataset: VersionedDataset) -> None:
    train = local_dataset.torch_dataset("X_train", "y_train")
    assert isinstance(train, TorchDataset) and len(train) == ROWS
    x, y = train[5]
    assert x.shape == (32, 8) and y.shape == () and int(y) == 5
    xb, yb = train[[9, 2, 2]]
    np.testing.assert_array_equal(xb.numpy(), local_dataset.X_train[[9, 2, 2]])
    assert yb.tolist() == [9, 2, 2]
    assert train[10:13][1].tolist() == [10, 11, 12]
    samples = train.__getitems__([4, 0])
    assert [int(sample[1]) for sample in samples] == [4, 0]
    np.testing.assert_array_equal(samples[0][0].numpy(), local_dataset.X_train[4])
    xb[0] += 1  # tensors own writable copies of their rows: the stored data is untouched
    np.testing.assert_array_equal(train[9][0].numpy(), local_dataset.X_train[9])
    only_x = local_dataset.torch_dataset("X_test")
    assert isinstance(only_x[0], torch.Tensor) and only_x[0].shape == (32, 8)
    assert torch.cat(list(DataLoader(only_x, batch_size=30))).shape == (100, 32, 8)


def test_batches_straight_from_a_batch_sampler(local_dataset: VersionedDataset) -> None:
    """With ``batch_size=None`` the sampler's lists of rows go to ``__getitem__``: one read per batch."""
    train = local_dataset.torch_dataset("X_train", "y_train")
    sampler = BatchSampler(SequentialSampler(train), batch_size=300, drop_last=False)
    batches = list(DataLoader(train, batch_size=None, sampler=sampler, num_workers=2))
    assert [len(y) for _x, y in batches] == [300] * 6 + [200]
    np.testing.assert_array_equal(torch.cat([x for x, _y in batches]).numpy(), local_dataset.X_train)


def test_trains_a_model_one_epoch(local_dataset: VersionedDataset) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = DataLoader(local_dataset.torch_dataset("X_train", "y_train"), batch_size=100, shuffle=True)
    losses = []
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x).squeeze(1), y.float() / ROWS)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        losses.append(loss.item())
    assert len(losses) == ROWS // 100 and all(np.isfinite(losses))


def test_tensors_of_different_lengths_or_types_are_refused(local_dataset: VersionedDataset) -> None:
    with pytest.raises(TensorLengthMismatchError, match="X_train has 2000, y_test has 100"):
        local_dataset.torch_dataset("X_train", "y_test")
    with pytest.raises(TorchDtypeError, match="tensor 'names' has dtype <U5"):
        local_dataset.torch_dataset("X_train", "names")
    with pytest.raises(KeyError, match="no tensor 'y_nope'"):
        local_dataset.torch_dataset("X_train", "y_nope")
