"""What datasets and models share once published: identity from meta.json, and verification."""

from __future__ import annotations

import os
from typing import Any

from mlops import metadata, plugins
from mlops.progress import task as progress_task
from mlops.storage import Location, Publisher, concurrently, resolve


class PublishedVersion:
    """A version opened from a local path or any fsspec URL; opening reads meta.json only.

    Subclasses set ``kind``; two versions of the same kind are equal when their content hashes are.
    """

    kind: str

    def __init__(self, path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> None:
        self._loc: Location = resolve(path, storage_options)
        self._publisher: Publisher = plugins.publisher_for(self._loc.fs.protocol)
        self.metadata: dict[str, Any] = metadata.read_meta(self._publisher, self._loc, self.kind)
        self._manifest = metadata.manifest(self.metadata)

    @property
    def path(self) -> str:
        """The version's path or URL, as given (local paths made absolute)."""
        return self._loc.url

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def hash(self) -> str:
        """sha256 content hash: equal for the same content, wherever and however published."""
        return str(self.metadata["hash"])

    @property
    def tags(self) -> list[str]:
        return list(self.metadata["tags"])

    @property
    def created_at(self) -> str:
        return str(self.metadata["created_at"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublishedVersion) or other.kind != self.kind:
            return NotImplemented
        return self.hash == other.hash

    def __hash__(self) -> int:
        return hash((self.kind, self.hash))

    def verify(self, *, progress: bool | None = None) -> None:
        """Check every file of the version against its sha256 in meta.json, reading everything
        again; raises :class:`~mlops.errors.IntegrityError` naming the first file that does not match."""
        total = sum(e.size for e in self._manifest.values())
        with progress_task(f"verify {self.version}", total, progress):
            concurrently(
                lambda item: self._publisher.fetch_verified(
                    self._loc.child(item[0]), item[1], item[0], use_cache=False
                ),
                self._manifest.items(),
            )
