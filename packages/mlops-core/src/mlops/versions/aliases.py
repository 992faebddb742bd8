"""Aliases: names a team gives versions of a root ("production"), moved atomically, with a history.

An alias lives in the root it names versions of, as numbered, create-only records::

    ROOT/_aliases/production/000001.json   {"version": "v1", ...}
    ROOT/_aliases/production/000002.json   {"version": "v3", "previous": "v1", ...}

The record with the highest number is the alias's current target. Records are numbered 1, 2, 3...
without gaps and never removed, and a mover creates N+1 only after reading N. A move reads the
record N it takes for the highest (its target, whether it is protected), decides, and creates N+1
with the store's create-only write, the very write publish claims use (``O_EXCL``/hard link on
local disks, ``If-None-Match: *`` on object stores). If that write succeeds, N was the highest at
that moment (a later record would have needed N+1 first), so the move was decided on the current
target: atomic. Of two movers that read the same N, exactly one creates N+1; the other gets
``FileExistsError`` and reads on from N+1: with ``expect=`` it then fails with
:class:`~mlops.errors.AliasConflictError` if the alias moved, without it it moves on top. No server,
no lock file to go stale, and the history is the records themselves: nothing is ever rewritten.

Which N: the highest number seen for the alias is kept in memory and in this machine's cache
(``MLOPS_CACHE_DIR``, see :func:`mlops.store.cache.cache_dir`), so a move reads that record only,
and a read (``get_alias``, ``ROOT@ALIAS``) reads it and the next ones until one is missing (to be
sure to answer with the current target). Without a number kept, one listing finds the highest. On
S3 a move thus costs 3 requests (a read of N, a read of the target's meta.json so that a version
that does not exist is refused before anything is written, the create-only write), or 4 from a
machine that never saw the alias (a listing first); a read costs 2 (a listing and a read, or a read
of N and of N+1), a few more when the alias moved since (see :data:`FORWARD_READS`). The number is only
where reading starts: a wrong one (the folder replaced by hand, moves made elsewhere since) costs
requests, never a wrong answer, and a refusal (``expect=``, protection, trust) decided on it is
checked against the records after it before it is raised.

Removing an alias writes a record naming no version. An alias never changes a version's meta.json.

A record is signed when a key is given (or ``MLOPS_SIGNING_KEY`` is set): it then carries a
``model_signing`` bundle over the sha256 of its own content (every field but the signature) under
the path ``_aliases/NAME/NUMBER.json``, so a signed record cannot be altered, nor copied to another
number or alias. Under a trust policy (``trusted_keys=`` or ``MLOPS_TRUSTED_KEYS``) the records read
must be signed by a trusted key (:class:`~mlops.errors.UntrustedVersionError` otherwise).

``ROOT@ALIAS`` names the version an alias points to wherever a version path is accepted; see
:func:`split_alias_path` for the exact rule and :func:`locate_version` for the resolution.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import re
import socket
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypedDict

from mlops.errors import (
    AliasConflictError,
    AliasNotFoundError,
    AliasRecordError,
    InvalidVersionError,
    ProtectedAliasError,
    UntrustedVersionError,
)
from mlops.metadata.names import ALIASES_FOLDER, check_alias, path_segment_problem
from mlops.store import Location, resolve
from mlops.store.cache import cache_dir
from mlops.utils.concurrency import concurrently
from mlops.versions import layout
from mlops.versions.policy import TrustedKeys, trust_policy

if sys.version_info >= (3, 11):
    from typing import Unpack
else:
    from typing_extensions import Unpack

if TYPE_CHECKING:
    from mlops.trust.keys import SigningKey
    from mlops.trust.policy import TrustPolicy

__all__ = [
    "AliasEvent",
    "AliasOptions",
    "alias_history",
    "get_alias",
    "list_aliases",
    "locate_version",
    "remove_alias",
    "resolve_version",
    "set_alias",
    "split_alias_path",
]

RECORD_DIGITS = 6
"""Digits of a record's number in its file name (``000042.json``); more once a history outgrows them."""
SCHEMA = 1
"""The format of an alias record (``mlops_alias`` in the record)."""
MAX_ATTEMPTS = 1000
"""Moves attempted before giving up when other movers keep taking the next number (without ``expect=``)."""
USER_SCHEMES = frozenset(
    {"sftp", "ssh", "ftp", "ftps", "http", "https", "smb", "webdav", "hdfs", "webhdfs", "git", "github", "dbfs"}
)
"""URL schemes whose host may be written ``user@host``: their host is never read as ``ROOT@ALIAS``."""
FORWARD_READS = 2
"""Records read one by one past the one a process saw before it lists the alias's folder instead:
reading on from an old number costs at most this many reads more than a listing would."""
_RECORD_NAME = re.compile(rf"(\d{{{RECORD_DIGITS},}})\.json")


