"""Parquet files of a table: encoded, statistics read from their footers, decoded after verification.

A table is stored as ``NAME.parquet/part-NNNNN.parquet`` files of a bounded number of rows plus
``NAME.parquet/_common_metadata`` (the Parquet convention for a dataset's schema: the Arrow schema
with its metadata, pandas' included). The parts carry the schema without its metadata, so that
rows appended to a table (which change pandas' RangeIndex metadata) leave every earlier part
byte-identical and the publish's dedup reuses them. Every function here is a plain picklable
callable, so Dask runs it on any worker; pyarrow is imported inside them.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

from mlops.dataset.zarr_chunks import create_file
from mlops.errors import MissingDependencyError, TableColumnError
from mlops.store import FileEntry, Location
from mlops.utils.install import install_command

COMPRESSION = "zstd"
ROW_GROUP_ROWS = 1 << 20
"""Rows per row group (pyarrow's default): a part of a table is usually one row group, the unit a
``filter`` skips using its statistics. Smaller groups filter finer but cost time and bytes (a
dictionary and statistics each): 262,144-row groups made encoding about 20% slower, 65,536-row
groups a 128 MB table 13% larger."""
CONTENT_DEFINED_CHUNKING = True
"""Cut data pages where the values say (pyarrow >= 21), so that stores deduplicating by chunk
(Hugging Face's Xet) store an edited table's unchanged pages once. mlops' own dedup works on whole
files and does not need it; it costs about 40% more encoding time (measured on the tables
benchmark's 256 MB table: 1.8-2.0 s against 1.3-1.4 s)."""
PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
SCHEMA_FILE = "_common_metadata"

ColumnStats = tuple[int | None, Any, Any]
"""``(null count or None if unknown, min or None, max or None)`` of one column."""


def pyarrow() -> Any:
    """``pyarrow`` (with ``pyarrow.parquet`` loaded), or the install command when it is missing."""
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"tables need pyarrow ({exc}); run: {install_command('tables')}") from exc
    return pyarrow


@cache
def write_options() -> dict[str, Any]:
    """zstd, column statistics, and content-defined chunking of pages where this pyarrow has it
    (pyarrow >= 21): a row inserted early shifts page boundaries only locally."""
    pq = pyarrow().parquet
    options: dict[str, Any] = {"compression": COMPRESSION, "write_statistics": True, "row_group_size": ROW_GROUP_ROWS}
    if CONTENT_DEFINED_CHUNKING and "use_content_defined_chunking" in inspect.signature(pq.write_table).parameters:
        options["use_content_defined_chunking"] = True
    return options


def part_name(index: int) -> str:
    """The file name of part ``index`` (zero-padded, so names sort in row order)."""
    return f"{PART_PREFIX}{index:05d}{PART_SUFFIX}"


def part_index(relpath: str) -> int:
    """The index of the part file ``relpath`` (``.../part-00012.parquet`` -> 12)."""
    return int(relpath.rsplit("/", 1)[-1].removeprefix(PART_PREFIX).removesuffix(PART_SUFFIX))


def schema_bytes(schema: Any) -> bytes:
    """The ``_common_metadata`` bytes of ``schema``: a Parquet file with no rows, only the schema."""
    pa = pyarrow()
    sink = pa.BufferOutputStream()
    pa.parquet.write_metadata(schema, sink)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def read_schema(data: bytes) -> Any:
    """The Arrow schema (metadata included) held in ``_common_metadata`` bytes."""
    pa = pyarrow()
    return pa.parquet.read_schema(pa.BufferReader(data))


def encode(part: Any) -> tuple[bytes, list[ColumnStats]]:
    """The Parquet bytes of the Arrow table ``part`` (written without schema metadata, see the
    module docstring) and its per-column statistics, read from the footer just written."""
    pa = pyarrow()
    part = part.replace_schema_metadata(None)
    if any(column.num_chunks > 1 for column in part.columns):
        part = part.combine_chunks()  # the same rows give the same bytes however they were chunked
    sink = pa.BufferOutputStream()
    pa.parquet.write_table(part, sink, **write_options())
    buffer = sink.getvalue()
    footer = pa.parquet.read_metadata(pa.BufferReader(buffer))
    return buffer.to_pybytes(), file_stats(footer, part.schema)


FINGERPRINT_FORMAT = "mlops-parquet-part-v1"


def fingerprint(part: Any) -> str:
    """A cryptographic hash (BLAKE3 when the ``blake3`` package is there, as the ``tables`` extra
    installs it, else sha256) of what a part's Parquet bytes are made from: its rows (the Arrow IPC
    stream of the slice, which holds only the slice's bytes), its schema without metadata, and the
    write options. Equal fingerprints give equal Parquet bytes under one pyarrow version (and under
    another, a Parquet file of the same rows), so a part seen before need not be encoded again.
    BLAKE3 hashes the ~1 GB a 1 GB table's parts hold in 0.15 s of CPU, sha256 in 0.55 s: the
    fingerprint is paid on every publish, also when nothing is reused."""
    pa = pyarrow()
    part = part.replace_schema_metadata(None)
    name, new_hash = _hash_function()
    sink = _HashingSink(new_hash(f"{FINGERPRINT_FORMAT}\0{name}\0{sorted(write_options().items())}\0".encode()))
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), part.schema) as stream:
        stream.write_table(part)
    return f"{name}-{sink.sha.hexdigest()}"


