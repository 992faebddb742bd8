"""The typed records of meta.json: frozen dataclasses, parsed once at the boundary
(:func:`mlops.metadata.parse`) and read as attributes everywhere else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops.store.base import FileEntry

__all__ = [
    "AnyRecord",
    "ColumnRecord",
    "DatasetLink",
    "DatasetRecord",
    "ManifestRef",
    "ModelRecord",
    "ProcessorRecord",
    "PublishStats",
    "RawRecord",
    "SerializerRecord",
    "TableKind",
    "TableRecord",
    "TensorRecord",
    "VersionRecord",
]

Role = Literal["features", "labels"]
TableKind = Literal["pandas", "pandas-series", "polars", "polars-series", "arrow", "dask"]
"""What a table was when published, and what loading gives back."""


@dataclass(frozen=True, kw_only=True)
class ManifestRef:
    """Where a version's manifest is (a file of the version folder) and how to trust it."""

    file: str
    sha256: str
    size: int
    count: int
    """How many files the manifest lists."""
    total_bytes: int
    """Their total size."""


@dataclass(frozen=True, kw_only=True)
class ColumnRecord:
    """One column of a stored table: its Arrow type and, from the Parquet statistics of the files
    written (no second pass over the data), its null count, minimum and maximum (``None`` where
    the statistics do not say: a nested column, a type JSON cannot hold, a part without them)."""

    name: str
    type: str
    nulls: int | None = None
    min: str | int | float | bool | None = None
    max: str | int | float | bool | None = None


@dataclass(frozen=True, kw_only=True)
class TableRecord:
    """A tensor that is a table (``format == "parquet"``): what it was, its rows, Parquet files and columns."""

    kind: TableKind
    rows: int
    files: int
    columns: tuple[ColumnRecord, ...]

    def column(self, name: str) -> ColumnRecord | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True, kw_only=True)
class TensorRecord:
    """One stored tensor: its file, role, shape and dtype, and its file's manifest entry (so a
    tensor loads without reading the manifest). A table has ``shape == (rows, columns)``,
    ``dtype == "table"`` and its :class:`TableRecord`."""

    name: str
    file: str
    role: Role
    shape: tuple[int, ...]
    dtype: str
    format: str = "npy"
    entry: FileEntry
    table: TableRecord | None = None


@dataclass(frozen=True, kw_only=True)
class RawRecord:
    """The raw data a dataset was made from: copied into the version, or only its location recorded."""

    strategy: Literal["copy", "link"]
    source: str
    path: str | None = None
    """Inside the version, for ``copy``: ``raw`` for a folder, ``raw/NAME`` for a file."""
    files: int | None = None
    total_bytes: int | None = None


@dataclass(frozen=True, kw_only=True)
class ProcessorRecord:
    """The pickled processor (stored by value) and what wrote it."""

    file: str
    class_name: str
    pickler: str
    python: str
    entry: FileEntry


@dataclass(frozen=True, kw_only=True)
class SerializerRecord:
    """The serializer that saved a model, and the distribution that provides it (for install hints)."""

    name: str
    distribution: str | None = None
    distribution_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetLink:
    """A model's link to the dataset version it was trained on."""

    path: str
    name: str | None
    version: str
    hash: str


@dataclass(frozen=True, kw_only=True)
class PublishStats:
    """How many files and bytes a publish wrote, and how many it reused from earlier versions of the
    root instead (hard links or server-side copies, see :mod:`mlops.versions.dedup`)."""

    files_written: int
    bytes_written: int
    files_reused: int
    bytes_reused: int

    def describe(self) -> str:
        """One line for logs and ``mlops show``."""
        return (
            f"{self.files_written} file(s) written ({self.bytes_written} bytes), "
            f"{self.files_reused} reused ({self.bytes_reused} bytes)"
        )


@dataclass(frozen=True, kw_only=True)
class VersionRecord:
    """What every version's meta.json holds."""

    schema: int
    kind: Literal["dataset", "model"]
    name: str
    version: str
    created_at: str
    tags: tuple[str, ...]
    hash: str
    libraries: Mapping[str, str]
    manifest: ManifestRef | None = None
    """The separate manifest (schema 2); ``None`` for schema 1, whose manifest is :attr:`inline_files`."""
    inline_files: Mapping[str, FileEntry] | None = None
    publish: PublishStats | None = None
    """What the publish wrote and reused (``None`` for versions published before mlops recorded it)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Fields this mlops does not know (written by a plugin or a newer minor release), kept on rewrite."""

    @property
    def file_count(self) -> int:
        if self.manifest is not None:
            return self.manifest.count
        return len(self.inline_files or {})

    @property
    def total_bytes(self) -> int:
        """The size of the version's data files (the manifest's files)."""
        if self.manifest is not None:
            return self.manifest.total_bytes
        return sum(e.size for e in (self.inline_files or {}).values())


@dataclass(frozen=True, kw_only=True)
class DatasetRecord(VersionRecord):
    """A dataset version's meta.json."""

    tensors: Mapping[str, TensorRecord]
    raw: RawRecord
    processor: ProcessorRecord


@dataclass(frozen=True, kw_only=True)
class ModelRecord(VersionRecord):
    """A model version's meta.json."""

    serializer: SerializerRecord
    framework: Mapping[str, Any]
    training: Mapping[str, Any]
    """``{"history": {metric: [per-epoch values]} | None, "train_args": {...}}``."""
    dataset: DatasetLink

    @property
    def history(self) -> Mapping[str, Any] | None:
        history = self.training.get("history")
        return history if isinstance(history, Mapping) else None

    @property
    def train_args(self) -> Mapping[str, Any]:
        args = self.training.get("train_args")
        return args if isinstance(args, Mapping) else {}


AnyRecord = DatasetRecord | ModelRecord