@dataclass(frozen=True)
class AliasEvent:
    """One record of an alias's history: a move (``version`` set) or a removal (``version`` None)."""

    alias: str
    number: int
    """Its place in the alias's history, from 1: the highest is the current target."""
    version: str | None
    """The version the alias names from this record on; ``None``: the alias was removed."""
    previous: str | None
    """The version the alias named just before (``None``: none)."""
    at: datetime
    """When the record was written (aware, UTC, from the writer's clock)."""
    who: str
    """``user@host`` of the writer."""
    reason: str | None
    protected: bool
    """Whether the alias refuses to move or go away without ``force=True`` from this record on."""
    signer: str | None
    """The fingerprint of the key the record names as its signer (verified only under a trust policy)."""
    path: str
    """The record's URL."""

    @property
    def removed(self) -> bool:
        return self.version is None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types, for ``mlops alias log --json``: the fields, in order, ``at`` in ISO 8601."""
        return {**asdict(self), "at": self.at.isoformat()}


# --- reading ------------------------------------------------------------------------------------------


def get_alias(
    root: str | os.PathLike[str],
    alias: str,
    *,
    at: datetime | None = None,
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
) -> str:
    """The version (its folder's name under ``root``) that ``alias`` names now, or at the instant
    ``at`` (a naive datetime is local time). Raises :class:`~mlops.errors.AliasNotFoundError` when
    the alias does not exist, was removed, or (with ``at``) named nothing then. Costs two requests:
    one listing and one read, or, from the number this machine saw last, a read of that record and
    of the next number (``at``: one listing and one read per record)."""
    check_alias(alias)
    root_loc = resolve(root, storage_options)
    if at is not None:
        found = version_at(alias_history(root_loc, alias, trusted_keys=trusted_keys), at)
        if found is None:
            raise AliasNotFoundError(f"alias {alias!r} of {root_loc.url} named no version at {_aware(at).isoformat()}")
        return found
    event = current_event(root_loc, alias, trust_policy(trusted_keys))
    return _target(root_loc, alias, event)


def alias_history(
    root: str | os.PathLike[str] | Location,
    alias: str,
    *,
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
) -> list[AliasEvent]:
    """Every record of ``alias``, oldest first (empty when it never existed): one listing and one
    concurrent batch of reads. Under a trust policy every record must be signed by a trusted key."""
    check_alias(alias)
    root_loc = resolve(root, storage_options)
    policy = trust_policy(trusted_keys)
    folder = _folder(root_loc, alias)
    numbers = _numbers(folder)
    raws = folder.store.read_many([folder.child(_file_name(n)) for n in numbers])
    events = []
    for number, raw in zip(numbers, raws, strict=True):
        if isinstance(raw, FileNotFoundError):
            where = folder.child(_file_name(number)).url
            raise AliasRecordError(f"{where} vanished while it was read; alias records are never removed")
        events.append(_parse(raw, folder, alias, number, policy))
    return events


def list_aliases(
    root: str | os.PathLike[str] | Location,
    *,
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
) -> dict[str, str]:
    """``{alias: version}`` of every alias of ``root`` that names a version now (removed ones are
    left out), sorted by alias: one listing of the aliases' folder, then each alias's current record."""
    events = current_events(root, storage_options, trusted_keys)
    return {alias: event.version for alias, event in events.items() if event.version is not None}


def current_events(
    root: str | os.PathLike[str] | Location,
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
    *,
    verify: bool = True,
) -> dict[str, AliasEvent]:
    """The current record of every alias of ``root`` (removed ones included), by alias;
    ``verify=False`` reads them without the trust policy (gc: any alias keeps its version)."""
    root_loc = resolve(root, storage_options)
    policy = trust_policy(trusted_keys) if verify else None
    base = root_loc.child(ALIASES_FOLDER)
    try:
        names = [e.name for e in base.store.list_dir(base) if e.is_dir and path_segment_problem(e.name) is None]
    except (FileNotFoundError, NotADirectoryError):
        return {}
    workers = root_loc.store.transfer_workers
    events = concurrently(lambda name: current_event(root_loc, name, policy), names, workers=workers)
    return {name: event for name, event in zip(names, events, strict=True) if event is not None}


def current_event(root: Location, alias: str, policy: TrustPolicy | None) -> AliasEvent | None:
    """The highest record of ``alias`` (``None`` when it has none): two requests (see :func:`_current`)."""
    folder = _folder(root, alias)
    found = _current(folder)
    return None if found is None else _parse(found[1], folder, alias, found[0], policy)


def version_at(events: list[AliasEvent], when: datetime) -> str | None:
    """The version the history ``events`` (oldest first) named at ``when`` (naive: local time):
    the last record written at or before it; ``None`` when there was none or it was a removal."""
    moment = _aware(when)
    named = None
    for event in events:
        if event.at <= moment:
            named = event.version
    return named


# --- moving -------------------------------------------------------------------------------------------


class AliasOptions(TypedDict, total=False):
    """The keyword arguments that :func:`set_alias` and :func:`remove_alias` both take; all optional."""

    expect: str | None
    """Change the alias only if it names that version now, else :class:`~mlops.errors.AliasConflictError`
    (read it again and retry)."""
    reason: str | None
    """Why, recorded in the alias's history."""
    force: bool
    """Move, unprotect or remove a protected alias (else :class:`~mlops.errors.ProtectedAliasError`),
    and do so without verifying the current record (how a forged record is superseded)."""
    signing_key: str | os.PathLike[str] | None
    """The private key that signs the record written (default ``MLOPS_SIGNING_KEY``)."""
    storage_options: dict[str, Any] | None
    """Passed to fsspec to reach ``root``."""
    trusted_keys: TrustedKeys
    """The trust policy the current record must verify under (default ``MLOPS_TRUSTED_KEYS``)."""


def set_alias(
    root: str | os.PathLike[str],
    alias: str,
    version: str,
    *,
    protect: bool | None = None,
    **options: Unpack[AliasOptions],
) -> AliasEvent:
    """Point ``alias`` of ``root`` at ``version`` (a version's folder name under ``root``, which must
    exist), atomically, and return the record written.

    ``protect``: True protects the alias, False unprotects it, None keeps it as it is. The other
    keywords are :class:`AliasOptions`: ``expect`` (move only if the alias names that version now),
    ``reason``, ``force`` (a protected alias moves, or is unprotected, only with it; under a trust
    policy the current record must verify before the alias moves, unless ``force``),
    ``signing_key`` (default ``MLOPS_SIGNING_KEY``), ``storage_options``, ``trusted_keys``.
    """
    return _change("set_alias", root, alias, version, protect, options)


def remove_alias(root: str | os.PathLike[str], alias: str, **options: Unpack[AliasOptions]) -> AliasEvent:
    """Remove ``alias`` from ``root`` by writing a record naming no version (its history stays);
    the options are those of :func:`set_alias` (:class:`AliasOptions`). Raises :class:`~mlops.errors.AliasNotFoundError`
    when it names no version, :class:`~mlops.errors.ProtectedAliasError` when protected (without ``force``)."""
    return _change("remove_alias", root, alias, None, False, options)


def _change(
    caller: str,
    root: str | os.PathLike[str],
    alias: str,
    version: str | None,
    protect: bool | None,
    options: Mapping[str, Any],
) -> AliasEvent:
    """What :func:`set_alias` (``version`` given) and :func:`remove_alias` (``version`` None) do; a
    keyword that is not an :class:`AliasOptions` key is refused as Python refuses one, naming ``caller``."""
    unknown = sorted(set(options) - set(AliasOptions.__annotations__))
    if unknown:
        raise TypeError(
            f"{caller}() got an unexpected keyword argument {unknown[0]!r}; it takes "
            f"{'protect, ' if version is not None else ''}{', '.join(AliasOptions.__annotations__)}"
        )
    check_alias(alias)
    root_loc = resolve(root, options.get("storage_options"))
    if version is not None:
        _check_target(root_loc, version)
    key = _signing_key(options.get("signing_key"))
    expect, reason, force = options.get("expect"), options.get("reason"), options.get("force", False)
    return _write(root_loc, alias, version, expect, reason, protect, force, key, options.get("trusted_keys"))


def _write(
    root: Location,
    alias: str,
    version: str | None,
    expect: str | None,
    reason: str | None,
    protect: bool | None,
    force: bool,
    key: SigningKey | None,
    trusted_keys: TrustedKeys,
) -> AliasEvent:
    if reason is not None and not isinstance(reason, str):
        raise TypeError(f"reason must be a string, got {type(reason).__name__}")
    policy = None if force else trust_policy(trusted_keys)
    folder = _folder(root, alias)
    found, certain = _latest(folder, probe=False)
    for _ in range(MAX_ATTEMPTS):
        try:
            record = _next_record(root, folder, alias, found, version, expect, reason, protect, policy, force)
        except _REFUSALS:
            if certain or found is None:
                raise
            # Decided on the record this process saw last, which may no longer be the highest: a
            # refusal is final only once the records after it are read (the create-only write below
            # is what makes a move final, so a move decided on it needs no such reading).
            found, certain = _read_forward(folder, found), True
            _remember(folder.url, found[0])
            continue
        data = _encode(record, key)
        number = record["number"]
        try:
            folder.store.create_exclusive(folder.child(_file_name(number)), data)
        except FileExistsError:  # another mover took this number first: the alias moved, read on from it
            taken = _read_record(folder, number)
            found = _read_forward(folder, taken) if taken is not None else _latest(folder, probe=True)[0]
            certain = True
            _remember(folder.url, None if found is None else found[0])
            continue
        _remember(folder.url, number)
        return _parse(data, folder, alias, number, None)
    raise AliasConflictError(
        f"alias {alias!r} of {root.url} kept moving under this process for {MAX_ATTEMPTS} attempts; try again"
    )


_REFUSALS = (AliasConflictError, ProtectedAliasError, AliasNotFoundError, AliasRecordError, UntrustedVersionError)
"""What :func:`_next_record` raises when the current record forbids the change (or cannot be trusted)."""


def _next_record(
    root: Location,
    folder: Location,
    alias: str,
    found: tuple[int, bytes] | None,
    version: str | None,
    expect: str | None,
    reason: str | None,
    protect: bool | None,
    policy: TrustPolicy | None,
    force: bool,
) -> dict[str, Any]:
    """The record that changes the alias whose highest record is ``found`` as asked, or one of
    :data:`_REFUSALS` when that record forbids it (``expect``, protection, trust)."""
    current = None if found is None else _parse(found[1], folder, alias, found[0], policy)
    named = current.version if current is not None else None
    if expect is not None and named != expect:
        raise AliasConflictError(
            f"alias {alias!r} of {root.url} names {named or 'no version'}, not {expect} as expected: another "
            "process moved it. Read it again (mlops.get_alias) and decide again",
            current=named,
        )
    protected = current is not None and current.protected
    if version is None and named is None:
        raise AliasNotFoundError(f"alias {alias!r} of {root.url} names no version: nothing to remove")
    if protected and not force and (version != named or protect is False):
        what = "removed" if version is None else ("unprotected" if version == named else f"moved to {version}")
        raise ProtectedAliasError(
            f"alias {alias!r} of {root.url} is protected (it names {named}): it is not {what} without "
            "force=True (`--force`), which a protected alias asks for on purpose"
        )
    return {
        "mlops_alias": SCHEMA,
        "alias": alias,
        "number": found[0] + 1 if found is not None else 1,
        "version": version,
        "previous": named,
        "protected": False if version is None else (protected if protect is None else bool(protect)),
        "at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "who": _who(),
        "reason": reason,
        "token": uuid.uuid4().hex,  # no two writers' bytes are alike: a retried create cannot pass for ours
    }


def _check_target(root: Location, version: Any) -> None:
    """Refuse, before anything is written, a version that is not a committed version of ``root``."""
    if not isinstance(version, str) or path_segment_problem(version) is not None or version == ALIASES_FOLDER:
        raise InvalidVersionError(
            f"{version!r} is not a version of {root.url}: pass the version's folder name under the root (e.g. 'v3'), "
            "as `mlops ls ROOT` shows it"
        )
    layout.read_meta(root.child(version))


# --- ROOT@ALIAS ---------------------------------------------------------------------------------------


def split_alias_path(path: str) -> tuple[str, str] | None:
    """``(ROOT, ALIAS)`` when ``path`` may be read as ``ROOT@ALIAS``, else ``None``.

    The rule: the last segment of the path (after the last ``/``; on Windows also ``\\``) is cut
    at its last ``@``, when what precedes the ``@`` is not empty and what follows is a valid alias
    name. ``s3://bucket/models@production`` is the root ``s3://bucket/models`` and the alias
    ``production``; ``s3://bucket@production``, an alias of a root at the top of a bucket. The host
    of a URL whose scheme carries a user (``sftp://user@host``, ``http://``, ``ftp://``...: see
    :data:`USER_SCHEMES`) is never cut. Whether the alias exists is decided by :func:`locate_version`.
    """
    text = path.rstrip("/")
    cut = text.rfind("/")
    if os.name == "nt" and "://" not in text:
        cut = max(cut, text.rfind("\\"))
    scheme = text.find("://")
    if scheme >= 0 and cut <= scheme + 2 and text[:scheme].lower() in USER_SCHEMES:
        return None  # the last segment is the URL's host, maybe user@host
    segment = text[cut + 1 :]
    at = segment.rfind("@")
    if at <= 0:
        return None
    alias = segment[at + 1 :]
    if path_segment_problem(alias) is not None:
        return None
    return text[: cut + 1] + segment[:at], alias


def locate_version(
    path: str | os.PathLike[str] | Location,
    storage_options: dict[str, Any] | None = None,
    *,
    trusted_keys: TrustedKeys = None,
) -> Location:
    """The :class:`Location` of the version at ``path``, a version path or ``ROOT@ALIAS``.

    Every entry point that takes a version path calls this (``VersionedDataset``,
    ``VersionedModel``, ``open_version``, ``remove_version``, the ``mlops`` commands...). When
    :func:`split_alias_path` reads ``path`` as ``ROOT@ALIAS`` and ``ROOT/_aliases/ALIAS`` holds
    records, the result is the version the alias names now (one listing and one read: at most two
    requests on an object store), verified under the trust policy in force. When the alias has no
    record, ``path`` is taken literally (a folder whose name holds ``@``) if something is there;
    else :class:`~mlops.errors.AliasNotFoundError` says the alias does not exist.
    """
    if isinstance(path, Location):
        return path
    text = os.fspath(path)
    parts = split_alias_path(text)
    if parts is None:
        return resolve(text, storage_options)
    root_text, alias = parts
    root = resolve(root_text, storage_options)
    event = current_event(root, alias, trust_policy(trusted_keys))
    if event is None:
        literal = resolve(text, storage_options)
        if literal.store.exists(literal):
            return literal
        raise AliasNotFoundError(
            f"{text}: {root.url} has no alias {alias!r} (and there is no folder named {literal.name!r} either). "
            "`mlops alias ls ROOT` lists the aliases of a root; `mlops ls ROOT` its versions"
        )
    return root.child(_target(root, alias, event))


def resolve_version(
    path: str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
) -> str:
    """The path of the version ``path`` names: ``ROOT@ALIAS`` resolved to ``ROOT/VERSION`` (see
    :func:`locate_version`), any other path as given (local paths made absolute). Nothing of the
    version itself is read: record this, never the alias, where a version must be named for good."""
    return locate_version(path, storage_options, trusted_keys=trusted_keys).url


# --- records ------------------------------------------------------------------------------------------


def _folder(root: Location, alias: str) -> Location:
    return root.child(ALIASES_FOLDER).child(alias)


def _file_name(number: int) -> str:
    return f"{number:0{RECORD_DIGITS}d}.json"


def _numbers(folder: Location) -> list[int]:
    """The numbers of the alias's records, ascending (one listing; none when the folder is missing)."""
    try:
        entries = folder.store.list_dir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = (_RECORD_NAME.fullmatch(e.name) for e in entries if not e.is_dir)
    return sorted(int(match.group(1)) for match in found if match)


_HIGHEST_SEEN: dict[str, int | None] = {}
"""Per alias folder (URL), the highest record number this process has seen (``None``: none), where
the next read starts; filled on first use from the number kept on this machine (:func:`_stored_hint`),
so a new process (each ``mlops alias set``) starts where the last one left off. Only a hint: a wrong
one costs requests, never a wrong answer."""

_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


def _current(folder: Location) -> tuple[int, bytes] | None:
    """The highest record of the alias in ``folder`` as ``(number, bytes)``, ``None`` when it has none.

    Records are numbered 1, 2, 3... without gaps and never removed (a move creates N+1 only after
    reading N), so from a number N seen before (in this process or, kept in the cache, on this
    machine), reading N and then N+1, N+2... until one is missing finds the highest: two requests
    when the alias has not moved since, whatever its history's length (a listing takes over past
    :data:`FORWARD_READS` newer records). Without a hint, or when N is missing (the folder was
    replaced by hand), one listing finds the highest and one read fetches it."""
    return _latest(folder, probe=True)[0]


def _latest(folder: Location, *, probe: bool) -> tuple[tuple[int, bytes] | None, bool]:
    """:func:`_current`, and whether the record returned is known to be the highest. With
    ``probe=False`` the record the hint names is returned as soon as it is read, without looking
    for later ones (``False``): what a move starts from, its create-only write of the next number
    failing if there are later ones."""
    hint = _hint(folder.url)
    found = None if hint is None else _read_record(folder, hint)
    if found is not None and not probe:
        return found, False
    if found is not None:
        found = _read_forward(folder, found)
    else:  # no hint, or a stale one
        numbers = _numbers(folder)
        found = (numbers[-1], _read_raw(folder, numbers[-1])) if numbers else None
    _remember(folder.url, None if found is None else found[0])
    return found, True


def _read_forward(folder: Location, found: tuple[int, bytes]) -> tuple[int, bytes]:
    """From a record read, the highest: the records after it are read until one is missing, or,
    past :data:`FORWARD_READS` of them (a number seen long ago), one listing finds the highest."""
    for _ in range(FORWARD_READS):
        later = _read_record(folder, found[0] + 1)
        if later is None:
            return found
        found = later
    numbers = _numbers(folder)
    return (numbers[-1], _read_raw(folder, numbers[-1])) if numbers and numbers[-1] > found[0] else found


def _read_record(folder: Location, number: int) -> tuple[int, bytes] | None:
    try:
        return number, folder.store.read_bytes(folder.child(_file_name(number)))
    except _MISSING:
        return None


def _hint(url: str) -> int | None:
    if url not in _HIGHEST_SEEN:
        _HIGHEST_SEEN[url] = _stored_hint(url)
    return _HIGHEST_SEEN[url]


def _remember(url: str, number: int | None) -> None:
    """Record ``number`` as the highest seen in the alias folder ``url``, here and on this machine."""
    if url in _HIGHEST_SEEN and _HIGHEST_SEEN[url] == number:
        return
    _HIGHEST_SEEN[url] = number
    _store_hint(url, number)


def _hint_path(url: str) -> str:
    return os.path.join(cache_dir(), "aliases", hashlib.sha256(url.encode()).hexdigest() + ".json")


def _stored_hint(url: str) -> int | None:
    """The number kept on this machine for the alias folder ``url`` (``None``: none, or unreadable)."""
    try:
        with open(_hint_path(url), encoding="utf-8") as f:
            kept = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("url") != url:
        return None
    number = kept.get("highest")
    return number if isinstance(number, int) and not isinstance(number, bool) and number > 0 else None


def _store_hint(url: str, number: int | None) -> None:
    """Keep ``number`` for the alias folder ``url`` on this machine (``None``: forget it). Written
    whole (a temporary file renamed over the old one); a cache that cannot be written is skipped."""
    path = _hint_path(url)
    try:
        if number is None:
            os.remove(path)
            return
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"url": url, "highest": number}, f)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
    except OSError:  # a read-only home, a full disk: the hint is only a hint
        pass


