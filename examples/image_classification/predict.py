"""Step 3: predict digits for new images, from the model's path alone.

    python examples/image_classification/predict.py [MODEL_PATH] [--out FOLDER] [--pred FOLDER]

This script imports no ML framework and none of this example's code: the model's serializer
plugin loads it, and the dataset it was trained on supplies the exact preprocessing code (stored
by value at publication) to turn the PNG files into tensors and the predictions back into names.
MODEL_PATH defaults to the newest model under OUT/store/models/digits.
"""

from __future__ import annotations

import argparse
import csv
import os
from typing import Any

import numpy as np

import mlops
from mlops import VersionedModel
from mlops.errors import NoVersionsError, RootNotFoundError

PER_LINE = 3
"""Predictions printed per line."""


def _default_out() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "output")


def read_answers(path: str) -> dict[str, str]:
    """filename -> true label, from a CSV written by make_raw_data.py."""
    with open(path, newline="") as f:
        return {row["filename"]: row["label"] for row in csv.DictReader(f)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", help="a published model version (default: the newest under OUT/store)")
    parser.add_argument("--out", default=_default_out(), help="output folder (default: %(default)s)")
    parser.add_argument("--pred", default=None, help="folder of PNG images to classify (default: OUT/pred)")
    parser.add_argument("--answers", default=None, help="CSV of true labels, to score (default: OUT/pred_answers.csv)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    pred_dir = args.pred or os.path.join(args.out, "pred")
    answers_file = args.answers or os.path.join(args.out, "pred_answers.csv")
    try:
        model_path = args.model or mlops.latest(os.path.join(args.out, "store", "models", "digits"))
    except (NoVersionsError, RootNotFoundError) as exc:
        raise SystemExit(f"{exc}\nTrain one first (train.py), or give a model's path.") from None

    model = VersionedModel(model_path)
    # The DigitsProcessor that built the training data, as it was then: its class comes from the
    # dataset (stored by value), not from an import, so the type checker cannot know it.
    processor: Any = model.dataset.data_processor
    print(f"model {model.name} {model.version} ({model.serializer_name}), trained on dataset "
          f"{model.dataset.name} {model.dataset_version} ({model.dataset_hash[:12]})\n  at {model.path}")

    features = processor.get_preprocessed_features(pred_dir)
    probabilities = model.predict(features)
    labels = processor.unpreprocess_labels(probabilities)
    files = processor.list_images(pred_dir)
    confidence = probabilities.max(axis=-1)

    answers = read_answers(answers_file) if os.path.exists(answers_file) else {}
    print(f"predictions for the {len(files)} images in {pred_dir} (probability; * = wrong, with the truth):")
    cells = []
    for name, label, p in zip(files, labels, confidence, strict=True):
        truth = answers.get(name)
        wrong = f" *{truth}" if truth is not None and truth != label else ""
        cells.append(f"{name} {label} ({p:.2f}){wrong}".ljust(36))
    for start in range(0, len(cells), PER_LINE):
        print("  " + "".join(cells[start : start + PER_LINE]).rstrip())

    output = os.path.join(args.out, "predictions.csv")
    with open(output, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "prediction", "probability"])
        writer.writerows((name, label, f"{p:.4f}") for name, label, p in zip(files, labels, confidence, strict=True))
    print(f"predictions written to {output}")
    if answers:
        correct = int((np.array([answers.get(name, "") for name in files]) == labels).sum())
        print(f"accuracy on the new images: {correct / len(files):.3f} ({correct} of {len(files)} correct)")


if __name__ == "__main__":
    main()
