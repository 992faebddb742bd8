"""Rank published models by their test metrics, knowing nothing but their paths.

    python examples/mixed_frameworks/leaderboard.py MODEL_PATH [MODEL_PATH ...] [--out FOLDER]
    python examples/mixed_frameworks/leaderboard.py --root MODELS_ROOT [--tag TAG] [--out FOLDER]

No framework is imported here and no framework is named: each model is opened with
``VersionedModel(path)``, scored with ``model.predict(dataset.X_test)`` against ``dataset.y_test`` of
the dataset version it was trained on (``model.dataset``), and compared on accuracy and macro F1.
A model may output class indices (1-D) or per-class scores (2-D: the highest wins).
Writes leaderboard.csv and leaderboard.png (a bar chart) into --out.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import mlops
from mlops import VersionedModel


@dataclass(frozen=True)
class Entry:
    """One model's row of the leaderboard."""

    label: str
    path: str
    serializer: str
    dataset: str
    accuracy: float
    macro_f1: float
    predict_ms: float


def predicted_classes(output: np.ndarray) -> np.ndarray:
    """Class indices from a model's output: 2-D scores (probabilities, logits) or 1-D classes."""
    output = np.asarray(output)
    return output.argmax(axis=-1) if output.ndim > 1 else output.astype(np.int64)


def macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """The mean over classes of each class's F1 score (classes absent from both count as 0)."""
    scores = []
    for cls in np.union1d(truth, predicted):
        tp = np.sum((predicted == cls) & (truth == cls))
        fp = np.sum((predicted == cls) & (truth != cls))
        fn = np.sum((predicted != cls) & (truth == cls))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def evaluate(path: str) -> Entry:
    """Score the model at ``path`` on the test split of the dataset it was trained on."""
    model = VersionedModel(path)
    dataset = model.dataset
    truth = np.asarray(dataset.y_test)
    model.predict(dataset.X_test)  # load and warm up the model: time inference only
    started = time.perf_counter()
    output = model.predict(dataset.X_test)
    elapsed_ms = (time.perf_counter() - started) * 1000
    predicted = predicted_classes(output)
    return Entry(
        label=" ".join(model.tags) or model.version,
        path=model.path,
        serializer=model.serializer_name,
        dataset=f"{dataset.name} {dataset.version}",
        accuracy=float(np.mean(predicted == truth)),
        macro_f1=macro_f1(truth, predicted),
        predict_ms=elapsed_ms,
    )


def rank(paths: Sequence[str]) -> list[Entry]:
    """Every model evaluated, best first: by macro F1, then accuracy; ties keep the given order."""
    entries = [evaluate(path) for path in paths]
    return sorted(entries, key=lambda e: (-e.macro_f1, -e.accuracy))


def places(entries: Sequence[Entry]) -> list[str]:
    """Leaderboard places, "2=" for models tied on both metrics with another one."""
    scores = [(round(e.macro_f1, 6), round(e.accuracy, 6)) for e in entries]
    return [f"{scores.index(score) + 1}{'=' if scores.count(score) > 1 else ''}" for score in scores]


def format_table(entries: Sequence[Entry]) -> str:
    """The leaderboard as aligned text, one line per model."""
    width = max(len("model"), *(len(e.label) for e in entries))
    lines = [f"  {'#':<3} {'model':<{width}}  accuracy  macro F1  predict ms  trained on"]
    for place, e in zip(places(entries), entries, strict=True):
        scores = f"{e.accuracy:>8.3f}  {e.macro_f1:>8.3f}  {e.predict_ms:>10.1f}"
        lines.append(f"  {place:<3} {e.label:<{width}}  {scores}  {e.dataset}")
    return "\n".join(lines)


def write_csv(entries: Sequence[Entry], path: str) -> str:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "model", "accuracy", "macro_f1", "predict_ms", "serializer", "dataset", "path"])
        for place, e in zip(places(entries), entries, strict=True):
            scores = [f"{e.accuracy:.4f}", f"{e.macro_f1:.4f}", f"{e.predict_ms:.1f}"]
            writer.writerow([place, e.label, *scores, e.serializer, e.dataset, e.path])
    return path


def plot(entries: Sequence[Entry], path: str, title: str = "Test metrics of the published models") -> str:
    """A grouped bar chart of accuracy and macro F1 per model, best model first and marked."""
    from matplotlib.figure import Figure  # the object-oriented API: no pyplot, no window, no backend change

    figure = Figure(figsize=(max(6.0, 1.9 * len(entries) + 2), 4.4), layout="constrained")
    ax = figure.subplots()
    positions = np.arange(len(entries))
    width = 0.38
    bars_of = (("accuracy", "accuracy", "#4C72B0", -width / 2), ("macro_f1", "macro F1", "#DD8452", width / 2))
    for metric, legend, color, offset in bars_of:
        values = [getattr(e, metric) for e in entries]
        bars = ax.bar(positions + offset, values, width, label=legend, color=color)
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
    names = [f"{place}. {e.label}" for place, e in zip(places(entries), entries, strict=True)]
    names[0] = f"{names[0]}\n★ best"
    ax.set_xticks(positions, names, fontsize=9)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("score on the test split")
    datasets = sorted({e.dataset for e in entries})
    subtitle = f"dataset {datasets[0]}" if len(datasets) == 1 else "trained on different datasets: see the table"
    ax.set_title(f"{title}\n({subtitle})", fontsize=11)
    ax.legend(loc="upper right", ncols=2, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    figure.savefig(path, dpi=110)
    return path


def report(paths: Sequence[str], out: str) -> list[Entry]:
    """Rank the models at ``paths``, print the table, write the CSV and the chart into ``out``."""
    entries = rank(paths)
    if not entries:
        raise SystemExit("no models to rank")
    os.makedirs(out, exist_ok=True)
    print(format_table(entries))
    table = write_csv(entries, os.path.join(out, "leaderboard.csv"))
    chart = plot(entries, os.path.join(out, "leaderboard.png"))
    best = entries[0]
    tied = [e.label for p, e in zip(places(entries), entries, strict=True) if p == "1=" and e is not best]
    print(f"leaderboard table: {table}\nleaderboard chart: {chart}")
    print(f"best model: {best.label} (macro F1 {best.macro_f1:.3f}, accuracy {best.accuracy:.3f})"
          + (f", tied with {', '.join(tied)}" if tied else "") + f"\n  {best.path}")
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="published model versions")
    parser.add_argument("--root", help="rank every model version under this publication root instead")
    parser.add_argument("--tag", action="append", default=[], help="with --root: only versions with this tag")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "output"))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiet TensorFlow, should a Keras model be loaded
    if bool(args.paths) == bool(args.root):
        parser.error("give model paths or --root, not both")
    paths = args.paths or [info.path for info in mlops.list_versions(args.root, args.tag)]
    report(paths, args.out)


if __name__ == "__main__":
    main()
