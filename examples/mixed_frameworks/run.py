"""One dataset, five frameworks, one leaderboard.

    python examples/mixed_frameworks/run.py [--out FOLDER] [--store URL] [--fast]

Publishes scikit-learn's wine data once, trains a Keras MLP, a PyTorch MLP, a scikit-learn random
forest, XGBoost and LightGBM boosted trees and a majority-class baseline on that same version,
publishes all six, then ranks them from their paths alone (leaderboard.py: no framework imported
there), and writes the store's catalog (catalog.html, as `mlops report` does). --store defaults to
OUT/store; any fsspec URL works (s3://bucket/prefix, memory://x).
"""

from __future__ import annotations

import argparse
import os

import leaderboard
from trainers import train_and_publish
from wine_data import publish_dataset, write_raw_data

from mlops.catalog import write_report

HERE = os.path.dirname(os.path.abspath(__file__))


def train_and_rank(out: str, store: str, fast: bool) -> list[leaderboard.Entry]:
    """The whole example: raw data -> dataset -> six published models -> leaderboard in ``out``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    raw = write_raw_data(os.path.join(out, "raw"))
    print(f"raw data written to {raw}")
    dataset = publish_dataset(raw, store)
    paths = train_and_publish(dataset, store, fast)
    print("\nleaderboard (test split; computed from the model paths alone):")
    entries = leaderboard.report(paths, out)
    catalog = write_report([f"{store}/datasets/wine", f"{store}/models/wine"], os.path.join(out, "catalog.html"))
    print(f"catalog (leaderboard, curves, lineage, diffs; open it in a browser): {catalog}")
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="output folder (default: %(default)s)")
    parser.add_argument("--store", default=None, help="where to publish (default: OUT/store)")
    parser.add_argument("--fast", action="store_true", help="fewer epochs and trees (for smoke tests)")
    args = parser.parse_args()
    train_and_rank(args.out, args.store or os.path.join(args.out, "store"), args.fast)


if __name__ == "__main__":
    main()
