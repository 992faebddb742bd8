"""Output of a run: the targets table on stdout, a JSON file and a PNG chart, and a comparison
with the previous run found in the same folder (so regressions show)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import Results, Target, fmt_value

LIBRARIES = ("mlops-core", "numpy", "fsspec", "s3fs", "moto", "tensorflow-cpu", "tensorflow", "keras", "torch",
             "scikit-learn", "joblib", "h5py", "safetensors", "cloudpickle", "xgboost", "lightgbm", "onnx",
             "onnxruntime")  # fmt: skip
REGRESSION = 0.10
"""A target whose median moved more than this fraction of its limit in the wrong direction is flagged."""


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()  # fmt: skip
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": versions,
        "git_commit": commit,
    }


def previous_run(out: Path, current: Path) -> dict[str, Any] | None:
    """The most recent earlier results file in ``out``, if any."""
    runs = sorted(p for p in out.glob("bench-*.json") if p != current)
    if not runs:
        return None
    data: dict[str, Any] = json.loads(runs[-1].read_text())
    data["_file"] = runs[-1].name
    return data


def _trend(target: Target, previous: dict[str, Any] | None) -> str:
    if previous is None:
        return ""
    old = next((t for t in previous.get("targets", []) if t["id"] == target.id), None)
    if old is None:
        return "new"
    before, now = old["value"]["median"], target.value.median
    scale = abs(target.limit) or max(abs(before), 1e-9)
    change = (now - before) / scale
    mark = " REGRESSED" if change > REGRESSION else (" improved" if change < -REGRESSION else "")
    return f"was {fmt_value(before, target.unit)}{mark}"


def table(results: Results, previous: dict[str, Any] | None) -> str:
    """The targets as a plain-text table."""
    rows = [("id", "target", "median [min, max]", "limit", "status", "vs previous run")]
    for t in results.targets:
        value = t.value
        spread = f"{fmt_value(value.median, t.unit)} [{fmt_value(value.min, t.unit)}, {fmt_value(value.max, t.unit)}]"
        limit = "-" if t.informational and t.limit == 0 else fmt_value(t.limit, t.unit)
        rows.append((t.id, t.title, spread, limit, t.status, _trend(t, previous)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    failed = [t.id for t in results.targets if t.status == "FAIL"]
    lines.append("")
    lines.append(f"{sum(t.status == 'PASS' for t in results.targets)} passed, {len(failed)} failed"
                 + (f": {', '.join(failed)}" if failed else ""))  # fmt: skip
    return "\n".join(lines)


def write(
    results: Results, out: Path, config: dict[str, Any], seconds: float, prefix: str = "bench"
) -> tuple[Path, Path]:
    """Write ``PREFIX-TIMESTAMP.json`` and ``PREFIX-TIMESTAMP.png`` into ``out``; return both paths."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    json_path, png_path = out / f"{prefix}-{stamp}.json", out / f"{prefix}-{stamp}.png"
    info = machine()
    data: dict[str, Any] = {
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "total_seconds": seconds,
        "config": config,
        "machine": info,
        "targets": [t.to_json() for t in results.targets],
        "timings": {name: stat.to_json() for name, stat in results.timings.items()},
        "notes": results.notes,
    }
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    chart(results, png_path, info)
    return json_path, png_path


def chart(results: Results, path: Path, info: dict[str, Any]) -> None:
    """One horizontal bar per target: median / limit (1.0 is the limit), whiskers at min and max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = [t for t in results.targets if t.limit > 0]
    if not targets:
        return
    height = 1.2 + 0.32 * len(targets)
    fig, ax = plt.subplots(figsize=(12, height))
    ys = list(range(len(targets)))[::-1]
    right = max(2.0, min(4.0, max(t.value.max / t.limit for t in targets) + 0.2))
    for y, t in zip(ys, targets, strict=True):
        med, lo, hi = (min(v / t.limit, right) for v in (t.value.median, t.value.min, t.value.max))
        color = "#9e9e9e" if t.informational else ("#2e7d32" if t.passed else "#c62828")
        ax.barh(y, med, color=color, height=0.6)
        ax.errorbar(med, y, xerr=[[med - lo], [hi - med]], fmt="none", ecolor="black", capsize=3, lw=1)
        ax.text(min(max(hi, med) + 0.03, right * 0.8), y,
                f"{fmt_value(t.value.median, t.unit)} / {fmt_value(t.limit, t.unit)}",
                va="center", fontsize=7)  # fmt: skip
    ax.axvline(1.0, color="black", ls="--", lw=1)
    ax.set_yticks(ys, [_short(f"{t.id}  {t.title}") for t in targets], fontsize=7)
    ax.set_xlabel("measured median / limit  (<= 1 passes; grey: informational)")
    ax.set_title(f"mlops benchmarks - {info['nproc']} cores, {info['ram_gb']} GB, Python {info['python']}", fontsize=9)
    ax.set_xlim(0, right * 1.15)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(label: str, width: int = 62) -> str:
    return label if len(label) <= width else label[: width - 3] + "..."


def markdown(data: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    """The targets of a results file as a Markdown table for benchmarks/README.md (with the medians
    of an earlier results file ``before``, when given)."""
    head = "| id | target | median [min, max] | limit | status |" + (" before |" if before else "")
    rows = [head, "| --- " * (6 if before else 5) + "|"]
    old = {t["id"]: t for t in (before or {}).get("targets", [])}
    for t in data["targets"]:
        value, unit = t["value"], t["unit"]
        spread = (
            f"{fmt_value(value['median'], unit)} [{fmt_value(value['min'], unit)}, {fmt_value(value['max'], unit)}]"
        )
        limit = "-" if t["informational"] and t["limit"] == 0 else fmt_value(t["limit"], unit)
        row = f"| {t['id']} | {t['title']} | {spread} | {limit} | {t['status']} |"
        if before:
            row += f" {fmt_value(old[t['id']]['value']['median'], unit) if t['id'] in old else 'new'} |"
        rows.append(row)
    return "\n".join(rows)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Print a results file's targets as a Markdown table.")
    parser.add_argument("results", type=Path, help="a bench-*.json file")
    parser.add_argument("--before", type=Path, help="an earlier bench-*.json file, for a column of its medians")
    args = parser.parse_args()
    print(markdown(json.loads(args.results.read_text()), json.loads(args.before.read_text()) if args.before else None))