@cache
def _hash_function() -> tuple[str, Any]:
    try:
        from blake3 import blake3
    except ImportError:
        return "sha256", hashlib.sha256
    return "blake3", blake3


class _HashingSink:
    """A write-only file that hashes what it is given: the IPC stream of a part is hashed buffer by
    buffer as Arrow writes it, never copied into one stream in memory (a part's size saved, and
    a copy of it)."""

    closed = False

    def __init__(self, sha: Any) -> None:
        self.sha = sha

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return len(memoryview(data))

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _remembered_path(print_: str) -> str:
    import os

    from mlops.store.cache import cache_dir

    return os.path.join(cache_dir(), "parquet-parts", print_.rpartition("-")[2][:2], print_)


def remembered(print_: str) -> FileEntry | None:
    """The entry of the Parquet bytes this machine once encoded from a part with fingerprint
    ``print_`` (see :func:`fingerprint`), or ``None``. Only a hint: the file reused for it is one
    the manifest of a committed version lists with exactly that entry."""
    try:
        with open(_remembered_path(print_)) as f:
            sha256, size = f.read().split()
        return FileEntry(sha256, int(size))
    except (OSError, ValueError):
        return None


def remember(print_: str, entry: FileEntry) -> None:
    """Record that the part with fingerprint ``print_`` encodes to ``entry`` (best effort)."""
    import os

    path = _remembered_path(print_)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w") as f:
            f.write(f"{entry.sha256} {entry.size}")
        os.replace(temporary, path)
    except OSError:
        pass


def stats_of_file(file: Location, schema: Any) -> list[ColumnStats]:
    """The column statistics of a stored part, from its footer alone (a part reused, not encoded)."""
    pa = pyarrow()
    with file.store.open_read(file) as f:
        footer = pa.parquet.read_metadata(f)
    return file_stats(footer, schema.remove_metadata())


