"""Progress of long transfers: a one-line bar on stderr (bytes, rate, ETA).

Storage code reports every chunk it moves with :func:`advance`; a public operation (publish, load,
verify, republish) wraps its work in :func:`task`. The bar appears only when the work has run for
over a second and stderr is a terminal, so scripts, logs and tests stay clean. ``progress=False``
on an operation, or ``MLOPS_PROGRESS=0`` in the environment, turns it off; ``progress=True`` or
``MLOPS_PROGRESS=1`` forces it on (still after the one-second delay).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from mlops.utils.humanize import format_bytes

DELAY_SECONDS = 1.0
"""Work shorter than this never shows a bar."""
_REFRESH_SECONDS = 0.1


class _Bar:
    """Counts bytes and redraws a single line at most ten times a second."""

    def __init__(self, description: str, total: int | None, stream: TextIO) -> None:
        self.description = description
        self.total = total
        self.stream = stream
        self.done = 0
        self.start = time.monotonic()
        self._drawn_at = 0.0
        self._shown = False
        self._lock = threading.Lock()

    def advance(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self.start >= DELAY_SECONDS and now - self._drawn_at >= _REFRESH_SECONDS:
                self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * 24)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            line = (
                f"{self.description} {fraction:4.0%} |{'#' * filled}{'.' * (24 - filled)}| "
                f"{format_bytes(self.done)}/{format_bytes(self.total)} {format_bytes(rate)}/s ETA {eta:4.0f}s"
            )
        else:
            line = f"{self.description} {format_bytes(self.done)} {format_bytes(rate)}/s"
        self.stream.write("\r" + line.ljust(79)[:200])
        self.stream.flush()
        self._drawn_at = now
        self._shown = True

    def close(self) -> None:
        with self._lock:
            if self._shown:
                self._draw(time.monotonic())
                self.stream.write("\n")
                self.stream.flush()


_current: ContextVar[_Bar | None] = ContextVar("mlops_progress", default=None)


def advance(nbytes: int) -> None:
    """Report ``nbytes`` moved to the operation in progress, if any (cheap when there is none)."""
    bar = _current.get()
    if bar is not None:
        bar.advance(nbytes)


def advancer() -> Callable[[int], None]:
    """:func:`advance` bound to the operation in progress now, for code that reports from threads
    the context does not follow (an fsspec event loop)."""
    bar = _current.get()
    return bar.advance if bar is not None else _ignore


def _ignore(nbytes: int) -> None:
    pass


def enabled(requested: bool | None = None, stream: TextIO | None = None) -> bool:
    """Whether to show progress: ``requested`` if given, else ``MLOPS_PROGRESS``, else whether
    stderr is a terminal."""
    if requested is not None:
        return requested
    setting = os.environ.get("MLOPS_PROGRESS", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def task(description: str, total: int | None, show: bool | None = None) -> Iterator[None]:
    """Track the bytes moved inside the block under ``description``. Nested tasks add to the
    outer one, so an operation made of others shows a single bar."""
    if _current.get() is not None or not enabled(show):
        yield
        return
    bar = _Bar(description, total, sys.stderr)
    token = _current.set(bar)
    try:
        yield
    finally:
        _current.reset(token)
        bar.close()
