"""Measurement plumbing shared by every benchmark area: paired timings, statistics, targets,
filesystem helpers (fsync, page-cache eviction) and child processes.

Every figure the suite reports is built here the same way: a baseline and the mlops operation run
``repeats`` times in alternating order (baseline first on even rounds, mlops first on odd ones), so
page-cache warmth, write-back and CPU frequency drift hit both sides alike; the ratio is computed per
round and summarised by its median, min and max.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
MB = 1024 * 1024


@dataclass
class Stat:
    """Samples of one quantity (seconds, bytes, a ratio...) and their median, min and max."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.min, "max": self.max, "samples": self.samples}


@dataclass
class Target:
    """One line of the final table: a measured value against its limit (lower is better)."""

    id: str
    area: str
    title: str
    value: Stat
    limit: float
    unit: str
    detail: str = ""
    informational: bool = False
    """Informational rows (what-ifs, peer comparisons) are shown but never fail the run."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.value.median <= self.limit

    @property
    def status(self) -> str:
        if self.informational:
            return "info"
        return "PASS" if self.passed else "FAIL"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = self.value.to_json()
        data["status"] = self.status
        return data


@dataclass
class Results:
    """Everything one run measured: raw timings by name, and the targets built from them."""

    timings: dict[str, Stat] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_timing(self, name: str, stat: Stat) -> Stat:
        self.timings[name] = stat
        return stat

    def add_target(self, target: Target) -> Target:
        self.targets.append(target)
        print(
            f"  -> [{target.status}] {target.id} {target.title}: {fmt_value(target.value.median, target.unit)} "
            f"(limit {fmt_value(target.limit, target.unit)})",
            flush=True,
        )
        return target


def fmt_value(value: float, unit: str) -> str:
    """A value with its unit, rounded for humans."""
    if unit == "check":
        return "ok" if value == 0 else f"{value:.0f} violation(s)"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.3g} {unit}"


def timed(fn: Callable[[], Any]) -> float:
    """Wall time of one call, garbage collection kept out of the measured window."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


def paired(
    baseline: Callable[[int], Any],
    candidate: Callable[[int], Any],
    repeats: int,
    *,
    before: Callable[[int], Any] | None = None,
    after: Callable[[int], Any] | None = None,
) -> tuple[Stat, Stat, Stat]:
    """Time ``baseline(i)`` and ``candidate(i)`` ``repeats`` times in alternating order.

    ``before(i)`` runs (untimed) before each timed call, ``after(i)`` after each (cleanup). Returns
    the baseline times, the candidate times and the per-round ratios candidate/baseline.
    """
    base: list[float] = []
    cand: list[float] = []
    for i in range(repeats):
        order = [(baseline, base), (candidate, cand)]
        if i % 2:
            order.reverse()
        for fn, sink in order:
            if before is not None:
                before(i)
            sink.append(timed(functools.partial(fn, i)))
            if after is not None:
                after(i)
    return Stat(base), Stat(cand), Stat([c / b for b, c in zip(base, cand, strict=True)])


def run_many(
    fns: dict[str, Callable[[int], Any]],
    repeats: int,
    *,
    before: Callable[[int], Any] | None = None,
    after: Callable[[int], Any] | None = None,
) -> dict[str, Stat]:
    """Time several variants ``repeats`` times, rotating their order every round."""
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(repeats):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            if before is not None:
                before(i)
            times[name].append(timed(functools.partial(fns[name], i)))
            if after is not None:
                after(i)
    return {n: Stat(t) for n, t in times.items()}


def ratios(num: Stat, den: Stat) -> Stat:
    """Per-round ratios of two series measured in the same rounds."""
    return Stat([a / b for a, b in zip(num.samples, den.samples, strict=True)])


@dataclass
class Context:
    """What every area gets: the run's settings, a scratch folder and the results to fill."""

    sizes: list[int]
    repeats: int
    s3_size: int
    tmp: Path
    results: Results
    shared: dict[str, Any] = field(default_factory=dict)
    """Artifacts one area leaves for another (e.g. published model paths), and long-lived services."""

    def scratch(self, name: str) -> Path:
        """A fresh, empty folder under the run's scratch folder."""
        path = self.tmp / name
        rmtree(path)
        path.mkdir(parents=True)
        return path


# --- filesystem -------------------------------------------------------------------------------------


def files_under(path: str | os.PathLike[str]) -> list[str]:
    """Every regular file below ``path`` (sorted)."""
    found: list[str] = []
    for folder, _dirs, names in os.walk(path):
        found.extend(os.path.join(folder, n) for n in names)
    return sorted(found)


def disk_bytes(root: Path) -> int:
    """Bytes the tree ``root`` takes on disk: each inode counted once (hard links share one)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in root.rglob("*"):
        st = path.lstat()
        if path.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush one file's data to the device, as mlops does for every file it publishes locally."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: str | os.PathLike[str]) -> None:
    for file in files_under(path):
        fsync_file(file)


def evict(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Ask the kernel to drop the cached pages of these files (``POSIX_FADV_DONTNEED``): a cold read
    for our own files without root and without touching anyone else's cache. Dirty pages are
    written first so that they can be dropped. On a VM the host may still cache the disk."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def sha256_files(paths: Iterable[str]) -> dict[str, str]:
    """One sha256 pass reading every file back (the ``naive`` baseline's extra pass)."""
    out = {}
    for path in paths:
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(8 * MB):
                sha.update(chunk)
        out[path] = sha.hexdigest()
    return out


def rmtree(path: str | os.PathLike[str]) -> None:
    shutil.rmtree(path, ignore_errors=True)


def settle() -> None:
    """Write back dirty pages left by the previous round so they do not land in the next timing."""
    os.sync()


# --- child processes --------------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH", "")]))
    return env


def run_child(task: str, args: dict[str, Any], *, timeout: float = 600) -> dict[str, Any]:
    """Run ``benchmarks/child.py TASK`` in a fresh interpreter; it prints one JSON object."""
    proc = subprocess.run(
        [sys.executable, str(BENCH_DIR / "child.py"), task, json.dumps(args)],
        capture_output=True, text=True, env=child_env(), timeout=timeout, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"child task {task!r} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def wall_of_python(code: str) -> float:
    """Wall time of ``python -c CODE`` in a fresh interpreter (process start included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=child_env(), capture_output=True)
    return time.perf_counter() - start
