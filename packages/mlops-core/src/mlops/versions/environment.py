"""A version's recorded environment, read back; and the warning when the environment loading a
pickle differs from it in what matters.

``environment/pylock.toml`` and ``environment/python.json`` are ordinary files of the version:
listed in its manifest and read only once their sha256 matches, so a tampered lock fails like any
tampered file. Versions published before mlops recorded them have none (:func:`read_environment`
returns ``None``), and load as before.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from mlops.errors import EnvironmentMismatchWarning, PickleInspectionError
from mlops.metadata.environment import Difference, differences, distributions_of
from mlops.metadata.pylock import LOCK_FILE, PYTHON_FILE, EnvironmentLock
from mlops.store import FileEntry, Location

if TYPE_CHECKING:
    from mlops.metadata import AnyRecord

E = TypeVar("E", bound=BaseException)
INSPECT_LIMIT = 512 * 1024 * 1024
"""Pickles larger than this are not inspected for the modules they reference (the warning then
names the other distributions that matter only)."""


def read_environment(loc: Location, manifest: Mapping[str, FileEntry]) -> EnvironmentLock | None:
    """The environment recorded in the version at ``loc`` (its files verified against
    ``manifest``), or ``None`` for a version published before mlops recorded it."""
    if LOCK_FILE not in manifest or PYTHON_FILE not in manifest:
        return None
    lock = loc.store.read_verified(loc.child(LOCK_FILE), manifest[LOCK_FILE], LOCK_FILE)
    python = loc.store.read_verified(loc.child(PYTHON_FILE), manifest[PYTHON_FILE], PYTHON_FILE)
    return EnvironmentLock.parse(lock, python, loc.url)


def framework_of(record: AnyRecord) -> list[str]:
    """The distributions of a model's serializer and framework (none for a dataset)."""
    serializer = getattr(record, "serializer", None)
    if serializer is None:
        return []
    framework = [name for name in getattr(record, "framework", {}) if name != "python"]
    return ([serializer.distribution] if serializer.distribution else []) + framework


def what_matters(recorded: EnvironmentLock, record: AnyRecord, pickles: Iterable[bytes] = ()) -> list[Difference]:
    """The differences between ``recorded`` and this environment that matter for loading the
    version's ``pickles`` (their bytes): the Python minor, the serializer's framework, numpy, and
    the distributions whose modules the pickles name. Cheap when nothing differs: the pickles are
    inspected only when some distribution does."""
    found = differences(recorded, framework=framework_of(record))
    if not found:
        return []
    found = differences(recorded, framework=framework_of(record), referenced=referenced_distributions(pickles))
    return [d for d in found if d.matters]


def referenced_distributions(pickles: Iterable[bytes]) -> set[str]:
    """The installed distributions whose modules the ``pickles`` (their bytes) name, found by
    reading their opcodes (nothing is loaded)."""
    from mlops.trust.pickle_inspect import inspect_bytes

    modules: set[str] = set()
    for data in pickles:
        if len(data) > INSPECT_LIMIT:
            continue
        try:
            report = inspect_bytes(data)
        except PickleInspectionError:
            continue
        modules.update(ref.module for ref in report.imports)
        modules.update(report.imported_modules)
    return distributions_of(modules) if modules else set()


def run_hint(path: str, kind: str) -> str:
    """The commands that run the version at ``path`` in the environment it was published from."""
    quoted = shlex.quote(path)
    model = (
        f"`mlops predict {quoted} INPUT -o OUT --env recorded` (or `mlops serve {quoted} --env recorded`), or "
        if kind == "model"
        else ""
    )
    trained = (
        "; a model trained on it predicts in its own environment with `mlops predict MODEL INPUT -o OUT --env recorded`"
        if kind == "dataset"
        else ""
    )
    return (
        f"To run it in the environment it was published from: {model}`mlops env {quoted} --create DIR` "
        f"then DIR/bin/python{trained} (`mlops env PATH --diff` lists every difference)."
    )


def warn_if_different(
    recorded: EnvironmentLock | None, record: AnyRecord, path: str, what: str, pickles: Iterable[bytes], stacklevel: int
) -> None:
    """One :class:`~mlops.errors.EnvironmentMismatchWarning` listing the distributions that matter
    and differ, with the command that runs the version in its own environment; nothing when none do."""
    if recorded is None:
        return
    mattering = what_matters(recorded, record, pickles)
    if not mattering:
        return
    listed = "; ".join(d.describe() for d in mattering)
    warnings.warn(
        EnvironmentMismatchWarning(
            f"{what} was published from another environment: {listed}. It may load differently or fail here. "
            + run_hint(path, record.kind),
            differences=mattering,
        ),
        stacklevel=stacklevel + 1,
    )


def with_hint(exc: E, path: str, kind: str) -> E:
    """The Python-minor error ``exc`` again, its message ending with :func:`run_hint`."""
    return type(exc)(f"{exc} {run_hint(path, kind)}")
