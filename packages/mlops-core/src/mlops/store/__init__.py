"""The store layer: every byte mlops reads or writes goes through here.

:func:`resolve` turns a local path or URL into a :class:`Location`, which carries the
:class:`Store` that serves it: :class:`LocalStore` for this machine's disks, :class:`S3Store` for
S3, :class:`FsspecStore` for every other fsspec filesystem (Azure Blob, GCS, memory://...), or a
plugin's store for the schemes it claims. Callers never branch on the kind of store: what differs (create-only writes,
durability, renames, staging, verified reads, hard links, server-side copies) lives in the store
classes. Nothing outside this package imports fsspec.
"""

from __future__ import annotations

from mlops.store.base import FileEntry, Location, NonExclusiveStoreWarning, Store, StoreCapabilityWarning
from mlops.store.cache import cache_dir
from mlops.store.fsspec_store import FsspecStore
from mlops.store.local import LocalStore
from mlops.store.s3 import S3Store
from mlops.store.urls import resolve, resolve_in

__all__ = [
    "FileEntry",
    "FsspecStore",
    "LocalStore",
    "Location",
    "NonExclusiveStoreWarning",
    "S3Store",
    "Store",
    "StoreCapabilityWarning",
    "cache_dir",
    "resolve",
    "resolve_in",
]
