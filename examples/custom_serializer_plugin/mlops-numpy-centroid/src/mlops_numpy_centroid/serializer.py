"""How mlops stores a :class:`NearestCentroidClassifier`: two ``.npy`` files, no pickle."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from mlops.errors import ModelSerializationError
from mlops.model.serializer import ModelSerializer
from mlops_numpy_centroid.model import NearestCentroidClassifier

CENTROIDS_FILE = "centroids.npy"
CLASSES_FILE = "classes.npy"


class NumpyCentroidSerializer(ModelSerializer):
    """Saves the classifier's two arrays with ``np.save`` and loads them with
    ``np.load(allow_pickle=False)``: no code is stored, so loading is safe on any Python version
    (``pickles_code`` is False) and never runs anything from the files."""

    name: ClassVar[str] = "numpy-centroid"  # stored in every model's meta.json: never change it
    pickles_code: ClassVar[bool] = False

    def can_save(self, model: Any) -> bool:
        """True for our classifier. Checking with isinstance is fine here: the "framework" is this
        package itself, already imported, so answering for a foreign object imports nothing."""
        return isinstance(model, NearestCentroidClassifier)

    def save(self, model: Any, directory: str) -> None:
        """Write ``centroids.npy`` and ``classes.npy`` into ``directory``."""
        if not model.fitted:
            raise ModelSerializationError("the NearestCentroidClassifier is not fitted: call fit() before publishing")
        if model.classes.dtype == object:
            raise ModelSerializationError(
                "class labels must be numbers or strings (a numpy array of dtype object would need pickle)"
            )
        np.save(os.path.join(directory, CENTROIDS_FILE), model.centroids, allow_pickle=False)
        np.save(os.path.join(directory, CLASSES_FILE), model.classes, allow_pickle=False)

    def load(self, directory: str) -> NearestCentroidClassifier:
        """Rebuild the classifier from the two arrays (core verified their sha256 already)."""
        arrays = {}
        for file in (CENTROIDS_FILE, CLASSES_FILE):
            try:
                arrays[file] = np.load(os.path.join(directory, file), allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ModelSerializationError(f"{file} is not a plain numpy array file: {exc}") from exc
        return NearestCentroidClassifier(arrays[CENTROIDS_FILE], arrays[CLASSES_FILE])

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """The predicted class label of every row."""
        return np.asarray(model.predict(features))

    def framework_versions(self) -> dict[str, str]:
        """The files are plain .npy arrays: only numpy's version matters."""
        return {"numpy": str(np.__version__)}
