"""Published tensors as a ``keras.utils.PyDataset`` of batches: ``VersionedDataset.keras_dataset(...)``.

This module imports Keras; the plugin imports it only when ``keras_dataset`` is called.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import keras
import numpy as np

from mlops.errors import MlopsError
from mlops.plugin import LazyTensors


class InvalidBatchSizeError(MlopsError, ValueError):
    """Raised by ``keras_dataset`` when ``batch_size`` is not a positive integer."""


class KerasDataset(keras.utils.PyDataset):  # type: ignore[misc]
    """Batches of the rows of some tensors of a published dataset, for ``model.fit`` and friends.

    ``dataset[i]`` is batch ``i``: ``(x, y)`` for two tensors, ``x`` alone for one, ``(x, y,
    sample_weight)`` for three; numpy arrays holding a copy of just those rows. With ``shuffle``
    the rows are drawn in a new order every epoch (a permutation derived from ``seed`` and the
    epoch number, so that every worker computes the same one); the last batch may be smaller.

    The object pickles without its arrays (see :class:`~mlops.plugin.LazyTensors`), so
    with ``workers=N, use_multiprocessing=True`` each worker process memory-maps the verified files
    itself; worker threads share the maps of this process.
    """

    def __init__(
        self,
        tensors: LazyTensors,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int | None,
        **kwargs: Any,
    ) -> None:
        """``VersionedDataset.keras_dataset`` passes every argument: its defaults are the only ones."""
        super().__init__(**kwargs)
        try:
            batch_size = operator.index(batch_size)
        except TypeError:
            batch_size = 0
        if batch_size < 1:
            raise InvalidBatchSizeError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        # Drawn here, once, when not given: worker processes must derive the same permutations.
        self.seed = int(np.random.default_rng().integers(2**63)) if seed is None else int(seed)
        self.epoch = 0
        self._order: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.tensors) / self.batch_size)

    def __repr__(self) -> str:
        return (
            f"KerasDataset({self.tensors.path!r}, names={self.tensors.names!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle})"
        )

    def __getitem__(self, index: int) -> Any:
        """Batch ``index`` of this epoch."""
        batches = len(self)
        if not -batches <= index < batches:
            raise IndexError(f"batch {index} is out of range: this dataset has {batches} batches")
        start = (index % batches) * self.batch_size
        stop = min(start + self.batch_size, len(self.tensors))
        batch = self.tensors.rows(self._row_order()[start:stop] if self.shuffle else slice(start, stop))
        return batch[0] if len(batch) == 1 else batch

    def on_epoch_end(self) -> None:
        """Move to the next epoch: a new order of the rows when shuffling."""
        self.epoch += 1

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_order"] = None  # a permutation as long as the dataset: recomputed where needed
        return state

    def _row_order(self) -> np.ndarray:
        order = self._order
        if order is None or order[0] != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch])
            order = (self.epoch, rng.permutation(len(self.tensors)))
            self._order = order
        return order[1]
