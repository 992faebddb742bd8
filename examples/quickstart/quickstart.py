"""Quickstart: publish a dataset with the code that made it, train a model on it, publish the model,
and load both back by path alone.

    python examples/quickstart/quickstart.py [--out FOLDER] [--store URL]

--store defaults to a local folder under --out; any fsspec URL works (s3://bucket/prefix, memory://x).
"""

from __future__ import annotations

import argparse
import csv
import os

import numpy as np

from mlops import (
    InvertibleDataProcessor,
    TrainingConfig,
    VersionedDataset,
    VersionedDatasetBuilder,
    VersionedModel,
    VersionedModelBuilder,
)


class TumorProcessor(InvertibleDataProcessor):
    """Reads tumors.csv (30 measurements and a diagnosis per row), splits it deterministically,
    standardises features with statistics of the training split, and encodes diagnoses as 0/1."""

    CLASSES = np.array(["benign", "malignant"])

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def _read(self, dataset_path: str) -> tuple[np.ndarray, np.ndarray | None]:
        with open(os.path.join(dataset_path, "tumors.csv"), newline="") as f:
            rows = list(csv.reader(f))[1:]
        features = np.array([[float(v) for v in row[:30]] for row in rows], dtype=np.float32)
        labels = np.array([row[30] for row in rows]) if len(rows[0]) > 30 else None
        return features, labels

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        x, y = self._read(dataset_path)
        assert y is not None, "training data needs a diagnosis column"
        order = np.random.default_rng(0).permutation(len(x))
        train, test = order[: int(0.8 * len(x))], order[int(0.8 * len(x)) :]
        self.mean, self.std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
        return {"X_train": x[train], "X_test": x[test]}, {"y_train": y[train], "y_test": y[test]}

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        return {"X_pred": self._read(dataset_path)[0]}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return ((raw_feature_tensor - self.mean) / self.std).astype(np.float32)

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        return (raw_label_tensor == "malignant").astype(np.int64)

    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        return feature_tensor * self.std + self.mean

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        return self.CLASSES[np.asarray(label_tensor).astype(int)]


def write_raw_data(folder: str) -> tuple[str, str]:
    """scikit-learn's bundled breast-cancer data as CSV files: a labelled set and 5 new unlabelled rows."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    labelled, new = os.path.join(folder, "raw"), os.path.join(folder, "new_patients")
    for path, rows, with_label in (
        (labelled, range(len(data.data) - 5), True),
        (new, range(len(data.data) - 5, len(data.data)), False),
    ):
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "tumors.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(names + (["diagnosis"] if with_label else []))
            for i in rows:
                label = ["malignant" if data.target[i] == 0 else "benign"] if with_label else []
                writer.writerow([f"{v:.6g}" for v in data.data[i]] + label)
    return labelled, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "output"))
    parser.add_argument("--store", default=None, help="where to publish (default: OUT/store)")
    args = parser.parse_args()
    store = args.store or os.path.join(args.out, "store")
    raw, new = write_raw_data(args.out)
    print(f"raw data written to {raw} (and 5 new, unlabelled rows in {new})")

    dataset_path = VersionedDatasetBuilder(raw, TumorProcessor()).publish(f"{store}/datasets/tumors", tags=["tabular"])
    dataset = VersionedDataset(dataset_path)
    print(f"published dataset {dataset.name} version {dataset.version}\n  at {dataset.path}\n  hash {dataset.hash}")
    print(f"  tensors: {', '.join(f'{n}{tuple(dataset[n].shape)}' for n in dataset.tensor_names)}")

    from sklearn.linear_model import LogisticRegression

    train_args = {"C": 1.0, "max_iter": 500}
    classifier = LogisticRegression(**train_args).fit(dataset.X_train, dataset.y_train)
    accuracy = float((classifier.predict(dataset.X_test) == dataset.y_test).mean())
    config = TrainingConfig({"test_accuracy": [accuracy]}, train_args)
    model_path = VersionedModelBuilder(dataset, classifier, config).publish(f"{store}/models/tumors", tags=["baseline"])
    print(f"published model (test accuracy {accuracy:.3f})\n  at {model_path}")

    # Later, elsewhere: the path is all you need. No framework import, no processor code.
    model = VersionedModel(model_path)
    processor = model.dataset.data_processor
    features = processor.get_preprocessed_features(new)
    predictions = processor.unpreprocess_labels(model.predict(features))
    print(
        f"loaded the {model.serializer_name} model trained on dataset {model.dataset_version} "
        f"({model.dataset_hash[:12]})"
    )
    print(f"predictions for the new patients: {', '.join(predictions)}")


if __name__ == "__main__":
    main()