def _read_raw(folder: Location, number: int) -> bytes:
    loc = folder.child(_file_name(number))
    try:
        return folder.store.read_bytes(loc)
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise AliasRecordError(f"{loc.url} vanished while it was read; alias records are never removed") from exc


def _target(root: Location, alias: str, event: AliasEvent | None) -> str:
    if event is None:
        raise AliasNotFoundError(f"{root.url} has no alias {alias!r}; `mlops alias ls {root.url}` lists its aliases")
    if event.version is None:
        raise AliasNotFoundError(
            f"alias {alias!r} of {root.url} was removed at {event.at.isoformat()} by {event.who}"
            + (f" ({event.reason})" if event.reason else "")
            + f"; `mlops alias log {root.url} {alias}` shows its history"
        )
    return event.version


def _payload(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's signature is over: every field but the signature, canonical JSON."""
    content = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _relpath(alias: str, number: int) -> str:
    return f"{ALIASES_FOLDER}/{alias}/{_file_name(number)}"


def _encode(record: dict[str, Any], key: SigningKey | None) -> bytes:
    if key is not None:
        from mlops.trust.signature import sign_files

        digest = hashlib.sha256(_payload(record)).hexdigest()
        bundle = sign_files({_relpath(record["alias"], record["number"]): digest}, key.key, name=record["alias"])
        record = {**record, "signature": bundle.decode()}
    return json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False).encode() + b"\n"