def _leaves(arrow_type: Any) -> int:
    """How many Parquet leaf columns one Arrow column becomes."""
    types = pyarrow().types
    if types.is_struct(arrow_type):
        return sum(_leaves(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
    if types.is_map(arrow_type):
        return _leaves(arrow_type.key_type) + _leaves(arrow_type.item_type)
    if types.is_list(arrow_type) or types.is_large_list(arrow_type) or types.is_fixed_size_list(arrow_type):
        return _leaves(arrow_type.value_type)
    if hasattr(types, "is_list_view") and (types.is_list_view(arrow_type) or types.is_large_list_view(arrow_type)):
        return _leaves(arrow_type.value_type)
    return 1


def _is_nested(arrow_type: Any) -> bool:
    types = pyarrow().types
    return bool(types.is_nested(arrow_type))


def file_stats(footer: Any, schema: Any) -> list[ColumnStats]:
    """Null count, min and max of each top-level column of a Parquet file, from its row groups'
    statistics; a nested column (list, struct, map) gets ``(None, None, None)``."""
    leaf_of: list[int | None] = []
    for position, field in enumerate(schema):
        leaf_of.extend([None if _is_nested(field.type) else position] * _leaves(field.type))
    stats: list[ColumnStats] = [(0, None, None) if not _is_nested(f.type) else (None, None, None) for f in schema]
    for group in range(footer.num_row_groups):
        row_group = footer.row_group(group)
        for leaf in range(row_group.num_columns):
            owner = leaf_of[leaf] if leaf < len(leaf_of) else None
            if owner is None:
                continue
            statistics = row_group.column(leaf).statistics
            if statistics is None:
                one: ColumnStats = (None, None, None)
            else:
                nulls = statistics.null_count if statistics.has_null_count else None
                bounds = (statistics.min, statistics.max) if statistics.has_min_max else (None, None)
                one = (nulls, *bounds)
            stats[owner] = merge_stats(stats[owner], one)
    return stats


def merge_stats(a: ColumnStats, b: ColumnStats) -> ColumnStats:
    """The statistics of two pieces of one column together (an unknown null count stays unknown)."""
    nulls = None if a[0] is None or b[0] is None else a[0] + b[0]
    return nulls, _pick(min, a[1], b[1]), _pick(max, a[2], b[2])


def _pick(choose: Any, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return choose(a, b)
    except TypeError:  # values the statistics give in kinds that do not compare: no bound
        return None


def json_scalar(value: Any) -> str | int | float | bool | None:
    """A statistic as meta.json stores it: numbers and strings as they are, dates and times in ISO
    8601, decimals as strings; ``None`` for what JSON cannot hold (bytes, NaN). A zero is written
    as 0.0: Parquet writers store a float column's minimum 0.0 as -0.0 (so that readers comparing
    bits never skip a -0.0), which ``mlops show`` would otherwise print for a column of 0, 1, 2..."""
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value + 0.0 if math.isfinite(value) else None  # -0.0 + 0.0 is 0.0
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return None


def write_partition(
    frame: Any, folder: Location, index: int, schema_data: bytes
) -> tuple[str, str, int, int, list[ColumnStats]]:
    """Write one partition of a dask DataFrame (a pandas DataFrame) as part ``index`` of the table
    ``folder``, create-only, converted to the table's schema. Runs on a Dask worker; returns
    ``(file name, sha256, size, rows, column statistics)`` so the client never holds table bytes."""
    pa = pyarrow()
    schema = read_schema(schema_data)
    try:
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=True, safe=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise TableColumnError(
            f"partition {index} of a dask DataFrame does not fit the schema of its meta: {first_line(exc)}"
        ) from exc
    data, stats = encode(table)
    name = part_name(index)
    create_file(folder.store, folder.child(name), data)
    return name, hashlib.sha256(data).hexdigest(), len(data), table.num_rows, stats


def read_part(file: Location, relpath: str, entry: FileEntry, columns: Sequence[str] | None, filter: Any) -> Any:
    """One part as an Arrow table (schema metadata not restored), read only after its bytes matched
    ``entry`` (:class:`~mlops.errors.IntegrityError` naming ``relpath`` otherwise): memory-mapped
    from a local disk (remote parts are fetched into the local content cache first), with only
    ``columns`` decoded and only the row groups ``filter`` may match."""
    pa = pyarrow()
    local = file.store.fetch_verified(file, entry, relpath)
    return pa.parquet.read_table(
        local,
        columns=list(columns) if columns is not None else None,
        filters=filter,
        memory_map=True,
        use_pandas_metadata=False,
        partitioning=None,
    )


def read_partition(file: Location, relpath: str, entry: FileEntry, schema_data: bytes) -> Any:
    """One part as a pandas DataFrame (a lazily read dask DataFrame's partition), verified first."""
    table = read_part(file, relpath, entry, None, None)
    return table.replace_schema_metadata(read_schema(schema_data).metadata).to_pandas()


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
