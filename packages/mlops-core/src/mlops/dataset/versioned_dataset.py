"""Loading a published dataset: metadata at once, tensors and processor on first use, verified."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import numpy as np

from mlops import metadata, pickling, plugins
from mlops.dataset.data_processor import DataProcessor
from mlops.errors import MetadataError
from mlops.progress import task as progress_task
from mlops.storage import concurrently
from mlops.version import PublishedVersion


class VersionedDataset(PublishedVersion):
    """A published dataset version, opened from a local path or any fsspec URL.

    Opening reads meta.json only. Each tensor is an attribute named after it (``dataset.X_train``),
    loaded on first access: verified against its sha256, then memory-mapped (remote files are
    fetched once into the local content cache). ``data_processor`` is unpickled only after its
    hash matches. Two datasets are equal when their content hashes are.
    """

    kind = "dataset"

    def __init__(self, path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> None:
        super().__init__(path, storage_options=storage_options)
        self._tensor_meta = self._check_tensor_meta()
        self._loaded: dict[str, np.ndarray] = {}
        self._storage_options = dict(storage_options or {})

    def __repr__(self) -> str:
        return f"VersionedDataset({self.path!r}, name={self.name!r}, version={self.version!r}, hash={self.hash[:12]!r})"

    # --- tensors ------------------------------------------------------------------------------------

    @property
    def tensor_names(self) -> list[str]:
        """Names of every stored tensor, features first."""
        return list(self._tensor_meta)

    @property
    def feature_names(self) -> list[str]:
        return [n for n, m in self._tensor_meta.items() if m["role"] == "features"]

    @property
    def label_names(self) -> list[str]:
        return [n for n, m in self._tensor_meta.items() if m["role"] == "labels"]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._tensor_meta:
            raise KeyError(f"{self.path} has no tensor {name!r}; it has {', '.join(self._tensor_meta) or 'none'}")
        if name not in self._loaded:
            self._loaded[name] = self._load_tensor(name)
        return self._loaded[name]

    def prefetch(self, names: Iterable[str] | None = None, *, progress: bool | None = None) -> VersionedDataset:
        """Load the named tensors (default: all) now, several at once, and return this dataset.

        Tensors otherwise load one by one on first access. From a remote store, prefetching
        downloads them concurrently into the local cache (as ``fs.get`` of the whole folder would)
        and verifies each, so training starts with every byte local and checked. ``progress``
        shows a progress bar (default: when stderr is a terminal and the work takes over a second).
        """
        wanted = list(self._tensor_meta) if names is None else list(names)
        for name in wanted:
            if name not in self._tensor_meta:
                raise KeyError(f"{self.path} has no tensor {name!r}; it has {', '.join(self._tensor_meta) or 'none'}")
        missing = [name for name in dict.fromkeys(wanted) if name not in self._loaded]
        total = sum(self._manifest[self._tensor_meta[name]["file"]].size for name in missing)
        with progress_task(f"load {self.version}", total, progress):
            arrays = concurrently(self._load_tensor, missing)
        self._loaded.update(zip(missing, arrays, strict=True))
        return self

    def __getattr__(self, name: str) -> np.ndarray:
        # Only called for attributes not found normally: tensors, then a helpful AttributeError.
        tensors = self.__dict__.get("_tensor_meta")
        if tensors is not None and name in tensors:
            return self[name]
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r}"
            + (f"; its tensors are {', '.join(tensors)}" if tensors else "")
        )

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._tensor_meta))

    def _load_tensor(self, name: str) -> np.ndarray:
        file = self._tensor_meta[name]["file"]
        with progress_task(f"load {name}", self._manifest[file].size):
            local = self._publisher.fetch_verified(self._loc.child(file), self._manifest[file], file)
        if self._manifest[file].size and os.path.getsize(local):
            try:
                mapped: np.ndarray = np.load(local, mmap_mode="r", allow_pickle=False)
                return mapped
            except ValueError:  # zero-size arrays cannot be memory-mapped
                pass
        loaded: np.ndarray = np.load(local, allow_pickle=False)
        loaded.flags.writeable = False  # the same contract as a memory map: stored data is read-only
        return loaded

    def _check_tensor_meta(self) -> dict[str, dict[str, Any]]:
        tensors = self.metadata.get("tensors")
        if not isinstance(tensors, dict):
            raise MetadataError(f"meta.json at {self.path}: 'tensors' must be an object")
        for name, info in tensors.items():
            if (
                not isinstance(info, dict)
                or not isinstance(info.get("file"), str)
                or info["file"] not in self._manifest
                or info.get("role") not in ("features", "labels")
            ):
                raise MetadataError(f"meta.json at {self.path}: tensor {name!r} is malformed or not in the manifest")
        return tensors

    @property
    def storage_options(self) -> dict[str, Any]:
        """The store options this version was opened with (a copy), e.g. to open it again elsewhere."""
        return dict(self._storage_options)

    # --- training frameworks -----------------------------------------------------------------------------

    def torch_dataset(self, name: str, *names: str) -> Any:
        """A map-style ``torch.utils.data.Dataset`` over the named tensors, one sample per row:
        ``dataset.torch_dataset("X_train", "y_train")[i]`` is ``(x_i, y_i)`` as tensors (one name:
        the tensor alone). Rows are copied only when asked for (a batched ``__getitems__`` serves
        ``DataLoader``), and the object pickles without its arrays, so ``DataLoader(num_workers=N)``
        workers memory-map the verified files themselves. Needs mlops-torch
        (``pip install "mlops-core[torch]"``); the tensors must have the same number of rows."""
        return plugins.dataset_adapter("torch")(self, (name, *names))

    def keras_dataset(
        self,
        name: str,
        *names: str,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        **options: Any,
    ) -> Any:
        """A ``keras.utils.PyDataset`` of ``(x, y)`` batches of the named tensors (one name: ``x``
        alone; three: ``(x, y, sample_weight)``), for ``model.fit``/``evaluate``/``predict``.
        ``shuffle`` draws a new order of the rows every epoch (from ``seed``); ``options`` go to
        ``PyDataset`` (``workers``, ``use_multiprocessing``, ``max_queue_size``). Workers open the
        verified files themselves, as with :meth:`torch_dataset`. Needs mlops-keras
        (``pip install "mlops-core[keras]"``)."""
        return plugins.dataset_adapter("keras")(
            self, (name, *names), batch_size=batch_size, shuffle=shuffle, seed=seed, **options
        )

    # --- processor and raw data -----------------------------------------------------------------------

    @cached_property
    def data_processor(self) -> DataProcessor:
        """The processor that built this dataset, as it was then (its code was stored by value)."""
        info = self.metadata.get("processor")
        if (
            not isinstance(info, dict)
            or not isinstance(info.get("file"), str)
            or info["file"] not in self._manifest
            or not isinstance(info.get("python"), str)
        ):
            raise MetadataError(f"meta.json at {self.path}: 'processor' is malformed or not in the manifest")
        file = info["file"]
        data = self._publisher.read_verified(self._loc.child(file), self._manifest[file], file)
        processor: DataProcessor = pickling.loads_processor(data, info.get("python"))
        return processor

    @property
    def raw_strategy(self) -> str:
        """``'copy'`` (raw data stored in the version) or ``'link'`` (only its location recorded)."""
        return str(self._raw_meta()["strategy"])

    @property
    def raw_path(self) -> str:
        """Where the raw data is: inside the version for ``'copy'``, the original source for ``'link'``."""
        raw = self._raw_meta()
        if raw["strategy"] == "link":
            return str(raw["source"])
        return self._loc.child(metadata.safe_relpath(raw.get("path", "raw"), self.path)).url

    def _raw_meta(self) -> dict[str, Any]:
        raw = self.metadata.get("raw")
        if (
            not isinstance(raw, dict)
            or raw.get("strategy") not in ("copy", "link")
            or not isinstance(raw.get("source"), str)
        ):
            raise MetadataError(f"meta.json at {self.path}: 'raw' is malformed")
        return raw


RESERVED_TENSOR_NAMES = frozenset(
    {n for n in dir(VersionedDataset) if not n.startswith("_")} | {"raw", "meta", "data_processor", "metadata"}
)
