"""Publishing a dataset: tensors, the processor that made them, the raw data, and meta.json."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Literal

import numpy as np

from mlops import metadata
from mlops.dataset import by_value as pickling
from mlops.dataset import lazy, tables
from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.tensors import check_tensors
from mlops.dataset.versioned_dataset import RESERVED_TENSOR_NAMES
from mlops.errors import (
    DatasetPathNotFoundError,
    InvalidNameError,
    InvalidProcessorError,
    InvalidRawStrategyError,
    MetadataError,
)
from mlops.metadata import DatasetRecord, ProcessorRecord, RawRecord, TableRecord, TensorRecord

# plugin contract: plugins add modules to store by value (mlops_pickle_by_value)
from mlops.plugins import manager as plugins  # noqa: I001
from mlops.store import FileEntry, Location, resolve
from mlops.utils.progress import task as progress_task
from mlops.versions import resume as resumption
from mlops.versions import writer as publication
from mlops.versions.writer import PublishOptions

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

PROCESSOR_FILE = "data_processor.pkl"
LARGE_PROCESSOR_BYTES = 64 * 1024 * 1024


class LargeProcessorWarning(UserWarning):
    """Warned when a processor pickles to more than 64 MB, usually by referring to a dataset."""


RAW_DIR = "raw"
RawStrategy = Literal["copy", "link"]


class VersionedDatasetBuilder:
    """Runs a :class:`DataProcessor` on raw data and publishes the result as a versioned dataset.

    The processor runs here, once; its output is checked at once, so bad tensors fail before
    anything is written. Dask arrays in its output stay lazy until :meth:`publish`, which runs
    them on the active Dask scheduler and stores each as a Zarr array (``NAME.zarr``). Tables
    (pandas, polars, Arrow, dask DataFrames) are stored as Parquet (``NAME.parquet``, see
    :mod:`mlops.dataset.tables`), checked and converted to Arrow here.
    ``storage_options`` are passed to fsspec to read the raw data.
    """

    def __init__(
        self,
        dataset_path: str | os.PathLike[str],
        data_processor: DataProcessor,
        *,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(data_processor, DataProcessor):
            raise InvalidProcessorError(
                f"data_processor must be an instance of a DataProcessor subclass, got {type(data_processor).__name__}"
            )
        self.dataset_path = os.fspath(dataset_path)
        self.data_processor = data_processor
        self._raw = resolve(self.dataset_path, storage_options)
        if not self._raw.store.exists(self._raw):
            raise DatasetPathNotFoundError(f"the raw dataset path {self._raw.url} does not exist")
        features, labels = data_processor.get_preprocessed_features_and_labels(self.dataset_path)
        self._tensors = check_tensors(features, labels, RESERVED_TENSOR_NAMES)
        self._tables = {
            name: tables.prepare(name, value)
            for name, (_role, value) in self._tensors.items()
            if tables.table_kind(value) is not None
        }
        self.features: dict[str, np.ndarray] = {n: a for n, (role, a) in self._tensors.items() if role == "features"}
        self.labels: dict[str, np.ndarray] = {n: a for n, (role, a) in self._tensors.items() if role == "labels"}

    def publish(
        self,
        path: str | os.PathLike[str],
        version: str | None = None,
        *,
        raw: RawStrategy = "copy",
        follow_symlinks: bool = False,
        **options: Unpack[PublishOptions],
    ) -> str:
        """Publish the dataset to ``path/version`` and return that version's path.

        ``version=None`` uses the publication timestamp. ``raw='copy'`` stores the raw data byte for
        byte under ``raw/``; ``raw='link'`` only records where it lives. A symbolic link in the raw
        folder that leads outside it is refused (:class:`~mlops.errors.UnsafeLinkError`, naming it)
        unless ``follow_symlinks``; links inside the raw folder are followed. The other options are
        every publish's (:class:`~mlops.PublishOptions`): ``name`` (default: the last folder of
        ``path``), ``tags``, ``signing_key``, ``storage_options``, ``progress``, ``resume`` and
        ``older_than``. Raises :class:`~mlops.errors.PublicationPathAlreadyExistsError` if the
        version exists; on any failure nothing of this version remains.
        """
        if raw not in ("copy", "link"):
            raise InvalidRawStrategyError(f"raw must be 'copy' or 'link', got {raw!r}")
        target = publication.publish_target(path, version, "dataset", **options)
        raw_files = self._raw_files(follow_symlinks) if raw == "copy" else []
        processor_bytes = pickling.dumps_processor(self.data_processor, plugins.by_value_modules(self.data_processor))
        if len(processor_bytes) > LARGE_PROCESSOR_BYTES:
            warnings.warn(
                f"the pickled data processor is {len(processor_bytes) / 1e6:.0f} MB: it holds, or its code refers "
                "to, large data (attributes or module-level globals), which is stored with every dataset it "
                "publishes. Load such data inside its methods instead.",
                LargeProcessorWarning,
                stacklevel=2,
            )

        total = sum(a.nbytes for n, (_, a) in self._tensors.items() if n not in self._tables)
        total += sum(size for _, _, size in raw_files)
        with (
            progress_task(f"publish {target.version}", total + len(processor_bytes), target.progress),
            resumption.writer(target) as writer,
        ):
            files = {
                name: (tables.table_file(name), tables.FORMAT)
                if name in self._tables
                else lazy.tensor_file(name, array)
                for name, (_role, array) in self._tensors.items()
            }
            writer.write_arrays(
                {files[name][0]: array for name, (_role, array) in self._tensors.items() if files[name][1] == "npy"}
            )
            chunked = {
                name: lazy.write_dask_tensor(writer, files[name][0], array)
                for name, (_role, array) in self._tensors.items()
                if files[name][1] == lazy.FORMAT
            }
            stored_tables = {name: tables.write(writer, files[name][0], p) for name, p in self._tables.items()}
            if not lazy.copy_on_workers(writer, raw_files):  # with a distributed.Client, workers copy
                writer.copy_many([(relpath, src) for relpath, src, _size in raw_files])
            content = dict(writer.entries)
            lazy.write_group(  # derived from the tensors' zarr.json files: not part of the content hash
                writer, {files[n][0]: a for n, (_role, a) in self._tensors.items() if files[n][1] == lazy.FORMAT}
            )
            processor_entry = writer.write_bytes(PROCESSOR_FILE, processor_bytes)
            writer.write_environment()
            extra = {"raw_link": self._raw.url} if raw == "link" else None
            record = DatasetRecord(
                **target.identity(),
                kind="dataset",
                hash=metadata.content_hash("dataset", content, extra),
                libraries=metadata.library_versions(
                    "mlops-core",
                    "numpy",
                    "cloudpickle",
                    "fsspec",
                    *(("dask", "zarr") if chunked else ()),
                    *(tables.libraries(self._tables) if self._tables else ()),
                    *(("dask",) if any(p.frame is not None for p in self._tables.values()) else ()),
                ),
                tensors={
                    tensor_name: self._table_record(
                        tensor_name, role, files[tensor_name][0], *stored_tables[tensor_name]
                    )
                    if tensor_name in stored_tables
                    else TensorRecord(
                        name=tensor_name,
                        file=files[tensor_name][0],
                        role=role,  # type: ignore[arg-type]
                        shape=tuple(array.shape),
                        dtype=str(array.dtype),
                        format=files[tensor_name][1],
                        entry=chunked.get(tensor_name) or writer.entries[files[tensor_name][0]],
                    )
                    for tensor_name, (role, array) in self._tensors.items()
                },
                raw=RawRecord(
                    strategy=raw,
                    source=self._raw.url,
                    path=self._raw_prefix() if raw == "copy" else None,
                    files=len(raw_files) if raw == "copy" else None,
                    total_bytes=sum(size for _, _, size in raw_files) if raw == "copy" else None,
                ),
                processor=ProcessorRecord(
                    file=PROCESSOR_FILE,
                    class_name=f"{type(self.data_processor).__module__}.{type(self.data_processor).__qualname__}",
                    pickler=pickling.PICKLER,
                    python=metadata.library_versions()["python"],
                    entry=processor_entry,
                ),
            )
            return writer.commit(record, signing_key=target.key)

    @staticmethod
    def _table_record(name: str, role: str, file: str, entry: FileEntry, table: TableRecord) -> TensorRecord:
        return TensorRecord(
            name=name,
            file=file,
            role=role,  # type: ignore[arg-type]
            shape=(table.rows, len(table.columns)),
            dtype="table",
            format=tables.FORMAT,
            entry=entry,
            table=table,
        )

    def _raw_prefix(self) -> str:
        """Where the raw data lands inside the version: ``raw`` for a folder, ``raw/NAME`` for a file."""
        return RAW_DIR if self._raw.store.is_dir(self._raw) else f"{RAW_DIR}/{self._raw.name}"

    def _raw_files(self, follow_symlinks: bool) -> list[tuple[str, Location, int]]:
        """``(relpath in the version, source location, size)`` of every raw file, checked up front."""
        files = []
        store = self._raw.store
        is_dir = store.is_dir(self._raw)
        for rel, size in store.list_files(self._raw, follow_outside_links=follow_symlinks).items():
            relpath = f"{RAW_DIR}/{rel}"
            try:
                metadata.safe_relpath(relpath, self._raw.url)
            except MetadataError:
                raise InvalidNameError(
                    f"raw file {rel!r} has a name that cannot be stored portably; rename it or use raw='link'"
                ) from None
            files.append((relpath, self._raw.child(rel) if is_dir else self._raw, size))
        return files
