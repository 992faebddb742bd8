"""Step 1: write a raw image dataset to disk, as a camera or a labelling tool would have left it.

    python examples/image_classification/make_raw_data.py [--out FOLDER] [--fast]

scikit-learn's bundled handwritten digits (8x8 grayscale, no download) become:

    OUT/raw/images/digit_0000.png ...   one PNG per digit
    OUT/raw/labels.csv                  filename,label  (label: "zero" ... "nine")
    OUT/pred/digit_1697.png ...         new, unlabelled images to predict on
    OUT/pred_answers.csv                the truth for pred/, kept apart so pred/ stays unlabelled
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil

import numpy as np
from PIL import Image

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PRED_COUNT = 100
"""The last images of the set are held out as "new data" for predict.py."""
FAST_COUNT = 600
"""How many images --fast keeps (of 1797)."""


def default_out() -> str:
    """The example's own output folder (ignored by git)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")


def _save_png(pixels: np.ndarray, path: str) -> None:
    """Save one 8x8 digit (values 0..16) as an 8-bit grayscale PNG (values 0..255)."""
    Image.fromarray(np.round(pixels * 255 / 16).astype(np.uint8)).save(path)


def _write_labels(path: str, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "label"])
        writer.writerows(rows)


def write_raw_data(out: str, fast: bool = False) -> tuple[str, str, str]:
    """Write the labelled images, the unlabelled ones and their answers under ``out``; return the
    paths of the raw dataset folder, the prediction folder and the answers file. Both image
    folders are rewritten from scratch, so a rerun never mixes old and new images."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    count = FAST_COUNT if fast else len(digits.images)
    raw, pred, answers = os.path.join(out, "raw"), os.path.join(out, "pred"), os.path.join(out, "pred_answers.csv")
    for folder in (raw, pred):
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(raw, "images"))
    os.makedirs(pred)
    labelled: list[tuple[str, str]] = []
    held_out: list[tuple[str, str]] = []
    for index in range(count):
        filename = f"digit_{index:04d}.png"
        label = DIGIT_NAMES[int(digits.target[index])]
        is_new = index >= count - PRED_COUNT
        _save_png(digits.images[index], os.path.join(pred if is_new else os.path.join(raw, "images"), filename))
        (held_out if is_new else labelled).append((filename, label))
    _write_labels(os.path.join(raw, "labels.csv"), labelled)
    _write_labels(answers, held_out)
    return raw, pred, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=default_out(), help="output folder (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help=f"use only the first {FAST_COUNT} digits")
    args = parser.parse_args()
    raw, pred, answers = write_raw_data(args.out, args.fast)
    print(f"raw dataset: {len(os.listdir(os.path.join(raw, 'images')))} labelled PNG images")
    print(f"  images     {os.path.join(raw, 'images')}")
    print(f"  labels     {os.path.join(raw, 'labels.csv')}")
    print(f"new data: {len(os.listdir(pred))} unlabelled PNG images in {pred}")
    print(f"  (their true labels, for scoring predictions: {answers})")


if __name__ == "__main__":
    main()
