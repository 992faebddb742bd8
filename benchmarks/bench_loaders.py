"""Training-loop throughput (target 8): a torch ``DataLoader`` over ``dataset.torch_dataset(...)``
against the same loader over a hand-written map-style Dataset of ``np.load(mmap_mode="r")`` memory
maps of the very same files, as a user would write without mlops.

Both read one epoch of ``X_train``/``y_train`` in shuffled batches of ``BATCH`` rows, with the
default ``collate_fn``, in worker processes (``WORKERS``) and in the main process; workers are
started for each epoch (the default), so the time to open the version in each worker is measured
too. The dataset is the smallest of ``--sizes`` (its ``X_train`` is 70% of it), capped at
``MAX_MB`` to keep the per-row baseline's epoch short.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from bench_processor import BenchProcessor
from harness import Context, Target, paired, rmtree
from workloads import make_raw_folder

BATCH = 256
WORKERS = 2
MAX_MB = 256
THROUGHPUT_FLOOR = 0.9
"""torch_dataset must deliver at least 0.9x the rows per second of the hand-written Dataset."""


class MemmapDataset:
    """The hand-written baseline: a map-style Dataset over ``.npy`` memory maps, opened lazily in
    each process (so nothing big is pickled into workers), one row per ``__getitem__``, copied
    because the maps are read-only (``torch.from_numpy`` warns on read-only arrays)."""

    def __init__(self, x_file: str, y_file: str) -> None:
        self.files = (x_file, y_file)
        self.length = int(np.load(x_file, mmap_mode="r").shape[0])
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.length

    def __getstate__(self) -> dict[str, Any]:
        return {"files": self.files, "length": self.length, "_arrays": None}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        import torch

        if self._arrays is None:
            self._arrays = (np.load(self.files[0], mmap_mode="r"), np.load(self.files[1], mmap_mode="r"))
        x, y = self._arrays
        return torch.from_numpy(np.array(x[index])), torch.from_numpy(np.array(y[index]))


def _epoch(dataset: Any, workers: int, seed: int) -> int:
    """Rows delivered by one shuffled epoch of a default DataLoader over ``dataset``."""
    import torch
    from torch.utils.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers, generator=generator)
    rows = 0
    for x, y in loader:
        rows += len(y)
        assert x.shape[0] == len(y)
    return rows


def run(ctx: Context) -> None:
    from mlops import VersionedDataset, VersionedDatasetBuilder

    size = min(min(ctx.sizes), MAX_MB)
    print(f"[loaders] {size} MB dataset, batches of {BATCH}, {WORKERS} workers and none", flush=True)
    raw = make_raw_folder(str(ctx.scratch("loaders-raw")), size, files=10)
    root = ctx.scratch("loaders-store")
    try:
        path = VersionedDatasetBuilder(raw, BenchProcessor()).publish(str(root), "v1")
        dataset = VersionedDataset(path)
        ours = dataset.torch_dataset("X_train", "y_train")
        theirs = MemmapDataset(os.path.join(path, "X_train.npy"), os.path.join(path, "y_train.npy"))
        rows = len(ours)
        assert rows == len(theirs)
        for workers in (WORKERS, 0):
            for sample in (_epoch(theirs, workers, 0), _epoch(ours, workers, 0)):  # warm page cache, imports
                assert sample == rows
            base, cand, ratio = paired(
                functools.partial(_epoch, theirs, workers), functools.partial(_epoch, ours, workers), ctx.repeats
            )
            label = f"{workers}w" if workers else "main"
            how = f"{workers} workers" if workers else "no workers"
            ctx.results.add_timing(f"loaders.memmap-dataset.{label}", base)
            ctx.results.add_timing(f"loaders.torch_dataset.{label}", cand)
            mb = rows * 1024 / 2**20
            ctx.results.add_target(Target(
                f"10a-{label}" if workers else "10b-main", "loaders",
                f"DataLoader epoch ({how}): torch_dataset / "
                f"hand-written memmap Dataset (time; throughput >= {THROUGHPUT_FLOOR}x)",
                ratio, 1 / THROUGHPUT_FLOOR, "x",
                f"{rows} rows ({mb:.0f} MB) per epoch; torch_dataset {rows / cand.median:,.0f} rows/s, "
                f"hand-written {rows / base.median:,.0f} rows/s",
                informational=not workers,
            ))  # fmt: skip
    finally:
        rmtree(raw)
        rmtree(root)
