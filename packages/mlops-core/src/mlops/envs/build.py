"""Building a version's recorded environment as a virtual environment, with uv.

The plan (:func:`plan`) turns the lock into one requirement per distribution: the exact version
from the package index, a local directory or file from its recorded path when it still exists
(``with_paths`` supplies a moved one), an archive by URL and hash, a VCS checkout at its commit.
What cannot be pinned is named, never silently dropped or replaced. uv then makes a virtual
environment for the recorded Python (:mod:`mlops.envs.interpreters`) and installs exactly that
list (``--no-deps``: the lock is the whole environment), from its cache when it has the files.

Environments are kept in the user cache by the hash of the lock (and of the paths given), under
``<cache>/envs/<key>`` (``MLOPS_CACHE_DIR``, else ``$XDG_CACHE_HOME/mlops``, else
``~/.cache/mlops``): built once, in a temporary folder renamed into place when complete, so a
second call, or a concurrent one, finds it whole. ``create(..., target)`` gives a folder of one's
own: a copy of the cached environment made of hard links where the filesystem allows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops.envs.interpreters import find_interpreter
from mlops.errors import EnvironmentCreationError, InterpreterNotFoundError, MissingDependencyError
from mlops.metadata.pylock import EnvironmentLock, LockedDistribution, normalize
from mlops.store.cache import cache_dir
from mlops.utils.install import FIRST_PARTY_EXTRAS, install_command

logger = logging.getLogger(__name__)

MARKER = "mlops-env.json"
"""Written last into a built environment: its key, Python and what could not be pinned."""
KEY_FORMAT = 1
FIRST_PARTY = frozenset({"mlops-core", *FIRST_PARTY_EXTRAS})
"""Our distributions: on the package index the name mlops-core belongs to an unrelated project, so
they are never pinned from the index (see :mod:`mlops.utils.install`)."""


@dataclass(frozen=True)
class Plan:
    """What building an environment installs: requirement lines, and what cannot be pinned."""

    requirements: tuple[str, ...]
    unpinned: tuple[str, ...] = ()
    """One line each: the distribution, and why it is not pinned (it is not installed)."""
    substituted: tuple[str, ...] = field(default=())
    """Local distributions installed from a path given with ``with_paths``."""
    pins: tuple[str, ...] = ()
    """``name==version`` of every locked distribution: the constraints ``extras`` are resolved under."""
    extras: tuple[str, ...] = ()
    """Requirements added on top of the lock (what a command needs there, e.g. a web server), resolved
    so that no locked distribution changes version."""


@dataclass(frozen=True)
class BuiltEnvironment:
    """A virtual environment made from a version's lock."""

    path: str
    """The environment's folder."""
    python: str
    """Its interpreter (``bin/python``)."""
    python_version: str
    """The interpreter's version (the recorded one, or the same minor)."""
    key: str
    reused: bool
    """Whether it was already there (nothing was built)."""
    unpinned: tuple[str, ...] = ()
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        """The fields, in order, as plain JSON types (``seconds`` to the millisecond)."""
        return {**asdict(self), "unpinned": list(self.unpinned), "seconds": round(self.seconds, 3)}


def plan(lock: EnvironmentLock, with_paths: Sequence[str] = (), extras: Sequence[str] = ()) -> Plan:
    """The requirements installing ``lock``'s distributions; ``with_paths`` (source folders or
    wheel/sdist files) replace the recorded path of the local distributions of the same name;
    ``extras`` are requirements added on top, never changing a locked version."""
    given = {_project_name(path): os.path.abspath(path) for path in with_paths}
    unknown = sorted(set(given) - set(lock.distributions))
    if unknown:
        raise EnvironmentCreationError(
            f"--with {given[unknown[0]]} is distribution {unknown[0]!r}, which the recorded environment does not "
            f"hold; it holds {', '.join(sorted(lock.distributions)[:12])}..."
        )
    requirements: list[str] = []
    unpinned: list[str] = []
    substituted: list[str] = []
    for dist in lock.packages:
        if dist.name in given:
            requirements.append(_from_path(dist, given[dist.name]))
            substituted.append(f"{dist.name} {dist.version} from {given[dist.name]}")
        elif dist.from_local_path and not os.path.exists(dist.location or ""):
            unpinned.append(
                f"{dist.describe()}: the recorded path no longer exists; pass --with PATH (its source folder, "
                "wheel or sdist)"
            )
        elif dist.source == "index" and dist.name in FIRST_PARTY:
            unpinned.append(
                f"{dist.name} {dist.version}: installed without a recorded origin, and the package index's "
                f"{dist.name} is another project; pass --with PATH (a clone's packages/{dist.name}, or its wheel)"
            )
        else:
            requirements.append(dist.requirement())
    pins = tuple(f"{d.name}=={d.version}" for d in lock.packages if d.version)
    return Plan(tuple(requirements), tuple(unpinned), tuple(substituted), pins, tuple(extras))


