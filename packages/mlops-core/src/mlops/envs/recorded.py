"""Running a version in the environment it was published from.

:func:`create_environment` builds (once, cached by the lock's hash) a virtual environment from a
version's recorded lock; :func:`run_in_recorded_environment` runs ``python -m mlops ARGV`` inside
it, which is what ``mlops predict ... --env recorded`` does: a model published from Python 3.11
with its libraries of then is served from a host with another Python, by its own interpreter and
libraries. The version is opened (and, under a trust policy, admitted) before its lock is used:
installing from a lock runs the code of what it names.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from mlops.envs import build
from mlops.envs.build import BuiltEnvironment
from mlops.errors import EnvironmentCreationError, NoEnvironmentError
from mlops.metadata.environment import Difference, differences
from mlops.metadata.pylock import LOCK_FILE, PYTHON_FILE, EnvironmentLock
from mlops.model.lineage import open_version
from mlops.versions.environment import framework_of, referenced_distributions
from mlops.versions.policy import TrustedKeys
from mlops.versions.published import PublishedVersion, pickle_files, read_verified

RECORDED_ENV_VARIABLE = "MLOPS_RECORDED_ENV"
"""Set to the environment's key in the processes run inside a recorded environment."""


def recorded_lock(version: PublishedVersion[Any]) -> EnvironmentLock:
    """The environment recorded in ``version``; :class:`~mlops.errors.NoEnvironmentError` when it has none."""
    lock = version.environment
    if lock is None:
        raise NoEnvironmentError(
            f"{version.path} records no environment: it was published before mlops recorded one "
            "(meta.json's 'libraries' lists the versions of the main libraries that wrote it)"
        )
    return lock


def environment_differences(version: PublishedVersion[Any]) -> list[Difference]:
    """Every difference between the environment recorded in ``version`` and this one, those that
    matter for it first: the Python minor, its serializer's framework, numpy, then the
    distributions whose modules its pickles reference (read verified, inspected without loading)."""
    lock = recorded_lock(version)
    pickles = [read_verified(version, relpath) for relpath in pickle_files(version)]
    found = differences(lock, framework=framework_of(version.record))
    if not found or not pickles:
        return found
    return differences(lock, framework=framework_of(version.record), referenced=referenced_distributions(pickles))


def create_environment(
    path: str | os.PathLike[str] | PublishedVersion[Any],
    target: str | os.PathLike[str] | None = None,
    *,
    with_paths: Sequence[str] = (),
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
    extras: Sequence[str] = (),
) -> BuiltEnvironment:
    """A virtual environment holding the environment recorded in the version at ``path``: built
    with uv for the recorded Python minor, kept in the user cache by the lock's hash (a second call
    is immediate), and copied to ``target`` when given. ``with_paths`` supply local distributions
    whose recorded path is gone; ``extras`` (requirements) are added on top, resolved without
    changing any recorded version (what a command needs there, e.g. a web server). Raises
    :class:`~mlops.errors.NoEnvironmentError` for a version without a recorded environment,
    :class:`~mlops.errors.EnvironmentCreationError` when it cannot be built (the message says why)."""
    version = path if isinstance(path, PublishedVersion) else _open(path, storage_options, trusted_keys)
    lock = recorded_lock(version)
    the_plan = build.plan(lock, with_paths, extras)
    files = version.files
    key = build.environment_key(files[LOCK_FILE].sha256, files[PYTHON_FILE].sha256, the_plan)
    built = build.ensure(lock, key, the_plan)
    return build.copy_to(built, target) if target is not None else built


def run_in_recorded_environment(
    version_path: str | os.PathLike[str],
    argv: Sequence[str],
    *,
    with_paths: Sequence[str] = (),
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
    extras: Sequence[str] = (),
) -> int:
    """Run ``python -m mlops ARGV`` in the environment recorded in the version at ``version_path``
    (created first if needed, see :func:`create_environment`) and return its exit status.

    The child gets this process's environment variables except ``PYTHONPATH``/``PYTHONHOME`` (its
    own interpreter and libraries, not this one's), with ``MLOPS_RECORDED_ENV`` set. ``argv`` is
    the command line without ``--env recorded``; ``extras`` are what the command needs beside the
    recorded distributions (see :func:`create_environment`)."""
    built = create_environment(
        version_path,
        with_paths=with_paths,
        storage_options=storage_options,
        trusted_keys=trusted_keys,
        extras=extras,
    )
    if os.environ.get(RECORDED_ENV_VARIABLE) == built.key:
        raise EnvironmentCreationError(
            f"already running inside the recorded environment {built.key}; run the command without --env recorded"
        )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = built.path
    env[RECORDED_ENV_VARIABLE] = built.key
    probe = subprocess.run([built.python, "-c", "import mlops"], env=env, capture_output=True, check=False)
    if probe.returncode != 0:
        raise EnvironmentCreationError(
            f"the recorded environment of {version_path} has no mlops-core to run the command with "
            f"({'; '.join(built.unpinned) or 'it was not installed there'}); pass --with PATH"
        )
    child = subprocess.Popen([built.python, "-m", "mlops", *argv], env=env)
    with _forwarding_signals(child):
        return child.wait()


@contextmanager
def _forwarding_signals(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """While waiting for ``child``: SIGTERM (and SIGHUP) sent to this process go to it, so a server
    stopped through this process finishes its requests and stops too; SIGINT is left to the
    terminal, which sends it to both. Outside the main thread nothing is changed."""
    wanted: list[int] = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    previous: dict[int, Any] = {}
    try:
        for signum in wanted:
            previous[signum] = signal.signal(signum, lambda number, _frame: child.send_signal(number))
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _open(
    path: str | os.PathLike[str], storage_options: dict[str, Any] | None, trusted_keys: TrustedKeys
) -> PublishedVersion[Any]:
    return open_version(path, storage_options=storage_options, trusted_keys=trusted_keys)
