"""How raw digit images become tensors, and how predictions become digit names again.

This module is stored *by value* with every dataset it builds: predict.py (and anyone, years
later) processes new images with the code below as it was at publication, without importing it.
"""

from __future__ import annotations

import csv
import os

import numpy as np
from PIL import Image

from mlops import InvertibleDataProcessor

CLASSES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
SPLITS = {"train": 0.7, "val": 0.15, "test": 0.15}
SEED = 0


def read_png(path: str) -> np.ndarray:
    """One image as a 2-D uint8 array (grayscale, 0 = black)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


class DigitsProcessor(InvertibleDataProcessor):
    """Reads ``images/*.png`` with ``labels.csv`` (filename,label); splits them 70/15/15 into
    train/val/test with a fixed seed (the same files always land in the same split); scales pixels
    to [0, 1] as ``(n, height, width, 1)`` float32; one-hot encodes the digit names."""

    def list_images(self, dataset_path: str) -> list[str]:
        """The PNG files of an unlabelled folder, in the order :meth:`get_raw_features` reads them."""
        return sorted(name for name in os.listdir(dataset_path) if name.lower().endswith(".png"))

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        with open(os.path.join(dataset_path, "labels.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        images = np.stack([read_png(os.path.join(dataset_path, "images", row["filename"])) for row in rows])
        labels = np.array([row["label"] for row in rows])
        order = np.random.default_rng(SEED).permutation(len(rows))
        end_train = int(SPLITS["train"] * len(rows))
        end_val = end_train + int(SPLITS["val"] * len(rows))
        parts = {"train": order[:end_train], "val": order[end_train:end_val], "test": order[end_val:]}
        features = {f"X_{split}": images[index] for split, index in parts.items()}
        targets = {f"y_{split}": labels[index] for split, index in parts.items()}
        return features, targets

    def get_raw_features(self, dataset_path: str) -> dict[str, np.ndarray]:
        files = self.list_images(dataset_path)
        if not files:
            raise FileNotFoundError(f"no PNG images in {dataset_path}")
        return {"X_pred": np.stack([read_png(os.path.join(dataset_path, name)) for name in files])}

    def preprocess_features(self, raw_feature_tensor: np.ndarray) -> np.ndarray:
        return (raw_feature_tensor.astype(np.float32) / 255.0)[..., np.newaxis]

    def preprocess_labels(self, raw_label_tensor: np.ndarray) -> np.ndarray:
        unknown = set(raw_label_tensor.tolist()) - set(CLASSES.tolist())
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; expected one of {', '.join(CLASSES)}")
        return np.asarray(raw_label_tensor[:, np.newaxis] == CLASSES[np.newaxis, :], dtype=np.float32)

    def unpreprocess_features(self, feature_tensor: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(feature_tensor)[..., 0] * 255.0).astype(np.uint8)

    def unpreprocess_labels(self, label_tensor: np.ndarray) -> np.ndarray:
        """Digit names for one-hot labels or per-class probabilities (the highest wins), or for
        a 1-D array of class indices."""
        tensor = np.asarray(label_tensor)
        indices = tensor.argmax(axis=-1) if tensor.ndim > 1 else tensor.astype(int)
        return np.asarray(CLASSES[indices])