def _from_path(dist: LockedDistribution, path: str) -> str:
    """The requirement installing ``dist`` from ``path`` (editable if it was, for a folder)."""
    folder = os.path.isdir(path)
    replaced = LockedDistribution(
        name=dist.name,
        version=dist.version,
        source="directory" if folder else "archive",
        location=path,
        editable=dist.editable and folder,
    )
    return replaced.requirement()


def _project_name(path: str) -> str:
    """The normalized distribution name of a source folder (``pyproject.toml``'s ``[project] name``)
    or a wheel or sdist file (its file name)."""
    if not os.path.exists(path):
        raise EnvironmentCreationError(f"--with {path}: no such file or folder")
    if os.path.isdir(path):
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            with open(os.path.join(path, "pyproject.toml"), "rb") as file:
                name = tomllib.load(file).get("project", {}).get("name")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise EnvironmentCreationError(
                f"--with {path}: cannot read the project's name from its pyproject.toml ({exc})"
            ) from exc
        if not isinstance(name, str):
            raise EnvironmentCreationError(f"--with {path}: its pyproject.toml names no [project] name")
        return normalize(name)
    base = os.path.basename(path)
    if base.endswith(".whl"):
        return normalize(base.split("-", 1)[0])
    for suffix in (".tar.gz", ".zip"):
        if base.endswith(suffix):
            return normalize(base[: -len(suffix)].rsplit("-", 1)[0])
    raise EnvironmentCreationError(f"--with {path}: give a source folder, a wheel (.whl) or an sdist (.tar.gz)")


