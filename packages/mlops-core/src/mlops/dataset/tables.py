"""Tables as dataset members: pandas, polars and Arrow tables and dask DataFrames, stored as Parquet.

A processor may return a table wherever it returns a tensor. It is checked and converted to Arrow
when the builder is made (bad input fails before anything is written, naming the column), stored
as ``NAME.parquet/`` (see :mod:`mlops.dataset.parquet_parts`) in parts of a bounded number of rows
(so rows appended to a table leave every earlier part byte-identical, and the publish reuses them),
and loaded back as what it was: pandas in, pandas out; polars, polars; Arrow, Arrow; a dask
DataFrame, a lazy dask DataFrame whose every partition is verified when read. Its schema, row count
and per-column statistics are recorded in meta.json (:class:`~mlops.metadata.TableRecord`).

Types are recognised by their module's name: ``import mlops`` imports none of pandas, polars or
pyarrow (mlops-core's ``tables`` extra installs them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from mlops.dataset import lazy
from mlops.dataset import parquet_parts as parts
from mlops.dataset.table_arrays import table_class
from mlops.errors import IntegrityError, MissingDependencyError, TableColumnError
from mlops.metadata import ColumnRecord, TableKind, TableRecord, TensorRecord
from mlops.store import FileEntry, Location
from mlops.utils.concurrency import concurrently
from mlops.utils.install import install_command

if TYPE_CHECKING:
    from mlops.versions.writer import VersionWriter

FORMAT = lazy.TABLE_FORMAT
SUFFIX = lazy.TABLE_SUFFIX
TARGET_PART_BYTES = 32 << 20
"""The in-memory (Arrow) size a part aims at: a 1 GB table becomes ~32 files, so appending 1% of
rows rewrites one of them (at most ~3% of a 1 GB table's bytes, less in larger ones). Smaller parts
cost encoding time: each is one row group, and pyarrow tries a dictionary for every column of every
row group before it falls back to plain values (measured on the tables benchmark's 1 GB table, in
CPU seconds: 4.5 with 16 MB parts, 3.4 with 32 MB, 2.8 with 64 MB; a whole-file write 3.2)."""
MIN_PART_ROWS = 1 << 10
MAX_PART_ROWS = 1 << 22
SERIES_COLUMN = "__series__"
"""The column holding an unnamed pandas Series (its name comes back as ``None``)."""


def table_kind(value: Any) -> TableKind | None:
    """What kind of table ``value`` is stored as (``"pandas"``, ``"polars-series"``, ``"arrow"``,
    ``"dask"``...), or ``None`` for anything else (an Arrow array or record batch, a dask Series: the
    tensor loaders read them, a dataset does not store them as tables); decided from its classes'
    modules, without importing anything (see :func:`~mlops.dataset.table_arrays.table_class`)."""
    found = table_class(value)
    return None if found is None else found.stored


def table_file(name: str) -> str:
    """The folder of the table ``name`` in a version."""
    return f"{name}{SUFFIX}"


@dataclass(frozen=True)
class PreparedTable:
    """A table checked and ready to write: an Arrow table (in memory) or a dask DataFrame with the
    Arrow schema of its partitions."""

    kind: TableKind
    schema: Any
    table: Any = None
    frame: Any = None

    @property
    def columns(self) -> int:
        return len(self.schema)


def prepare(name: str, value: Any) -> PreparedTable:
    """Check the table ``value`` (tensor ``name``) and convert it to Arrow (a dask DataFrame: only
    its schema, nothing is computed). Raises :class:`~mlops.errors.TableColumnError` naming the column
    for mixed Python objects in a column, duplicate or non-string column names, or an index Parquet
    cannot hold."""
    kind = table_kind(value)
    parts.pyarrow()  # the install command, not an ImportError, when pyarrow is missing
    if kind == "pandas":
        return PreparedTable(kind, *_from_pandas(name, value))
    if kind == "pandas-series":
        column = value.name if value.name is not None else SERIES_COLUMN
        if not isinstance(column, str):
            raise TableColumnError(
                f"tensor {name!r} is a pandas Series named {column!r}; Parquet column names are strings: "
                f"name it with a string (series.rename('{column}'))"
            )
        return PreparedTable(kind, *_from_pandas(name, value.to_frame(column)))
    if kind in ("polars", "polars-series"):
        frame = value.to_frame() if kind == "polars-series" else value
        for column, dtype in frame.schema.items():
            if str(dtype).startswith("Object"):
                raise TableColumnError(
                    f"column {column!r} of table {name!r} holds Python objects (polars Object), which Parquet "
                    "cannot store; cast it to a string, numeric, list or struct type"
                )
        table = frame.to_arrow()
        return PreparedTable(cast(TableKind, kind), table.schema, table)
    if kind == "arrow":
        _check_names(name, list(value.column_names))
        return PreparedTable(kind, value.schema, value)
    if kind == "dask":
        meta = value._meta
        _check_names(name, list(meta.columns), list(meta.index.names))
        return PreparedTable(kind, _dask_schema(name, meta), frame=value)
    raise TypeError(f"tensor {name!r} is not a table")  # pragma: no cover - callers check table_kind first


def _dask_schema(name: str, meta: Any) -> Any:
    """The Arrow schema every partition of a dask DataFrame is written in: its meta's, the index kept
    as a column (``__index_level_0__`` when unnamed), object columns taken to hold strings."""
    pa = parts.pyarrow()
    sample = meta.copy()
    for column, dtype in meta.dtypes.items():
        if str(dtype) == "object":
            sample[column] = sample[column].astype("string[pyarrow]")
    try:
        schema = pa.Schema.from_pandas(sample, preserve_index=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise TableColumnError(
            f"dask DataFrame {name!r} has a column or index Parquet cannot hold: {parts.first_line(exc)}"
        ) from exc
    return schema


def _check_names(name: str, columns: Sequence[Any], index_names: Sequence[Any] = ()) -> None:
    seen: set[str] = set()
    for column in columns:
        if not isinstance(column, str):
            raise TableColumnError(
                f"column {column!r} of table {name!r} has a {type(column).__name__} name; Parquet column names "
                "are strings: rename it (e.g. df.columns = df.columns.astype(str))"
            )
        if column in seen:
            raise TableColumnError(
                f"column {column!r} of table {name!r} appears more than once; give each column its own name"
            )
        seen.add(column)
    for level in index_names:
        if level is None:
            continue
        if not isinstance(level, str):
            raise TableColumnError(
                f"the index of table {name!r} is named {level!r} ({type(level).__name__}); Parquet names are "
                "strings: rename it (df.index.name = 'id') or drop it (df.reset_index(drop=True))"
            )
        if level in seen:
            raise TableColumnError(
                f"the index of table {name!r} is named {level!r}, like one of its columns; rename one of them"
            )


def _from_pandas(name: str, frame: Any) -> tuple[Any, Any]:
    """``(schema, Arrow table)`` of a pandas DataFrame, its index kept (a RangeIndex as metadata)."""
    pa = parts.pyarrow()
    import pandas as pd

    if isinstance(frame.columns, pd.MultiIndex):
        raise TableColumnError(
            f"table {name!r} has hierarchical (MultiIndex) column names; Parquet column names are strings: "
            "flatten them (e.g. df.columns = ['_'.join(c) for c in df.columns])"
        )
    _check_names(name, list(frame.columns), list(frame.index.names))
    try:
        table = pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise _culprit(name, frame, exc) from exc
    return table.schema, table


def _culprit(name: str, frame: Any, exc: Exception) -> TableColumnError:
    """The error naming the column (or index level) of ``frame`` that Arrow could not convert."""
    pa = parts.pyarrow()
    candidates = [(f"column {c!r}", frame[c]) for c in frame.columns]
    candidates += [
        (f"index level {level!r}" if level is not None else "the index", frame.index.get_level_values(i))
        for i, level in enumerate(frame.index.names)
    ]
    for what, values in candidates:
        try:
            pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as one:
            types = (
                sorted({type(v).__name__ for v in values.array if v is not None})[:4] if values.dtype == object else []
            )
            held = f" (it holds {', '.join(types)})" if len(types) > 1 else ""
            return TableColumnError(
                f"{what} of table {name!r} cannot be stored as Parquet{held}: {parts.first_line(one)}; "
                "make every value one type (e.g. .astype(str)), or drop it"
            )
    return TableColumnError(f"table {name!r} cannot be stored as Parquet: {parts.first_line(exc)}")


def part_rows(table: Any) -> int:
    """Rows per part file: a power of two near :data:`TARGET_PART_BYTES` of the table's average row,
    so the same kind of table gets the same cut (and appended rows leave earlier parts intact)."""
    if table.num_rows == 0:
        return MAX_PART_ROWS
    width = max(1.0, table.nbytes / table.num_rows)
    rows = 2 ** round(math.log2(max(1.0, TARGET_PART_BYTES / width)))
    return int(min(MAX_PART_ROWS, max(MIN_PART_ROWS, rows)))


# --- writing -----------------------------------------------------------------------------------------


def write(writer: VersionWriter, relpath: str, prepared: PreparedTable) -> tuple[FileEntry, TableRecord]:
    """Store ``prepared`` as the table folder ``relpath`` of the version ``writer`` writes; returns the
    entry of its ``_common_metadata`` and its record. In-memory tables are cut into parts encoded on
    threads here (each goes through the writer: hashed while written, or reused from an earlier
    version); a dask DataFrame is written by the workers, one part per partition."""
    if prepared.frame is not None:
        results = _write_on_workers(writer, relpath, prepared)
    else:
        table = prepared.table
        step = part_rows(table)
        starts = range(0, max(table.num_rows, 1), step)

        def one(item: tuple[int, int]) -> tuple[str, str, int, int, list[parts.ColumnStats]]:
            index, start = item
            piece = table.slice(start, step)
            name = parts.part_name(index)
            print_ = parts.fingerprint(piece)
            encoded: list[list[parts.ColumnStats]] = []

            def produce() -> bytes:
                data, stats = parts.encode(piece)
                encoded.append(stats)
                return data

            entry, _produced = writer.write_produced(f"{relpath}/{name}", lambda: parts.remembered(print_), produce)
            if encoded:
                parts.remember(print_, entry)
                stats = encoded[0]
            else:  # reused from an earlier version: its statistics are in its footer
                stats = parts.stats_of_file(writer.loc.child(f"{relpath}/{name}"), table.schema)
            return name, entry.sha256, entry.size, piece.num_rows, stats

        results = concurrently(one, list(enumerate(starts)), workers=_cores())
    entry = writer.write_bytes(f"{relpath}/{parts.SCHEMA_FILE}", parts.schema_bytes(prepared.schema))
    return entry, _record(prepared, results)


def _write_on_workers(
    writer: VersionWriter, relpath: str, prepared: PreparedTable
) -> list[tuple[str, str, int, int, list[parts.ColumnStats]]]:
    import dask

    folder = writer.loc.child(relpath)
    writer.writing((), folder=relpath)
    schema_data = parts.schema_bytes(prepared.schema)
    write_part = dask.delayed(parts.write_partition, pure=False)  # a side effect: never deduplicated
    tasks = [
        (dask.delayed(lazy.one_result, pure=True)(write_part(partition, folder, index, schema_data)), 0)
        for index, partition in enumerate(prepared.frame.to_delayed(optimize_graph=True))
    ]
    results: list[tuple[str, str, int, int, list[parts.ColumnStats]]] = [tuple(r) for r in lazy.run_tasks(tasks)]  # type: ignore[misc]
    for name, sha256, size, _rows, _stats in results:
        writer.record_written(f"{relpath}/{name}", FileEntry(sha256, size))
    writer.store.abort_uploads(folder)  # what tasks killed mid-write left (a rerun wrote their part)
    writer.sync_before_commit([*(folder.child(r[0]) for r in results), folder, folder.parent])
    return sorted(results, key=lambda r: r[0])


def _is_nested(arrow_type: Any) -> bool:
    return bool(parts.pyarrow().types.is_nested(arrow_type))


def _record(prepared: PreparedTable, results: list[tuple[str, str, int, int, list[parts.ColumnStats]]]) -> TableRecord:
    """The table's record: rows and per-column statistics merged over its parts."""
    rows = sum(r[3] for r in results)
    merged: list[parts.ColumnStats] | None = None
    for *_file, stats in results:
        merged = stats if merged is None else [parts.merge_stats(a, b) for a, b in zip(merged, stats, strict=True)]
    columns = tuple(
        ColumnRecord(
            name=field.name,
            type=str(field.type),
            nulls=merged[i][0] if merged and rows else 0 if not _is_nested(field.type) else None,
            min=parts.json_scalar(merged[i][1]) if merged else None,
            max=parts.json_scalar(merged[i][2]) if merged else None,
        )
        for i, field in enumerate(prepared.schema)
    )
    return TableRecord(kind=prepared.kind, rows=rows, files=len(results), columns=columns)


def _cores() -> int:
    """Parts encoded or decoded at once: as many as there are cores (pyarrow's work is CPU-bound;
    more threads only contend)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def libraries(prepared: Mapping[str, PreparedTable]) -> tuple[str, ...]:
    """The libraries whose versions meta.json records for these tables."""
    kinds = {p.kind.split("-")[0] for p in prepared.values()}
    return ("pyarrow", *sorted({"pandas" if k in ("pandas", "dask") else k for k in kinds} - {"arrow"}))


# --- reading -----------------------------------------------------------------------------------------


def _parts(tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> list[tuple[str, FileEntry]]:
    found = sorted(lazy.chunk_files(tensor, manifest).items(), key=lambda item: parts.part_index(item[0]))
    expected = tensor.table.files if tensor.table is not None else len(found)
    if len(found) != expected:
        raise IntegrityError(
            f"table {tensor.name!r} has {len(found)} Parquet file(s) in the manifest, meta.json says {expected}",
            file=tensor.file,
        )
    return found


def _schema_data(version: Location, tensor: TensorRecord) -> bytes:
    relpath = lazy.metadata_file(tensor)
    return version.store.read_verified(version.child(relpath), tensor.entry, relpath)


def table(
    version: Location,
    tensor: TensorRecord,
    manifest: Mapping[str, FileEntry],
    columns: Sequence[str] | None = None,
    filter: Any = None,
) -> Any:
    """The stored table ``tensor`` as a ``pyarrow.Table`` (its schema metadata restored): every part
    read is verified first, then memory-mapped, with only ``columns`` decoded and only the row groups
    that ``filter`` (a pyarrow expression or DNF list, as ``pyarrow.parquet.read_table`` takes) may
    match."""
    pa = parts.pyarrow()
    schema = parts.read_schema(_schema_data(version, tensor))
    if columns is not None:
        unknown = [c for c in columns if c not in schema.names]
        if unknown:
            raise KeyError(f"table {tensor.name!r} has no column {unknown[0]!r}; it has {', '.join(schema.names)}")
    files = _parts(tensor, manifest)
    pieces = concurrently(
        lambda item: parts.read_part(version.child(item[0]), item[0], item[1], columns, filter),
        files,
        workers=max(_cores(), version.store.transfer_workers),
    )
    wanted = pa.schema([schema.field(c) for c in columns]) if columns is not None else schema.remove_metadata()
    result = pa.concat_tables(pieces) if pieces else wanted.empty_table()
    return result.replace_schema_metadata(schema.metadata)


def load(version: Location, tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> Any:
    """The stored table ``tensor`` as what was published (pandas, polars, Arrow, or a lazy dask DataFrame)."""
    kind = tensor.table.kind if tensor.table is not None else "arrow"
    if kind == "dask":
        return _lazy_frame(version, tensor, manifest)
    arrow = table(version, tensor, manifest)
    if kind == "arrow":
        return arrow
    if kind in ("pandas", "pandas-series"):
        _need("pandas")
        frame = arrow.to_pandas()
        if kind == "pandas":
            return frame
        series = frame.iloc[:, 0]
        return series.rename(None) if series.name == SERIES_COLUMN else series
    polars = _need("polars")
    frame = polars.from_arrow(arrow)
    if kind == "polars-series":  # polars names an unnamed ("") column "column_0" on the way in
        return frame.to_series(0).alias(arrow.column_names[0])
    return frame


def _need(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"this table was published from {module} and loads as one, which needs {module} ({exc}); run: "
            f"{install_command('tables')}"
        ) from exc


def _lazy_frame(version: Location, tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> Any:
    """A lazy dask DataFrame, one partition per part, each verified when its task reads it."""
    try:
        import dask.dataframe as dd
    except ImportError as exc:
        raise MissingDependencyError(
            f"this table was published from a dask DataFrame and loads as one ({exc}); "
            "run: pip install 'dask[dataframe]'"
        ) from exc
    schema_data = _schema_data(version, tensor)
    meta = parts.read_schema(schema_data).empty_table().to_pandas()
    files = _parts(tensor, manifest)
    return dd.from_map(
        parts.read_partition,
        [version.child(rel) for rel, _ in files],
        [rel for rel, _ in files],
        [entry for _, entry in files],
        args=[schema_data],
        meta=meta,
        label="mlops-parquet",
        enforce_metadata=False,
    )
