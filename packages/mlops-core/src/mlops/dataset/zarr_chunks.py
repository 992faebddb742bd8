"""Zarr v3 chunks written and read through a :class:`~mlops.store.base.Store`, one object per chunk.

A chunked tensor is stored as a standard Zarr v3 array folder (``NAME.zarr/zarr.json`` plus
``NAME.zarr/c/I/J...``), so plain ``zarr.open_array(url)`` and xarray read it. Chunks are encoded
and decoded with zarr's own codec pipeline, on an in-memory zarr store holding just the array's
metadata and the one chunk: the bytes that reach the version folder are written once, create-only,
hashed on the way, and the bytes read back are checked against the manifest before zarr decodes
them. Every function here is a plain picklable callable, so Dask can run it on any worker. zarr is
imported inside the functions: ``import mlops`` must not import it.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlops.store.base import FileEntry, Location, Store

METADATA_FILE = "zarr.json"
"""The Zarr v3 metadata document at the root of each array folder."""
_CONFIG: Any = {"write_empty_chunks": True}
"""Every chunk is stored, even one equal to the fill value: one object per task, always."""


def array_metadata(
    shape: Sequence[int], chunks: Sequence[int], dtype: np.dtype[Any], dimension_names: Sequence[str] | None = None
) -> bytes:
    """The ``zarr.json`` bytes of an array of ``shape`` cut into ``chunks`` (zarr's default codecs),
    naming its axes ``dimension_names`` (what xarray needs to open a Zarr v3 array)."""
    import zarr
    from zarr.storage import MemoryStore

    held: dict[str, Any] = {}
    zarr.create_array(
        store=MemoryStore(held),
        shape=tuple(shape),
        chunks=tuple(max(1, c) for c in chunks),
        dtype=dtype,
        fill_value=np.zeros((), dtype=dtype).item() if dtype.kind != "V" else None,
        dimension_names=list(dimension_names) if dimension_names is not None else None,
        zarr_format=3,
        config=_CONFIG,
    )
    data: bytes = held[METADATA_FILE].to_bytes()
    return data


def group_metadata(arrays: Mapping[str, bytes]) -> bytes:
    """The ``zarr.json`` of a Zarr v3 group whose members are ``arrays`` (``{name: their zarr.json}``),
    their metadata consolidated into it (zarr-python's inline consolidated metadata, which readers
    that do not know it ignore): xarray opens the group from this one file, without listing the
    folder, and sees exactly these arrays."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    prototype = default_buffer_prototype()
    held: dict[str, Any] = {
        f"{name}/{METADATA_FILE}": prototype.buffer.from_bytes(meta) for name, meta in arrays.items()
    }
    store = MemoryStore(held)
    zarr.create_group(store=store, zarr_format=3)
    with warnings.catch_warnings():  # "not part of the Zarr format 3 specification": known, and optional
        warnings.simplefilter("ignore", UserWarning)
        zarr.consolidate_metadata(store, zarr_format=3)
    data: bytes = held[METADATA_FILE].to_bytes()
    return data


def chunk_key(index: Sequence[int]) -> str:
    """The key of chunk ``index`` under zarr's default chunk key encoding (``c/0/1``; ``c`` for 0-d)."""
    return "/".join(["c", *(str(i) for i in index)])


def _open(meta: bytes, files: dict[str, bytes], mode: str) -> Any:
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.storage import MemoryStore

    prototype = default_buffer_prototype()
    held = {key: prototype.buffer.from_bytes(value) for key, value in {METADATA_FILE: meta, **files}.items()}
    array = zarr.open_array(store=MemoryStore(held), mode=mode, zarr_format=3)
    return array.with_config(_CONFIG), held  # open_array ignores a config= argument (zarr 3.1)


def _region(index: Sequence[int], chunks: Sequence[int], shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(index, chunks, shape, strict=True))


def encode_chunk(meta: bytes, block: np.ndarray, index: Sequence[int]) -> bytes:
    """The stored bytes of chunk ``index`` holding ``block``, as zarr's codec pipeline encodes them."""
    array, held = _open(meta, {}, "r+")
    array[_region(index, array.chunks, array.shape)] = block
    data: bytes = held[chunk_key(index)].to_bytes()
    return data


def decode_chunk(meta: bytes, data: bytes, index: Sequence[int]) -> np.ndarray:
    """The values of chunk ``index`` from its stored bytes (a partial edge chunk comes back trimmed)."""
    array, _held = _open(meta, {chunk_key(index): data}, "r")
    values: np.ndarray = np.asarray(array[_region(index, array.chunks, array.shape)])
    return values


def write_chunk(block: np.ndarray, folder: Location, meta: bytes, index: tuple[int, ...]) -> tuple[str, str, int]:
    """Encode ``block`` as chunk ``index`` and create it, create-only, in the array ``folder``
    (not yet durable: the caller makes every chunk durable with ``Store.sync_many`` before it commits).

    Returns ``(key, sha256, size)`` of the bytes written, so the caller gathers the manifest without
    ever holding tensor bytes. Runs on a Dask worker: ``folder`` (and its store's credentials)
    travel with the task."""
    data = encode_chunk(meta, np.asarray(block), index)
    key = chunk_key(index)
    create_file(folder.store, folder.child(key), data)
    return key, hashlib.sha256(data).hexdigest(), len(data)


def create_file(store: Store, dest: Location, data: bytes) -> None:
    """Create ``dest`` (a file a Dask task writes into a folder its publish claimed) holding ``data``."""
    try:
        _create(store, dest, data)
    except FileExistsError:
        # Either a racer created this file's sub-folder first (a local store creates a missing
        # folder holding the file in one step), or this task already ran (on a worker that died
        # after writing, or in the publish this one resumes): identical bytes are ours. The folder
        # is claimed by this publish, so other bytes are an earlier run's of a task that is not
        # deterministic, or a file torn by a machine that lost power before its publisher's
        # flush: ours replace them, and the manifest records what was written last.
        if not store.exists(dest):
            _create(store, dest, data)
        elif store.read_bytes(dest) != data:
            store.replace_file(dest, data)


def read_chunk(folder: Location, relpath: str, entry: FileEntry, meta: bytes, index: tuple[int, ...]) -> np.ndarray:
    """Chunk ``index`` of the array ``folder``, decoded only after its bytes matched ``entry``
    (:class:`~mlops.errors.IntegrityError` naming ``relpath`` otherwise)."""
    data = folder.store.read_cached_verified(folder.child(chunk_key(index)), entry, relpath)
    return decode_chunk(meta, data, index)


def _create(store: Store, dest: Location, data: bytes) -> None:
    """Create the chunk ``dest``. A store that needs syncing (local disks) is not made to flush each
    chunk: the publisher syncs them all at once before its commit. Other stores' writes are durable
    when they return, and get the plain two-argument call (a plugin store may not take ``durable``)."""
    if store.needs_sync:
        store.create_exclusive(dest, data, durable=False)
    else:
        store.create_exclusive(dest, data)
