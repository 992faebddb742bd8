"""Finding an installed interpreter of a recorded Python version.

uv's own discovery stops at pyenv's shims (they fail for any version not selected globally), so
the interpreters are looked for directly: this one, pyenv's versions (``$PYENV_ROOT/versions``,
default ``~/.pyenv``), then ``pythonX.Y`` on ``PATH`` (shims skipped). The exact patch release
recorded is preferred, then the newest of the same minor. When none is found, the version is
left to uv, which can provide managed interpreters where downloads are allowed.
"""

from __future__ import annotations

import glob
import os
import platform
import shutil
import sys
from pathlib import Path


def find_interpreter(version: str, implementation: str = "cpython") -> str | None:
    """The path of an installed interpreter of ``version``'s minor (``3.11.7`` -> 3.11), the exact
    release first; ``None`` when this machine has none."""
    if implementation != "cpython":
        return None
    minor = ".".join(version.split(".")[:2])
    candidates: list[tuple[str, str]] = []  # (full version, path)
    if platform.python_version().startswith(minor + ".") and sys.implementation.name == "cpython":
        candidates.append((platform.python_version(), _base_interpreter()))
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for folder in sorted(glob.glob(os.path.join(root, "versions", f"{minor}.*"))):
        name = os.path.basename(folder)
        exe = os.path.join(folder, "bin", f"python{minor}")
        if name.replace(".", "").isdigit() and os.access(exe, os.X_OK):
            candidates.append((name, exe))
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or os.path.basename(entry.rstrip("/")) == "shims":
            continue
        on_path = shutil.which(f"python{minor}", path=entry)
        if on_path:
            candidates.append((minor, on_path))
    exact = [path for full, path in candidates if full == version]
    if exact:
        return exact[0]
    same_minor = sorted(candidates, key=lambda c: _release(c[0]), reverse=True)
    return same_minor[0][1] if same_minor else None


def _base_interpreter() -> str:
    """This interpreter outside any virtual environment (a venv's python is a link to it)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(Path(base))


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
