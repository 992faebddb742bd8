"""Published tensors as a map-style ``torch.utils.data.Dataset``: ``VersionedDataset.torch_dataset(...)``.

This module imports torch; the plugin imports it only when ``torch_dataset`` is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mlops.errors import MlopsError
from mlops.plugin import Index, LazyTensors


class TorchDtypeError(MlopsError, TypeError):
    """Raised by ``torch_dataset`` when a named tensor has a dtype that torch has no tensor type for."""


class TorchDataset(Dataset[Any]):  # type: ignore[misc]  # untyped where torch is not installed (lint)
    """The rows of some tensors of a published dataset, as torch tensors.

    ``dataset[i]`` is the tuple of row ``i`` of each tensor (the tensor itself when one was named);
    ``dataset[[i, j, ...]]`` or ``dataset[a:b]`` a tuple of batches. ``DataLoader`` reads through
    :meth:`__getitems__`: one gather per tensor and batch, copying only the rows asked for, then
    handed to its ``collate_fn`` as samples (views into that batch), so the default collation and
    any custom one work unchanged.

    The object pickles without its arrays (see :class:`~mlops.plugin.LazyTensors`): with
    ``DataLoader(num_workers=N)`` each worker memory-maps the verified files itself. Samplers only
    need ``len()``, so ``DistributedSampler`` and the others work as for any map-style dataset.
    """

    def __init__(self, tensors: LazyTensors) -> None:
        for name, array in zip(tensors.names, tensors.arrays(), strict=True):
            _check_dtype(name, np.dtype(array.dtype))
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def __repr__(self) -> str:
        return f"TorchDataset({self.tensors.path!r}, names={self.tensors.names!r}, length={len(self)})"

    def __getitem__(self, index: Index) -> Any:
        """One sample (an integer index) or one batch (a slice or a sequence of row numbers)."""
        batch = tuple(torch.from_numpy(rows) for rows in self.tensors.rows(index))
        return batch[0] if len(batch) == 1 else batch

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """The samples at ``indices`` (what ``DataLoader`` asks for a batch): each tensor's rows are
        gathered at once, then split into per-sample views for the ``collate_fn``."""
        batch = [torch.from_numpy(rows).unbind(0) for rows in self.tensors.rows(indices)]
        return list(batch[0]) if len(batch) == 1 else list(zip(*batch, strict=True))


def _check_dtype(name: str, dtype: np.dtype[Any]) -> None:
    try:
        torch.from_numpy(np.empty(0, dtype=dtype))
    except TypeError as exc:
        raise TorchDtypeError(
            f"tensor {name!r} has dtype {dtype}, which torch has no tensor type for; leave it out of "
            "torch_dataset(...) and read it with dataset[name], or publish it with a numeric dtype"
        ) from exc
