"""Handing a published dataset's tensors to training frameworks, without importing any framework here.

Framework plugins register *dataset adapters* through the ``mlops_register_dataset_adapters`` hook;
``VersionedDataset.torch_dataset`` and ``keras_dataset`` find them with
:func:`mlops.plugins.manager.dataset_adapter`. Adapters build on :class:`LazyTensors`: the rows of some
tensors of one version, read on demand from the verified memory maps (local stores) or the verified
content cache (remote stores), and pickled as the version's path, store options and tensor names
only, so a data-loading worker process opens its own maps instead of receiving copies of the arrays.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, SupportsIndex

import numpy as np

from mlops.dataset.table_arrays import table_to_numpy
from mlops.errors import TensorLengthMismatchError

if TYPE_CHECKING:
    from mlops.dataset.versioned_dataset import VersionedDataset

Index = SupportsIndex | slice | Sequence[int] | np.ndarray
"""Rows to read: one row, a slice, or a sequence of row numbers (in the order wanted)."""


_open_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _open_lock
    _open_lock = threading.Lock()  # a lock held by a parent's thread at fork time would never be released


os.register_at_fork(after_in_child=_new_lock_after_fork)


class LazyTensors:
    """The rows of some tensors of one dataset version, opened lazily in each process.

    Built in the main process from an open :class:`VersionedDataset`: the named tensors are loaded
    there once (verified, and downloaded into the content cache from a remote store), so that the
    worker processes of a data loader find every byte local and checked. Pickling keeps only the
    version's path, store options and tensor names; a process that did not create the object (a
    ``DataLoader`` or ``PyDataset`` worker, forked or spawned) opens the version again on first
    use, which memory-maps the same verified files. :meth:`rows` copies only the rows asked for,
    into fresh writable arrays (stored tensors are read-only).

    A table (a pandas, polars, Arrow or dask DataFrame or Series) is read as the numeric array of
    its columns, in their order (a dask table lazily, per partition); a column that is not float,
    integer or bool raises :class:`~mlops.errors.NonNumericColumnError` naming it, here, before any
    framework sees the data.
    """

    def __init__(self, dataset: VersionedDataset, names: Sequence[str]) -> None:
        self.names = tuple(names)
        if not self.names:
            raise TypeError("name at least one tensor, e.g. ('X_train', 'y_train')")
        dataset.prefetch(self.names)
        arrays = _open(dataset, self.names)
        self.length = _common_length(dataset.path, self.names, arrays)
        self.path = dataset.path
        self.storage_options = dict(dataset.storage_options)
        self._opened: tuple[int, tuple[Any, ...]] | None = (os.getpid(), arrays)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"LazyTensors({self.path!r}, names={self.names!r}, length={self.length})"

    def __getstate__(self) -> dict[str, Any]:
        return {"names": self.names, "length": self.length, "path": self.path, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._opened = None

    def arrays(self) -> tuple[Any, ...]:
        """The tensors, in the order named: opened in this process on first use."""
        opened = self._opened
        if opened is not None and opened[0] == os.getpid():
            return opened[1]
        with _open_lock:
            opened = self._opened
            if opened is None or opened[0] != os.getpid():
                from mlops.dataset.versioned_dataset import VersionedDataset

                dataset = VersionedDataset(self.path, storage_options=self.storage_options)
                opened = (os.getpid(), _open(dataset, self.names))
                self._opened = opened
            return opened[1]

    def rows(self, index: Index) -> tuple[np.ndarray, ...]:
        """The rows at ``index`` of every tensor, as fresh, writable arrays (one copy of those rows).

        An integer gives one row of each tensor (its shape without the first axis), a slice or a
        sequence of row numbers gives a batch (rows in the order given)."""
        if isinstance(index, slice) or (not isinstance(index, (Sequence, np.ndarray)) and hasattr(index, "__index__")):
            return tuple(np.array(array[index]) for array in self.arrays())
        rows = np.asarray(index, dtype=np.intp)
        if rows.ndim != 1:
            raise IndexError(f"row numbers must be one-dimensional, got an array of shape {rows.shape}")
        return tuple(_gather(array, rows) for array in self.arrays())


def _open(dataset: VersionedDataset, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The named tensors of ``dataset``; a table (pandas, polars, Arrow, dask) as the numeric array of
    its columns (see :func:`~mlops.dataset.table_arrays.table_to_numpy`)."""
    return tuple(table_to_numpy(dataset[name], name) for name in names)


def _gather(array: Any, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` as a writable array: fancy indexing copies just those rows (stored tensors
    are read-only, so a result that is still read-only is a view, and is copied)."""
    out = np.asarray(array[rows])
    return out if out.flags.writeable else np.array(out)


def _common_length(path: str, names: tuple[str, ...], arrays: tuple[Any, ...]) -> int:
    """The number of rows the named tensors share, or an error naming the ones that differ."""
    lengths: dict[str, int] = {}
    for name, array in zip(names, arrays, strict=True):
        shape = tuple(getattr(array, "shape", ()))
        if not shape:
            raise TensorLengthMismatchError(
                f"tensor {name!r} of {path} is a scalar (shape ()); it has no rows to iterate over"
            )
        lengths[name] = int(shape[0])
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise TensorLengthMismatchError(
            f"the tensors named together must have the same number of rows, but in {path} {described}; "
            "name tensors of one split together, e.g. ('X_train', 'y_train')"
        )
    return next(iter(lengths.values()))
