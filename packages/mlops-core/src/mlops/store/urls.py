"""Choosing the store for a URL: the one place URLs are parsed and plugin stores are looked up."""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from typing import Any

from mlops.errors import InvalidPathError, StoreError

# plugin contract: plugins claim URL schemes with their own stores (mlops_register_stores)
from mlops.plugins import manager as plugins  # noqa: I001
from mlops.store.base import Location
from mlops.store.fsspec_store import FsspecStore, open_url
from mlops.store.local import LocalStore
from mlops.store.s3 import S3Store

LOCAL_SCHEMES = frozenset({"file", "local"})


def resolve(url: str | os.PathLike[str] | Location, storage_options: Mapping[str, Any] | None = None) -> Location:
    """The :class:`Location` of a local path or URL, with the store that serves it: a plugin's
    store for the schemes it claims, :class:`LocalStore` for local paths and ``file://`` URLs,
    :class:`S3Store` where fsspec's filesystem is s3fs', and :class:`FsspecStore` for everything
    else (Azure, GCS, memory://...). ``storage_options`` go to the store (for fsspec stores, to the
    filesystem). A :class:`Location` is returned as is."""
    if isinstance(url, Location):
        return url
    text = os.fspath(url)
    if not text:
        raise StoreError("an empty path was given; pass a local folder or a URL such as s3://bucket/key")
    _check_characters(text)
    scheme = _scheme(text)
    claimed = plugins.store_class_for(scheme)
    if claimed is not None:
        return claimed.locate(text, storage_options)
    if scheme in LOCAL_SCHEMES and "::" not in text:
        return LocalStore.locate(text, storage_options)
    fs, path = open_url(text, storage_options)
    store_class = S3Store if S3Store.serves_filesystem(fs) else FsspecStore
    return store_class.on(fs, path, text)


def resolve_in(loc: Location, url: str | os.PathLike[str]) -> Location:
    """``url`` resolved with the storage options of the store ``loc`` came from, when that store
    serves ``url``'s scheme (a model's link to its dataset): options travel with the objects a call
    returns."""
    text = os.fspath(url)
    if loc.store.serves(_scheme(text)):
        return resolve(text, loc.store.storage_options)
    return resolve(text)


def _check_characters(text: str) -> None:
    """Refuse, before anything is written, a path with a control character (NUL, newline...: no
    object store keeps them all, and S3's XML requests cannot carry them) or a Unicode noncharacter
    (U+FFFE, U+FFFF...: same), with :class:`InvalidPathError`."""
    for char in text:
        code = ord(char)
        if unicodedata.category(char) == "Cc" or 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
            raise InvalidPathError(
                f"cannot use the path {text!r}: it contains U+{code:04X}, a control character or Unicode "
                "noncharacter that stores cannot hold portably; choose a path without it"
            )


def _scheme(text: str) -> str:
    return text.split("://", 1)[0].lower() if "://" in text else "file"