def _parse(raw: bytes, folder: Location, alias: str, number: int, policy: TrustPolicy | None) -> AliasEvent:
    """The event a record holds, checked against where it was found (alias, number) and, under
    ``policy``, against its signature."""
    where = folder.child(_file_name(number)).url
    try:
        record = json.loads(raw)
        if not isinstance(record, dict) or record.get("mlops_alias") != SCHEMA:
            raise ValueError(f"not an alias record of schema {SCHEMA}")
        if record.get("alias") != alias or record.get("number") != number:
            raise ValueError(f"it describes alias {record.get('alias')!r} record {record.get('number')!r}")
        version, previous, who, reason = (record.get(k) for k in ("version", "previous", "who", "reason"))
        if not all(v is None or isinstance(v, str) for v in (version, previous, reason)) or not isinstance(who, str):
            raise ValueError("a field has the wrong type")
        at = datetime.fromisoformat(record["at"])
        if at.tzinfo is None:
            raise ValueError("its time has no time zone")
        signature = record.get("signature")
        if signature is not None and not isinstance(signature, str):
            raise ValueError("its signature is not a string")
    except (ValueError, KeyError, TypeError) as exc:
        raise AliasRecordError(f"damaged alias record {where}: {exc}") from exc
    signer = None
    if signature is not None:
        from mlops.trust.signature import signer_hint

        signer = signer_hint(signature.encode())
    if policy is not None:
        _admit(record, signature, alias, number, policy, where)
    return AliasEvent(
        alias=alias,
        number=number,
        version=version,
        previous=previous,
        at=at,
        who=who,
        reason=reason,
        protected=bool(record.get("protected")),
        signer=signer,
        path=where,
    )


