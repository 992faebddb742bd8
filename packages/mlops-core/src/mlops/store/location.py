"""Where a file or folder is: its store, the path inside that store, and the URL the user sees."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops.store.base import Store


@dataclass(frozen=True)
class Location:
    """A file or folder on some store. ``path`` is the store's own (posix) path; ``url`` is what
    the user gave (local paths made absolute), extended with the store's separator by :meth:`child`."""

    store: Store
    path: str
    url: str
    sep: str = "/"

    def child(self, relpath: str) -> Location:
        """The location ``relpath`` (posix, relative) below this one."""
        relpath = relpath.strip("/")
        url = self.url.rstrip("/" + self.sep) + self.sep + relpath.replace("/", self.sep)
        return Location(self.store, posixpath.join(self.path, relpath), url, self.sep)

    @property
    def parent(self) -> Location:
        """The folder holding this location."""
        path = posixpath.dirname(self.path.rstrip("/")) or self.path
        cut = self.url.rstrip("/" + self.sep)
        cut = cut[: max(cut.rfind(self.sep), cut.rfind("/"))] or cut
        return Location(self.store, path, cut, self.sep)

    @property
    def name(self) -> str:
        """The last component of the path."""
        return posixpath.basename(self.path.rstrip("/"))

    def __str__(self) -> str:
        return self.url
