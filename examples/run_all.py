"""Run every example end to end, one after the other, and print a summary.

    python examples/run_all.py [--fast] [--out FOLDER] [--only NAME ...]

Each example runs in its own process with this interpreter (`nox -s demo` runs this script).
--out gives every example a sub-folder of FOLDER (default: each example's own output/ folder);
--fast passes --fast to the examples that have it (fewer epochs and samples).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Example:
    """One runnable example: its folder, its entry script, and what it needs."""

    name: str
    script: str
    has_fast_mode: bool = True
    needs_module: str | None = None
    install_hint: str = ""

    @property
    def path(self) -> str:
        return os.path.join(HERE, self.name, self.script)


EXAMPLES = [
    Example("quickstart", "quickstart.py", has_fast_mode=False),
    Example("image_classification", "run.py"),
    Example("mixed_frameworks", "run.py"),
    Example(
        "custom_serializer_plugin",
        "demo.py",
        needs_module="mlops_numpy_centroid",
        install_hint="pip install -e examples/custom_serializer_plugin/mlops-numpy-centroid",
    ),
    Example("s3", "s3_demo.py"),
    Example("large_dataset", "run.py", needs_module="distributed", install_hint='pip install "mlops-core[dask]"'),
    Example("serving", "run.py", needs_module="fastapi", install_hint='pip install "mlops-core[serve,sklearn]"'),
]


@dataclass(frozen=True)
class Outcome:
    example: Example
    status: str
    seconds: float
    out: str


def run(example: Example, out_root: str | None, fast: bool) -> Outcome:
    """Run one example in a subprocess, its output going straight to this terminal."""
    out = os.path.join(out_root, example.name) if out_root else os.path.join(HERE, example.name, "output")
    print(f"\n{'=' * 100}\n{example.name}: {os.path.relpath(example.path)}\n{'=' * 100}", flush=True)
    if example.needs_module and importlib.util.find_spec(example.needs_module) is None:
        print(f"skipped: {example.needs_module} is not installed; run: {example.install_hint}", flush=True)
        return Outcome(example, "skipped", 0.0, out)
    command = [sys.executable, example.path, "--out", out, *(["--fast"] if fast and example.has_fast_mode else [])]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
    started = time.perf_counter()
    result = subprocess.run(command, env=env)
    seconds = time.perf_counter() - started
    return Outcome(example, "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})", seconds, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="fewer epochs and samples (what the smoke tests run)")
    parser.add_argument("--out", default=None, help="put every example's output under this folder")
    parser.add_argument("--only", nargs="+", choices=[e.name for e in EXAMPLES], help="run only these examples")
    args = parser.parse_args()

    started = time.perf_counter()
    outcomes = [run(e, args.out, args.fast) for e in EXAMPLES if not args.only or e.name in args.only]
    total = time.perf_counter() - started

    width = max(len(o.example.name) for o in outcomes)
    print(f"\n{'=' * 100}\nsummary ({'fast' if args.fast else 'full'} mode, {total:.0f} s in all):")
    for o in outcomes:
        print(f"  {o.example.name:<{width}}  {o.status:<18} {o.seconds:6.1f} s  output: {o.out}")
    if any(o.status.startswith("FAILED") for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