def _admit(
    record: Mapping[str, Any], signature: str | None, alias: str, number: int, policy: TrustPolicy, where: str
) -> None:
    """Refuse a record a trusted key did not sign exactly as it is, at this alias and number."""
    from mlops.trust.signature import check_covered, verify_signature

    if signature is None:
        raise UntrustedVersionError(
            f"alias record {where} is not signed and a trust policy is in force; ask whoever moves the alias to "
            "sign its moves (set_alias(..., signing_key=KEY), `mlops alias set --key NAME`), or read it without "
            "a policy only if you trust everyone who can write to the store",
            reason="unsigned",
            file=_relpath(alias, number),
        )
    covered = verify_signature(signature.encode(), policy.keys, where=f"alias record {where}")
    digest = hashlib.sha256(_payload(record)).hexdigest()
    check_covered(covered, {_relpath(alias, number): digest}, where=f"alias record {where}")


def _signing_key(key: str | os.PathLike[str] | SigningKey | None) -> SigningKey | None:
    """The key records are signed with: ``key`` or ``MLOPS_SIGNING_KEY``, loaded before anything is written."""
    if key is None and "MLOPS_SIGNING_KEY" not in os.environ:
        return None
    from mlops.trust.policy import signing_key_from

    return signing_key_from(key)


def _who() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (a container without one)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.astimezone()
