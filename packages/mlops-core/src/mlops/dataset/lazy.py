"""Dask tensors: published as Zarr v3 arrays by the active Dask scheduler, read back lazily and verified.

The one place that knows how a chunked tensor sits in a version (``NAME.zarr/zarr.json`` and one
manifest entry per chunk, ``NAME.zarr/c/I/J``) and that reads those :class:`TensorRecord` fields,
so a change of format is made here. dask is imported inside the functions: ``import mlops`` and
numpy-only datasets never import it (mlops-core's ``dask`` extra installs it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.errors import IntegrityError, MissingDependencyError
from mlops.metadata import TensorRecord
from mlops.store import FileEntry, Location
from mlops.utils import progress
from mlops.utils.install import install_command

if TYPE_CHECKING:
    from mlops.versions.writer import VersionWriter

FORMAT = "zarr"
SUFFIX = ".zarr"
TABLE_FORMAT = "parquet"
"""A table (see :mod:`mlops.dataset.tables`): ``NAME.parquet/`` holding ``_common_metadata`` (its
schema, the file meta.json's entry points to) and ``part-NNNNN.parquet`` files."""
TABLE_SUFFIX = ".parquet"
TABLE_SCHEMA_FILE = "_common_metadata"
TABLE_PART_PREFIX = "part-"
MERGE_FAN_IN = 16
"""Chunk results merged per task on the way back to the client (a tree, not one giant gather)."""


def is_dask_array(value: Any) -> bool:
    """Whether ``value`` is a ``dask.array.Array``, decided from its class, without importing dask."""
    return any(c.__module__.startswith("dask.array") and c.__name__ == "Array" for c in type(value).__mro__)


def _dask() -> Any:
    try:
        import dask.array
    except ImportError as exc:
        raise MissingDependencyError(
            f"chunked (zarr) tensors need dask and zarr ({exc}); run: {install_command('dask')}"
        ) from exc
    return dask


def _merge(*parts: list[Any]) -> list[Any]:
    return [item for part in parts for item in part]


def one_result(result: Any) -> list[Any]:
    return [result]


def write_dask_tensor(writer: VersionWriter, relpath: str, array: Any) -> FileEntry:
    """Store the dask ``array`` as the Zarr array folder ``relpath`` of the version ``writer`` writes.

    The graph runs on the active scheduler (a ``distributed.Client`` if one is active, else the
    threaded one): each task computes one dask block and writes it as one zarr chunk, create-only,
    and only ``(key, sha256, size)`` travels back, merged in a tree. Every chunk is recorded in
    the manifest; ``zarr.json`` is written last by this process. Returns its entry."""
    dask = _dask()
    from mlops.dataset.zarr_chunks import METADATA_FILE, write_chunk

    meta = _array_metadata(relpath, array)
    folder = writer.loc.child(relpath)
    writer.writing((), folder=relpath)
    if array.size:
        blocks = array.to_delayed(optimize_graph=True)
        write = dask.delayed(write_chunk, pure=False)  # a side effect: never deduplicated
        itemsize = np.dtype(array.dtype).itemsize
        tasks = []
        for index in np.ndindex(*blocks.shape):
            nbytes = itemsize * int(np.prod([array.chunks[axis][i] for axis, i in enumerate(index)]))
            tasks.append((dask.delayed(one_result, pure=True)(write(blocks[index], folder, meta, index)), nbytes))
        written = run_tasks(tasks)
        for key, sha256, size in written:
            writer.record_written(f"{relpath}/{key}", FileEntry(sha256, size))
        writer.store.abort_uploads(folder)  # what tasks killed mid-write left (a rerun wrote their chunk)
        writer.sync_before_commit(_with_folders(folder, [key for key, _, _ in written]))
    return writer.write_bytes(f"{relpath}/{METADATA_FILE}", meta)


def dimension_names(name: str, ndim: int) -> list[str]:
    """The axis names of tensor ``name`` in its zarr.json (``X_train_dim_0``...): distinct per tensor,
    since mlops cannot know which axes of two tensors mean the same thing."""
    return [f"{name}_dim_{axis}" for axis in range(ndim)]


def _array_metadata(relpath: str, array: Any) -> bytes:
    """The zarr.json of the dask ``array`` stored at ``relpath``: its chunk grid is the dask one."""
    from mlops.dataset.zarr_chunks import array_metadata

    chunk_shape = tuple(c[0] if c else 1 for c in array.chunks)
    name = relpath.removesuffix(SUFFIX)
    return array_metadata(array.shape, chunk_shape, np.dtype(array.dtype), dimension_names(name, array.ndim))


def write_group(writer: VersionWriter, arrays: Mapping[str, Any]) -> FileEntry | None:
    """Make the version folder a Zarr v3 group of its chunked tensors (``{relpath: dask array}``):
    its own ``zarr.json``, their metadata consolidated in it, so ``xarray.open_zarr(version)`` opens
    them all (as ``ds["X_train.zarr"]``) while each ``NAME.zarr`` stays a plain array. Nothing when
    the version has no chunked tensor."""
    if not arrays:
        return None
    from mlops.dataset.zarr_chunks import METADATA_FILE, group_metadata

    metas = {relpath: _array_metadata(relpath, array) for relpath, array in arrays.items()}
    return writer.write_bytes(METADATA_FILE, group_metadata(metas))


def active_client() -> Any:
    """The active ``distributed.Client``, or ``None``; never imports distributed (a client can only
    be active if the user imported it)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    import distributed

    try:
        return distributed.default_client()  # type: ignore[no-untyped-call]
    except ValueError:  # no client
        return None


def _copy_file(relpath: str, src: Location, dest: Location) -> tuple[str, str, int]:
    entry = dest.store.copy_from(src, dest, durable=True)
    return relpath, entry.sha256, entry.size


def copy_on_workers(writer: VersionWriter, files: list[tuple[str, Location, int]]) -> bool:
    """Copy raw files (``(relpath, source, size)``) into the version on the active cluster's
    workers, which read, hash and write them (the bytes never reach this process; a file on the
    destination's own store is copied inside it, see ``Store.copy_from``); only ``(path, sha256,
    size)`` come back for the manifest. False, copying nothing, when no ``distributed.Client`` is
    active."""
    client = active_client()
    if client is None or not files:
        return False
    dask = _dask()
    writer.writing(rel for rel, _, _ in files)
    copy = dask.delayed(_copy_file, pure=False)
    tasks = [
        (dask.delayed(one_result, pure=True)(copy(rel, src, writer.loc.child(rel))), size) for rel, src, size in files
    ]
    for rel, sha256, size in run_tasks(tasks):
        writer.record_written(rel, FileEntry(sha256, size))
    return True


def _with_folders(folder: Location, keys: list[str]) -> list[Location]:
    """The chunk files ``keys`` of the array ``folder``, then every folder holding them, up to the
    version's (the chunks were written without a flush; the folders' entries need one too)."""
    folders = {"/".join(parts[:i]) for parts in (key.split("/") for key in keys) for i in range(1, len(parts))}
    return [
        *(folder.child(key) for key in keys),
        *(folder.child(sub) for sub in sorted(folders, key=len, reverse=True)),
        folder,
        folder.parent,
    ]


def run_tasks(tasks: list[tuple[Any, int]]) -> list[Any]:
    """Compute the delayed ``tasks`` (each returning a one-item list) on the active scheduler, their
    results merged in a tree of :data:`MERGE_FAN_IN` on the way back, and report each task's bytes
    (its ``int``) to the progress bar as soon as it finishes: from a ``distributed.Client``, by
    watching the tasks' futures complete (their results stay on the workers until merged); on the
    local schedulers, from a dask callback run as each task ends."""
    advance = progress.advancer()
    client = active_client()
    if client is not None:
        import distributed

        futures = client.compute([task for task, _ in tasks])
        sizes = {future.key: size for future, (_, size) in zip(futures, tasks, strict=True)}
        level = list(futures)
        while len(level) > 1:
            level = [
                client.submit(_merge, *level[i : i + MERGE_FAN_IN], pure=False)
                for i in range(0, len(level), MERGE_FAN_IN)
            ]
        for done in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
            advance(sizes[done.key])
        merged: list[Any] = level[0].result()
        return merged
    dask = _dask()
    from dask.callbacks import Callback

    sizes = {task.key: size for task, size in tasks}

    def finished(key: Any, *_: Any) -> None:
        if key in sizes:
            advance(sizes[key])

    level = [task for task, _ in tasks]
    while len(level) > 1:
        level = [
            dask.delayed(_merge, pure=True)(*level[i : i + MERGE_FAN_IN]) for i in range(0, len(level), MERGE_FAN_IN)
        ]
    with Callback(posttask=finished):  # type: ignore[no-untyped-call]
        (results,) = dask.compute(level[0])
    return list(results)


def tensor_file(name: str, array: Any) -> tuple[str, str]:
    """``(file, format)`` of the tensor ``name`` holding ``array`` in a version."""
    return (f"{name}{SUFFIX}", FORMAT) if is_dask_array(array) else (f"{name}.npy", "npy")


def metadata_file(tensor: TensorRecord) -> str:
    """The file whose manifest entry meta.json records for ``tensor`` (``zarr.json`` for zarr,
    ``_common_metadata`` for a table)."""
    from mlops.dataset.zarr_chunks import METADATA_FILE

    if tensor.format == TABLE_FORMAT:
        return f"{tensor.file}/{TABLE_SCHEMA_FILE}"
    return f"{tensor.file}/{METADATA_FILE}" if tensor.format == FORMAT else tensor.file


def chunk_files(tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> dict[str, FileEntry]:
    """The manifest entries of ``tensor``'s chunks or Parquet parts (empty for a ``.npy`` tensor)."""
    if tensor.format == TABLE_FORMAT:
        prefix = f"{tensor.file}/{TABLE_PART_PREFIX}"
        return {rel: e for rel, e in manifest.items() if rel.startswith(prefix)}
    if tensor.format != FORMAT:
        return {}
    prefix = f"{tensor.file}/c"
    return {rel: e for rel, e in manifest.items() if rel == prefix or rel.startswith(prefix + "/")}


