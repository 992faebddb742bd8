"""What datasets and models share once published: identity from meta.json, and verification."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from mlops import metadata
from mlops.metadata import AnyRecord
from mlops.metadata.pylock import EnvironmentLock
from mlops.store import FileEntry, Location
from mlops.utils.progress import task as progress_task
from mlops.versions import layout
from mlops.versions.aliases import locate_version
from mlops.versions.policy import TrustedKeys as TrustedKeys  # re-exported: callers import it from here
from mlops.versions.policy import trust_policy as trust_policy

R = TypeVar("R", bound=AnyRecord)

if TYPE_CHECKING:
    from mlops.trust.keys import SigningKey


T = TypeVar("T")


class _FromRecord(Generic[T]):
    """A read-only attribute of a published version: the field of the same name of its record
    (``version.name`` is ``version.record.name``)."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.field = name

    @overload
    def __get__(self, version: None, owner: type[Any]) -> _FromRecord[T]: ...

    @overload
    def __get__(self, version: PublishedVersion[Any], owner: type[Any]) -> T: ...

    def __get__(self, version: PublishedVersion[Any] | None, owner: type[Any]) -> T | _FromRecord[T]:
        if version is None:
            return self
        value: T = getattr(version.record, self.field)
        return value

    def __set__(self, version: PublishedVersion[Any], value: T) -> None:
        raise AttributeError(f"{self.field} is read-only: it is what the version's meta.json says")


class PublishedVersion(Generic[R]):
    """A version opened from a local path or any fsspec URL; opening reads meta.json only.

    ``ROOT@ALIAS`` opens the version the alias names (see :func:`mlops.versions.aliases.locate_version`);
    :attr:`path` is then that version's own path, never the alias.

    With a trust policy (``trusted_keys=[...]`` or ``MLOPS_TRUSTED_KEYS``), opening also checks the
    version's ``mlops.sig`` against the manifest and the folder's files, and raises
    :class:`~mlops.errors.UntrustedVersionError` unless a trusted key signed every file, before
    anything of the version is unpickled.

    Subclasses set ``kind``; two versions of the same kind are equal when their content hashes are.
    """

    kind: ClassVar[str]

    def __init__(
        self,
        path: str | os.PathLike[str] | Location,
        *,
        storage_options: dict[str, Any] | None = None,
        trusted_keys: TrustedKeys = None,
    ) -> None:
        self._policy = trust_policy(trusted_keys)
        self._loc: Location = locate_version(path, storage_options, trusted_keys=self._policy)
        record, self._meta_bytes = layout.read_meta(self._loc, self.kind)
        self.record: R = record  # type: ignore[assignment]
        self.signer: str | None = None
        """The fingerprint of the trusted key that signed this version (when a trust policy is in force)."""
        if self._policy is not None:
            from mlops.versions.signing import admit

            self.signer = admit(self._loc, self.record, self._meta_bytes, self._policy)

    @property
    def metadata(self) -> dict[str, Any]:
        """meta.json as plain JSON (a copy): the documented, stable format."""
        return metadata.to_json(self.record)

    @cached_property
    def _manifest(self) -> dict[str, FileEntry]:
        """Every data file with its sha256 and size (read, and checked, on first use)."""
        return layout.read_manifest(self._loc, self.record)

    @property
    def files(self) -> dict[str, FileEntry]:
        """Every data file of the version (the manifest), by relative path."""
        return dict(self._manifest)

    @cached_property
    def environment(self) -> EnvironmentLock | None:
        """The environment the version was published from (``environment/pylock.toml``, PEP 751,
        and ``environment/python.json``): the Python version, every installed distribution with its
        exact version and origin (``.distributions``, ``.to_requirements()``). Read and verified on
        first use; ``None`` for a version published before mlops recorded it."""
        from mlops.versions.environment import read_environment

        return read_environment(self._loc, self._manifest)

    @property
    def storage_options(self) -> dict[str, Any]:
        """The store options this version was opened with (a copy), e.g. to open it again elsewhere."""
        return dict(self._loc.store.storage_options or {})

    @property
    def path(self) -> str:
        """The version's path or URL, as given (local paths made absolute)."""
        return self._loc.url

    name: _FromRecord[str] = _FromRecord()
    version: _FromRecord[str] = _FromRecord()
    created_at: _FromRecord[str] = _FromRecord()
    hash: _FromRecord[str] = _FromRecord()
    """sha256 content hash: equal for the same content, wherever and however published."""

    @property
    def tags(self) -> list[str]:
        return list(self.record.tags)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublishedVersion) or other.kind != self.kind:
            return NotImplemented
        return self.hash == other.hash

    def __hash__(self) -> int:
        return hash((self.kind, self.hash))

    def verify(self, *, progress: bool | None = None) -> None:
        """Check every file of the version against its sha256 in the manifest (itself checked
        against meta.json), reading everything again; raises
        :class:`~mlops.errors.IntegrityError` naming the first file that does not match."""
        self._check_consistency()
        total = sum(e.size for e in self._manifest.values())
        with progress_task(f"verify {self.version}", total, progress):
            self._loc.store.verify_files(self._loc, self._manifest)

    def _check_consistency(self) -> None:
        """Subclasses check that what meta.json names (tensors, processor) is in the manifest."""


# --- what the trust tools do with a published version ----------------------------------------------


def describe(version: PublishedVersion[Any]) -> str:
    """``"dataset points v1"``: what a version is, for messages."""
    return f"{version.kind} {version.name} {version.version}"


def manifest_hashes(version: PublishedVersion[Any]) -> dict[str, str]:
    """``{relpath: sha256}`` of the version's data files, from its manifest."""
    return {relpath: entry.sha256 for relpath, entry in version.files.items()}


def sign_version(version: PublishedVersion[Any], key: SigningKey) -> str:
    """Sign the committed ``version`` with ``key``: write its ``mlops.sig`` (create-only) over the
    hashes of every file (no data is read). Returns the signature's path."""
    from mlops.errors import SignatureExistsError
    from mlops.versions.signing import covered_files, signature_for

    loc = version._loc
    data = signature_for(loc, covered_files(version.record, version.files, version._meta_bytes), key)
    target = loc.child(metadata.SIGNATURE_FILE)
    try:
        loc.store.create_exclusive(target, data)
    except FileExistsError as exc:
        raise SignatureExistsError(
            f"{version.path} is already signed ({metadata.SIGNATURE_FILE} exists); a version is signed once, when it "
            "is published or right after"
        ) from exc
    return target.url


def pickle_files(version: PublishedVersion[Any]) -> list[str]:
    """The files of ``version`` that loading it would unpickle: the processor's file and every
    file whose name says it is a pickle (``.pkl``, ``.joblib``, ``.pt``...)."""
    from mlops.trust.pickle_inspect import is_pickle_name

    processor = getattr(version.record, "processor", None)
    named = processor.file if processor is not None else None
    return [p for p in version.files if p == named or is_pickle_name(p)]


def read_verified(version: PublishedVersion[Any], relpath: str) -> bytes:
    """The bytes of one file of ``version``, returned only once they match its manifest sha256 (as
    ``VersionedDataset.data_processor`` reads its pickle)."""
    loc = version._loc
    return loc.store.read_verified(loc.child(relpath), version.files[relpath], relpath)
