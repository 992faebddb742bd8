"""The whole story in one command: make the raw images, publish and train, then predict.

    python examples/image_classification/run.py [--out FOLDER] [--store URL] [--fast]

Each step is its own script, run here as a separate process, as it would be in real life: the
prediction step shares nothing with training but the model's path.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_step(script: str, *args: str) -> None:
    """Run one step's script with this interpreter; stop the demo if it fails."""
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    result = subprocess.run([sys.executable, os.path.join(HERE, script), *args])
    if result.returncode != 0:
        raise SystemExit(f"{script} failed with exit status {result.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="output folder (default: %(default)s)")
    parser.add_argument("--store", default=None, help="where to publish (default: OUT/store)")
    parser.add_argument("--fast", action="store_true", help="fewer images and epochs (for smoke tests)")
    args = parser.parse_args()
    fast = ["--fast"] if args.fast else []
    store = ["--store", args.store] if args.store else []

    run_step("make_raw_data.py", "--out", args.out, *fast)
    run_step("train.py", "--out", args.out, *store, *fast)
    # predict.py finds the newest model itself under OUT/store; with another store, say where.
    model = []
    if args.store:
        import mlops

        model = [mlops.latest(f"{args.store}/models/digits")]
    run_step("predict.py", *model, "--out", args.out)
    print(f"\nall artifacts are under {args.out}" + (f" and {args.store}" if args.store else ""))


if __name__ == "__main__":
    main()