def stored_files(tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> dict[str, FileEntry]:
    """Every manifest entry that holds ``tensor``: its ``.npy`` file, or its zarr.json and chunks."""
    meta = metadata_file(tensor)
    return {meta: manifest.get(meta, tensor.entry), **chunk_files(tensor, manifest)}


def fetch_chunks(version: Location, tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> None:
    """Check every chunk of ``tensor`` now, several at once; from a remote store this downloads
    them into the local content cache, so later reads cost no transfer."""
    from mlops.utils.concurrency import concurrently

    store = version.store
    concurrently(
        lambda item: store.fetch_verified(version.child(item[0]), item[1], item[0]),
        list(chunk_files(tensor, manifest).items()),
        workers=store.transfer_workers,
    )


def compute(*values: Any) -> tuple[Any, ...]:
    """``values`` with every dask value computed, all in one pass over their chunks."""
    if not any(is_dask_array(v) or type(v).__module__.startswith("dask") for v in values):
        return values
    results: tuple[Any, ...] = _dask().compute(*values)
    return results


def open_zarr_tensor(version: Location, tensor: TensorRecord, manifest: Mapping[str, FileEntry]) -> Any:
    """``tensor`` as a lazy ``dask.array.Array``: one task per chunk, which reads that chunk, checks
    it against its sha256 in ``manifest`` and only then decodes it. Nothing is read but zarr.json
    until the array (or a slice of it) is computed; a corrupted chunk raises
    :class:`~mlops.errors.IntegrityError` naming it when it is read, the others still read."""
    dask = _dask()
    from dask.base import tokenize

    from mlops.dataset.zarr_chunks import chunk_key, read_chunk

    meta_rel = metadata_file(tensor)
    meta = version.store.read_verified(version.child(meta_rel), tensor.entry, meta_rel)
    chunk_shape = _chunk_shape(meta, meta_rel)
    shape, dtype = tensor.shape, np.dtype(tensor.dtype)
    if 0 in shape:
        return dask.array.from_array(np.empty(shape, dtype=dtype))
    chunks = tuple(tuple(min(c, n - i) for i in range(0, n, c)) for c, n in zip(chunk_shape, shape, strict=True))
    folder = version.child(tensor.file)
    name = f"mlops-zarr-{tokenize(folder.url, tensor.entry.sha256)}"
    graph: dict[Any, Any] = {}
    for index in np.ndindex(*(len(c) for c in chunks)):
        relpath = f"{tensor.file}/{chunk_key(index)}"
        entry = manifest.get(relpath)
        if entry is None:
            raise IntegrityError(f"{relpath} (a chunk of tensor {tensor.name!r}) is not in the manifest", file=relpath)
        graph[(name, *index)] = (read_chunk, folder, relpath, entry, meta, index)
    return dask.array.Array(graph, name, chunks, dtype=dtype)


def _chunk_shape(meta: bytes, where: str) -> tuple[int, ...]:
    try:
        grid = json.loads(meta)["chunk_grid"]
        return tuple(int(c) for c in grid["configuration"]["chunk_shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{where} is not Zarr v3 array metadata with a regular chunk grid: {exc}") from exc
