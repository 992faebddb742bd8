"""Loading a published dataset: metadata at once, tensors and processor on first use, verified."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import Any

import numpy as np

from mlops.dataset import by_value as pickling
from mlops.dataset import lazy, tables
from mlops.dataset.data_processor import DataProcessor
from mlops.errors import IntegrityError, MetadataError, PythonVersionMismatchError
from mlops.metadata import DatasetRecord, TensorRecord, safe_relpath

# plugin contract: framework adapters come from plugins (mlops_register_dataset_adapters)
from mlops.plugins import manager as plugins  # noqa: I001
from mlops.utils.concurrency import concurrently
from mlops.utils.progress import task as progress_task
from mlops.versions import environment as recorded
from mlops.versions.published import PublishedVersion


class VersionedDataset(PublishedVersion[DatasetRecord], Mapping[str, np.ndarray]):
    """A published dataset version, opened from a local path or any fsspec URL.

    Opening reads meta.json only. The dataset is a read-only mapping of its tensors
    (``dataset["X_train"]``, ``"X_train" in dataset``, ``list(dataset)``, ``len(dataset)``), and each
    tensor is also an attribute (``dataset.X_train``), loaded on first access: verified against its
    sha256, then memory-mapped (remote files are fetched once into the local content cache). A
    chunked (zarr) tensor is a lazy ``dask.array.Array`` whose chunks are each verified when read.
    A table comes back as what was published (pandas, polars or Arrow; a dask DataFrame as a lazy
    one whose partitions are each verified when read); :meth:`table` reads a selection of it.
    ``data_processor`` is unpickled only after its hash matches. Two datasets are equal when their
    content hashes are.
    """

    kind = "dataset"

    @property
    def _tensors(self) -> Mapping[str, TensorRecord]:
        return self.record.tensors

    @cached_property
    def _loaded(self) -> dict[str, np.ndarray]:
        """The tensors loaded so far, by name."""
        return {}

    def __repr__(self) -> str:
        return f"VersionedDataset({self.path!r}, name={self.name!r}, version={self.version!r}, hash={self.hash[:12]!r})"

    # --- tensors ------------------------------------------------------------------------------------

    @property
    def tensor_names(self) -> list[str]:
        """Names of every stored tensor, features first."""
        return list(self._tensors)

    @property
    def feature_names(self) -> list[str]:
        return [n for n, t in self._tensors.items() if t.role == "features"]

    @property
    def label_names(self) -> list[str]:
        return [n for n, t in self._tensors.items() if t.role == "labels"]

    def __getitem__(self, name: str) -> np.ndarray:
        self._check_names([name])
        if name not in self._loaded:
            self._loaded[name] = self._load_tensor(name)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def __len__(self) -> int:
        return len(self._tensors)

    def __contains__(self, name: object) -> bool:
        return name in self._tensors  # without loading it

    def prefetch(self, names: Iterable[str] | None = None, *, progress: bool | None = None) -> VersionedDataset:
        """Load the named tensors (default: all) now, several at once, and return this dataset.

        Tensors otherwise load one by one on first access. From a remote store, prefetching
        downloads them concurrently into the local cache (as ``fs.get`` of the whole folder would)
        and verifies each, so training starts with every byte local and checked. ``progress``
        shows a progress bar (default: when stderr is a terminal and the work takes over a second).
        """
        wanted = list(self._tensors) if names is None else list(names)
        self._check_names(wanted)
        missing = [name for name in dict.fromkeys(wanted) if name not in self._loaded]
        total = sum(e.size for name in missing for e in lazy.stored_files(self._tensors[name], self._manifest).values())
        with progress_task(f"load {self.version}", total, progress):
            arrays = concurrently(self._load_tensor, missing)
            for name in missing:
                tensor = self._tensors[name]
                if tensor.format == lazy.FORMAT or (tensor.table is not None and tensor.table.kind == "dask"):
                    lazy.fetch_chunks(self._loc, tensor, self._manifest)
        self._loaded.update(zip(missing, arrays, strict=True))
        return self

    def _check_names(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self._tensors:
                raise KeyError(f"{self.path} has no tensor {name!r}; it has {', '.join(self._tensors) or 'none'}")

    def __getattr__(self, name: str) -> np.ndarray:
        # Only called for attributes not found normally: tensors, then a helpful AttributeError.
        record = self.__dict__.get("record")  # absent while opening fails
        tensors = record.tensors if record is not None else None
        if tensors is not None and name in tensors:
            return self[name]
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r}"
            + (f"; its tensors are {', '.join(tensors)}" if tensors else "")
        )

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._tensors))

    def table(self, name: str, columns: Iterable[str] | None = None, filter: Any = None) -> Any:
        """The table ``name`` as a ``pyarrow.Table``, whatever it was published as: only ``columns``
        (default: all) are decoded, and only the row groups ``filter`` may match are read (a
        ``pyarrow.compute`` expression such as ``pc.field("age") > 30``, or a list of
        ``(column, op, value)`` tuples, as ``pyarrow.parquet.read_table`` takes). Every Parquet file
        is verified against its sha256 before it is read, then memory-mapped from a local disk
        (remote files are fetched once into the local content cache). A tensor that is not a
        table raises ``TypeError``."""
        self._check_names([name])
        tensor = self._tensors[name]
        if tensor.format != tables.FORMAT:
            raise TypeError(
                f"tensor {name!r} of {self.path} is a {tensor.format} tensor, not a table; read it as dataset[{name!r}]"
            )
        return tables.table(self._loc, tensor, self._manifest, list(columns) if columns is not None else None, filter)

    def _load_tensor(self, name: str) -> np.ndarray:
        tensor = self._tensors[name]
        if tensor.format == tables.FORMAT:
            loaded_table: np.ndarray = tables.load(self._loc, tensor, self._manifest)
            return loaded_table
        if tensor.format == lazy.FORMAT:
            chunked: np.ndarray = lazy.open_zarr_tensor(self._loc, tensor, self._manifest)
            return chunked
        with progress_task(f"load {name}", tensor.entry.size):
            local = self._loc.store.fetch_verified(self._loc.child(tensor.file), tensor.entry, tensor.file)
        if tensor.entry.size and os.path.getsize(local):
            try:
                mapped: np.ndarray = np.load(local, mmap_mode="r", allow_pickle=False)
                return mapped
            except ValueError:  # zero-size arrays cannot be memory-mapped
                pass
        loaded: np.ndarray = np.load(local, allow_pickle=False)
        loaded.flags.writeable = False  # the same contract as a memory map: stored data is read-only
        return loaded

    def _check_consistency(self) -> None:
        named = {lazy.metadata_file(t): (f"tensor {t.name!r}", t.entry) for t in self._tensors.values()}
        named[self.record.processor.file] = ("the processor", self.record.processor.entry)
        for file, (what, entry) in named.items():
            if self._manifest.get(file) != entry:
                raise IntegrityError(
                    f"{what} ({file}) in meta.json does not match the manifest of {self.path}; do not trust "
                    "this version",
                    file=file,
                )

    # --- training frameworks -----------------------------------------------------------------------------

    def torch_dataset(self, name: str, *names: str) -> Any:
        """A map-style ``torch.utils.data.Dataset`` over the named tensors, one sample per row:
        ``dataset.torch_dataset("X_train", "y_train")[i]`` is ``(x_i, y_i)`` as tensors (one name:
        the tensor alone). Rows are copied only when asked for (a batched ``__getitems__`` serves
        ``DataLoader``), and the object pickles without its arrays, so ``DataLoader(num_workers=N)``
        workers memory-map the verified files themselves. Needs mlops-torch
        (mlops-core's ``torch`` extra); the tensors must have the same number of rows."""
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
        (mlops-core's ``keras`` extra)."""
        return plugins.dataset_adapter("keras")(
            self, (name, *names), batch_size=batch_size, shuffle=shuffle, seed=seed, **options
        )

    # --- processor and raw data -----------------------------------------------------------------------

    @cached_property
    def data_processor(self) -> DataProcessor:
        """The processor that built this dataset, as it was then (its code was stored by value)."""
        info = self.record.processor
        data = self._loc.store.read_verified(self._loc.child(info.file), info.entry, info.file)
        try:
            pickling.check_python_version(info.python, info.file)
        except PythonVersionMismatchError as exc:
            raise recorded.with_hint(exc, self.path, self.kind) from None
        recorded.warn_if_different(
            self.environment, self.record, self.path, f"the data processor of {self.path}", [data], stacklevel=3
        )
        processor: DataProcessor = pickling.loads_processor(data, info.python)
        return processor

    @property
    def raw_strategy(self) -> str:
        """``'copy'`` (raw data stored in the version) or ``'link'`` (only its location recorded)."""
        return self.record.raw.strategy

    @property
    def raw_path(self) -> str:
        """Where the raw data is: inside the version for ``'copy'``, the original source for ``'link'``."""
        raw = self.record.raw
        if raw.strategy == "link":
            return raw.source
        if raw.path is None:
            raise MetadataError(f"meta.json at {self.path}: 'raw' has no path")
        return self._loc.child(safe_relpath(raw.path, self.path)).url


RESERVED_TENSOR_NAMES = frozenset(
    {n for n in dir(VersionedDataset) if not n.startswith("_")} | {"raw", "meta", "data_processor", "metadata"}
)
