"""A framework mlops does not ship, added by an installable plugin: publish and load its models.

    pip install -e examples/custom_serializer_plugin/mlops-numpy-centroid
    python examples/custom_serializer_plugin/demo.py [--out FOLDER] [--store URL] [--fast]

Trains the plugin's pure-numpy nearest-centroid classifier on a published dataset (scikit-learn's
digits as a CSV), publishes it with VersionedModelBuilder (which finds the plugin's serializer by
itself, through ``can_save``), and loads it back with VersionedModel. --store defaults to
OUT/store; any fsspec URL works.
"""

from __future__ import annotations

import argparse
import csv
import os

import numpy as np

from mlops import (
    DataProcessor,
    TrainingConfig,
    VersionedDataset,
    VersionedDatasetBuilder,
    VersionedModel,
    VersionedModelBuilder,
)

INSTALL = "pip install -e examples/custom_serializer_plugin/mlops-numpy-centroid"
FAST_ROWS = 600


class DigitsCsvProcessor(DataProcessor):
    """Reads digits.csv (64 pixel values 0..16, then the digit), splits it 80/20 with a fixed seed,
    and scales pixels to [0, 1]."""

    def _read(self, dataset_path: str) -> tuple[np.ndarray, np.ndarray]:
        rows = np.loadtxt(os.path.join(dataset_path, "digits.csv"), delimiter=",", skiprows=1, dtype=np.int64)
        return rows[:, :64], rows[:, 64]

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        x, y = self._read(dataset_path)
        order = np.random.default_rng(0).permutation(len(x))
        train, test = order[: int(0.8 * len(x))], order[int(0.8 * len(x)) :]
        return {"X_train": x[train], "X_test": x[test]}, {"y_train": y[train], "y_test": y[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": self._read(dataset_path)[0]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return (raw_feature_tensor / 16.0).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return raw_label_tensor.astype(np.int64)


def write_raw_data(folder: str, rows: int | None) -> str:
    """scikit-learn's bundled digits as ``folder/digits.csv`` (the first ``rows`` of them)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "digits.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f"pixel_{i}" for i in range(64)] + ["digit"])
        for pixels, digit in list(zip(digits.data.astype(int), digits.target, strict=True))[:rows]:
            writer.writerow([*pixels, digit])
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "output"))
    parser.add_argument("--store", default=None, help="where to publish (default: OUT/store)")
    parser.add_argument("--fast", action="store_true", help=f"use only the first {FAST_ROWS} digits")
    args = parser.parse_args()
    try:
        from mlops_numpy_centroid import NearestCentroidClassifier
    except ImportError:
        raise SystemExit(f"the plugin of this example is not installed; run:\n  {INSTALL}") from None
    store = args.store or os.path.join(args.out, "store")

    raw = write_raw_data(os.path.join(args.out, "raw"), FAST_ROWS if args.fast else None)
    dataset = VersionedDataset(
        VersionedDatasetBuilder(raw, DigitsCsvProcessor()).publish(f"{store}/datasets/digits-csv", tags=["tabular"])
    )
    print(f"published dataset {dataset.name} {dataset.version}\n  at {dataset.path}")

    classifier = NearestCentroidClassifier().fit(dataset.X_train, dataset.y_train)
    train_accuracy = classifier.score(dataset.X_train, dataset.y_train)
    config = TrainingConfig({"train_accuracy": [train_accuracy]}, {"metric": "euclidean"})
    # No serializer= argument: mlops asks every installed serializer whether it can_save this object.
    path = VersionedModelBuilder(dataset, classifier, config).publish(f"{store}/models/digits-centroid", tags=["numpy"])
    model = VersionedModel(path)
    serializer = model.metadata["serializer"]
    print(f"published {classifier!r}\n  at {path}")
    print(f"  serializer {serializer['name']!r} from the distribution {serializer['distribution']} "
          f"{serializer['distribution_version']}, found through its entry point")
    print(f"  files: {', '.join(sorted(model.files))} (plain .npy arrays, no pickle)")

    # Later, elsewhere: the path is enough. mlops loads the plugin and its serializer rebuilds the model.
    loaded = model.model
    assert isinstance(loaded, NearestCentroidClassifier)
    assert np.array_equal(np.asarray(loaded.centroids), np.asarray(classifier.centroids))
    predictions = model.predict(dataset.X_test)
    accuracy = float(np.mean(predictions == dataset.y_test))
    print(f"loaded back: {loaded!r}, same centroids as the trained one")
    print(f"predictions for the first test digits: {' '.join(str(p) for p in predictions[:12])}")
    print(f"           their true labels:          {' '.join(str(t) for t in dataset.y_test[:12])}")
    print(f"test accuracy: {accuracy:.3f} ({len(predictions)} digits)")


if __name__ == "__main__":
    main()
