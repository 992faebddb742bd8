"""Run the mlops benchmark suite: ``python benchmarks/run.py [--sizes 256 1024] [--repeats 5]
[--only dataset,s3,models,import,listing,loaders,incremental,manyfiles,serving,tables,registry,predict,env]
[--many-files 100000] [--table-size 1024] [--predict-rows 1000000] [--predict-gb 4]
[--out benchmarks/results]``.

Prints a targets table (PASS/FAIL, and the change since the previous run in ``--out``), and writes
``bench-TIMESTAMP.json`` and ``bench-TIMESTAMP.png`` there. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import report  # noqa: E402
from harness import Context, Results, rmtree  # noqa: E402

AREAS = (
    "import", "dataset", "models", "s3", "listing", "signing", "loaders", "incremental", "manyfiles", "serving",
    "tables", "registry", "predict", "env", "scale",
)  # fmt: skip
DEFAULT_AREAS = tuple(a for a in AREAS if a != "scale")
"""``scale`` (tens of GB, chunked tensors) runs only when asked for: ``--only scale``."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[256, 1024],
        metavar="MB",
        help="dataset sizes in MB of float32 tensors (default: 256 1024)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement, at least 5 for reported figures")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_AREAS),
        help=f"comma-separated areas to run (default: {','.join(DEFAULT_AREAS)}; also: scale)",
    )
    parser.add_argument(
        "--s3-size",
        type=int,
        default=None,
        metavar="MB",
        help="dataset size for the S3 area (default: the smallest of --sizes; moto is slow)",
    )
    parser.add_argument(
        "--frameworks", default="", help="with the models area: comma-separated frameworks to measure (default: all)"
    )
    parser.add_argument(
        "--scale-sizes", type=float, nargs="+", default=None, metavar="GB",
        help="with the scale area: dask tensor sizes in GB (default: 1 4 16 32)",
    )  # fmt: skip
    parser.add_argument(
        "--listing-versions",
        type=int,
        default=1000,
        help="versions to list in the listing area (and to judge with gc in the registry area)",
    )
    parser.add_argument(
        "--table-size", type=int, default=1024, metavar="MB", help="with the tables area: the pandas table's size"
    )
    parser.add_argument(
        "--predict-rows", type=int, default=1_000_000, help="with the predict area: rows scored in memory"
    )
    parser.add_argument(
        "--predict-gb", type=float, default=4.0, metavar="GB", help="with the predict area: size of the dask input"
    )
    parser.add_argument(
        "--many-files", type=int, default=100_000, metavar="N", help="raw files of 1 KB in the manyfiles area"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--tmp", type=Path, default=None, help="scratch folder (default: a new one in $TMPDIR)")
    args = parser.parse_args(argv)
    args.only = [a.strip() for a in args.only.split(",") if a.strip()]
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = set(args.only) - set(AREAS)
    if unknown:
        parser.error(f"unknown areas {sorted(unknown)}; choose from {', '.join(AREAS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-", dir=args.tmp))
    results = Results()
    if args.repeats < 5:
        results.notes.append(f"run with --repeats {args.repeats}: fewer than 5, figures are indicative only")
    ctx = Context(sorted(args.sizes), args.repeats, args.s3_size or min(args.sizes), tmp, results)
    ctx.shared["listing_versions"] = args.listing_versions
    ctx.shared["frameworks"] = args.frameworks
    ctx.shared["scale_sizes"] = args.scale_sizes
    ctx.shared["many_files"] = args.many_files
    ctx.shared["table_size"] = args.table_size
    ctx.shared["predict_rows"] = args.predict_rows
    ctx.shared["predict_gb"] = args.predict_gb
    area_seconds: dict[str, float] = {}
    failed: list[str] = []
    # Remote files are cached under MLOPS_CACHE_DIR: keep that cache inside the scratch folder.
    os.environ["MLOPS_CACHE_DIR"] = str(tmp / "cache")
    try:
        with contextlib.ExitStack() as stack:
            ctx.shared["stack"] = stack
            for area in AREAS:
                if area in args.only:
                    area_start = time.perf_counter()
                    try:
                        __import__(f"bench_{area}").run(ctx)
                    except Exception:  # noqa: BLE001 - one broken area must not lose the others' figures
                        trace = traceback.format_exc()
                        print(trace, file=sys.stderr, flush=True)
                        results.notes.append(f"area {area!r} failed: {trace.strip().splitlines()[-1]}")
                        failed.append(area)
                    area_seconds[area] = round(time.perf_counter() - area_start, 1)
                    print(f"[{area}] done in {area_seconds[area]:.0f} s", flush=True)
    finally:
        rmtree(tmp)
    seconds = time.perf_counter() - start
    config = {"sizes": ctx.sizes, "repeats": ctx.repeats, "s3_size": ctx.s3_size, "only": args.only,
              "listing_versions": args.listing_versions, "many_files": args.many_files,
              "load_average_at_start": load_at_start, "area_seconds": area_seconds}  # fmt: skip
    json_path, png_path = report.write(results, args.out, config, seconds)
    print()
    print(report.table(results, report.previous_run(args.out, json_path)))
    print(f"\ntotal {seconds:.0f} s; results: {json_path} and {png_path.name}")
    if failed:
        print(f"areas that crashed (see notes in the JSON): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