def environment_key(lock_sha256: str, python_sha256: str, the_plan: Plan) -> str:
    """The cache key of an environment: the hash of the lock, of python.json and of the plan."""
    text = "\n".join(
        [f"mlops-env-v{KEY_FORMAT}", lock_sha256, python_sha256, *the_plan.requirements, "+", *the_plan.extras]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def environments_dir() -> Path:
    """Where built environments are cached: ``<mlops cache>/envs``."""
    return Path(cache_dir()) / "envs"


def python_of(env: str | os.PathLike[str]) -> str:
    """The interpreter of the virtual environment ``env``."""
    return str(Path(env) / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


def read_marker(env: str | os.PathLike[str]) -> dict[str, object] | None:
    """The marker of a complete environment built by mlops, or ``None``."""
    try:
        data = json.loads((Path(env) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure(lock: EnvironmentLock, key: str, the_plan: Plan) -> BuiltEnvironment:
    """The cached environment ``key`` for ``lock``, built now if it is not there yet."""
    started = time.perf_counter()
    final = environments_dir() / key
    marker = read_marker(final)
    if marker is not None:
        return _built(final, marker, reused=True, started=started)
    final.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".building-{key}-", dir=final.parent))
    _umask_mode(building)
    try:
        marker = _build(lock, building, key, the_plan)
        try:
            os.rename(building, final)
        except OSError:  # another process finished first: use its environment
            if read_marker(final) is None:
                raise
            shutil.rmtree(building, ignore_errors=True)
            marker = read_marker(final) or marker
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return _built(final, marker, reused=False, started=started)


def copy_to(built: BuiltEnvironment, target: str | os.PathLike[str]) -> BuiltEnvironment:
    """A copy of the cached environment ``built`` at ``target`` (hard links where the filesystem
    allows; reused when ``target`` already holds it)."""
    started = time.perf_counter()
    dest = Path(target).absolute()
    marker = read_marker(dest)
    if marker is not None and marker.get("key") == built.key:
        return _built(dest, marker, reused=True, started=started)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise EnvironmentCreationError(
            f"{dest} already exists and is not this version's environment; give a new or empty folder"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    _umask_mode(partial)
    try:
        shutil.copytree(built.path, partial, symlinks=True, dirs_exist_ok=True, copy_function=_link_or_copy)
        if dest.exists():
            dest.rmdir()
        os.rename(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return _built(dest, read_marker(dest) or {}, reused=False, started=started)


def _umask_mode(folder: Path) -> None:
    """Give a folder made by ``mkdtemp`` (mode 0700) the permissions the process's umask gives."""
    mask = os.umask(0)
    os.umask(mask)
    folder.chmod(0o777 & ~mask)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _built(path: Path, marker: dict[str, object], *, reused: bool, started: float) -> BuiltEnvironment:
    unpinned = marker.get("unpinned")
    return BuiltEnvironment(
        path=str(path),
        python=python_of(path),
        key=str(marker.get("key", "")),
        python_version=str(marker.get("python_version", "")),
        reused=reused,
        unpinned=tuple(str(u) for u in unpinned) if isinstance(unpinned, list) else (),
        seconds=time.perf_counter() - started,
    )


def _build(lock: EnvironmentLock, folder: Path, key: str, the_plan: Plan) -> dict[str, object]:
    """Make the virtual environment in ``folder`` and install ``the_plan`` into it; returns its marker."""
    uv = uv_binary()
    recorded = lock.python
    interpreter = find_interpreter(recorded.version, recorded.implementation)
    python_request = interpreter or recorded.minor
    logger.info("building the environment %s with Python %s (%s)", key, recorded.minor, python_request)
    _run(
        [uv, "venv", "--quiet", "--relocatable", "--allow-existing", "--python", python_request, str(folder)],
        f"no Python {recorded.minor} interpreter was found on this machine (pyenv versions, PATH) and uv could "
        f"not provide one. Install Python {recorded.minor} (e.g. `pyenv install {recorded.version}` or "
        f"`uv python install {recorded.minor}`) and try again.",
        missing_python=True,
    )
    requirements = folder / "mlops-requirements.txt"
    requirements.write_text("\n".join(the_plan.requirements) + "\n")
    if the_plan.requirements:
        _run(
            [uv, "pip", "install", "--quiet", "--no-deps", "--python", python_of(folder), "-r", str(requirements)],
            "uv could not install the recorded distributions (above). One installed from a file or a local "
            "folder that is gone, or from another index, can be supplied with --with PATH; UV_INDEX_URL chooses "
            "the package index.",
        )
    if the_plan.extras:
        constraints = folder / "mlops-constraints.txt"
        constraints.write_text("\n".join(the_plan.pins) + "\n")
        _run(
            [uv, "pip", "install", "--quiet", "--python", python_of(folder), "-c", str(constraints), *the_plan.extras],
            f"uv could not add {', '.join(the_plan.extras)} to the recorded environment without changing a "
            "recorded version (above).",
        )
    version = subprocess.run(
        [python_of(folder), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    marker: dict[str, object] = {
        "key": key,
        "python_version": version,
        "recorded_python": recorded.version,
        "unpinned": list(the_plan.unpinned),
        "substituted": list(the_plan.substituted),
        "extras": list(the_plan.extras),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return marker


def _run(argv: list[str], advice: str, *, missing_python: bool = False) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[-1500:] or f"exit status {done.returncode}"
        error = InterpreterNotFoundError if missing_python else EnvironmentCreationError
        raise error(f"{advice} uv said: {detail}")


def extra_requirements(extra: str, distribution: str = "mlops-core") -> tuple[str, ...]:
    """The requirements of ``distribution``'s ``extra`` as installed here (``serve`` -> ``fastapi>=...``)."""
    from importlib import metadata as importlib_metadata

    try:
        requires = importlib_metadata.requires(distribution) or []
    except importlib_metadata.PackageNotFoundError:
        return ()
    found = []
    for line in requires:
        requirement, _, marker = line.partition(";")
        if marker.replace(" ", "").replace("'", '"') == f'extra=="{extra}"':
            found.append(requirement.strip())
    return tuple(found)


def uv_binary() -> str:
    """The uv executable: the ``uv`` package's (mlops-core's ``env`` extra), else ``uv`` on PATH."""
    try:
        import uv  # type: ignore[import-untyped]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise MissingDependencyError(f"building a version's environment needs uv; install it with {install_command('env')}")
