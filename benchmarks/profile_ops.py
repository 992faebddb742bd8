"""cProfile one mlops operation of the benchmark workloads, to see where a missed target's time goes.

    python benchmarks/profile_ops.py dataset-publish --size 256
    python benchmarks/profile_ops.py dataset-read --size 256
    python benchmarks/profile_ops.py model-publish --framework torch     # or model-load; keras, sklearn
    python benchmarks/profile_ops.py s3-load --size 64                   # starts a moto server
    python benchmarks/profile_ops.py manyfiles-publish --files 100000    # or manyfiles-verify

Prints the wall time and the functions with the most internal time (``--top``), sorted by
``--sort`` (``tottime`` or ``cumtime``). Scratch data goes to a temporary folder, removed at the end.
cProfile sees the calling thread only: work that mlops runs on helper threads (``verify``'s
workers, publish's fsyncs) shows as waits; run the same command with ``--top 0`` (no cProfile)
under ``py-spy record`` to see those.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench_processor import BenchProcessor  # noqa: E402
from harness import rmtree, settle  # noqa: E402
from workloads import MODELS, make_many_files, make_raw_folder  # noqa: E402


def profile(label: str, fn: Callable[[], Any], top: int, sort: str) -> None:
    settle()
    if top == 0:  # timed only, for a profiler outside (py-spy) that cProfile's overhead would skew
        start = time.perf_counter()
        fn()
        print(f"{label}: {time.perf_counter() - start:.3f} s")
        return
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    fn()
    prof.disable()
    print(f"{label}: {time.perf_counter() - start:.3f} s")
    pstats.Stats(prof).sort_stats(sort).print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "op",
        choices=["dataset-publish", "dataset-read", "model-publish", "model-load", "s3-load", "manyfiles-publish",
                 "manyfiles-verify"],
    )  # fmt: skip
    parser.add_argument("--size", type=int, default=256, help="dataset MB")
    parser.add_argument("--files", type=int, default=100_000, help="raw files of 1 KB for the manyfiles ops")
    parser.add_argument("--framework", choices=sorted(MODELS), default="torch")
    parser.add_argument("--top", type=int, default=25, help="functions to print; 0: no cProfile, only the time")
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    from mlops import VersionedDataset, VersionedDatasetBuilder, VersionedModel, VersionedModelBuilder

    tmp = Path(tempfile.mkdtemp(prefix="mlops-profile-"))
    os.environ["MLOPS_CACHE_DIR"] = str(tmp / "cache")
    try:
        with contextlib.ExitStack() as stack:
            small = args.op.startswith("model")
            if args.op.startswith("manyfiles"):
                raw = make_many_files(str(tmp / "raw"), args.files)
            else:
                raw = make_raw_folder(str(tmp / "raw"), 1 if small else args.size, files=10 if small else 1000)
            builder = VersionedDatasetBuilder(raw, BenchProcessor())
            if args.op == "manyfiles-publish":
                profile(
                    f"publish {args.files:,} files",
                    lambda: builder.publish(str(tmp / "store"), "v1", progress=False),
                    args.top,
                    args.sort,
                )
            elif args.op == "manyfiles-verify":
                path = builder.publish(str(tmp / "store"), "v1", progress=False)
                VersionedDataset(path).verify(progress=False)  # warm: the page cache holds every file
                profile(
                    f"verify {args.files:,} files",
                    lambda: VersionedDataset(path).verify(progress=False),
                    args.top,
                    args.sort,
                )
            elif args.op == "dataset-publish":
                profile("publish", lambda: builder.publish(str(tmp / "store"), "v1"), args.top, args.sort)
            elif args.op == "dataset-read":
                path = builder.publish(str(tmp / "store"), "v1")
                del builder

                def read() -> None:
                    ds = VersionedDataset(path)
                    for name in ds.tensor_names:
                        ds[name].copy()

                profile("open + copy every tensor", read, args.top, args.sort)
            elif args.op == "s3-load":
                from s3server import filesystem, moto_server

                stack.enter_context(moto_server())
                filesystem().mkdir("profile")
                url = builder.publish("s3://profile/ds", "v1")
                del builder

                def load() -> None:
                    ds = VersionedDataset(url)
                    for name in ds.tensor_names:
                        ds[name]

                profile("S3 open + every tensor (empty cache)", load, args.top, args.sort)
            else:
                dataset = VersionedDataset(builder.publish(str(tmp / "datasets"), "v1"))
                model = MODELS[args.framework].build()

                def publish(version: str) -> str:
                    return str(VersionedModelBuilder(dataset, model).publish(str(tmp / "models"), version))

                if args.op == "model-publish":
                    publish("warm-up")
                    profile(f"{args.framework} publish", lambda: publish("v1"), args.top, args.sort)
                else:
                    path = publish("v1")
                    _ = VersionedModel(path).model  # warm-up: imports
                    profile(f"{args.framework} load", lambda: VersionedModel(path).model, args.top, args.sort)
    finally:
        rmtree(tmp)


if __name__ == "__main__":
    main()
