"""The "framework" this plugin adds to mlops: a nearest-centroid classifier in pure numpy."""

from __future__ import annotations

import numpy as np


class NearestCentroidClassifier:
    """Predicts the class whose mean training vector (centroid) is nearest in Euclidean distance.

    Its whole state is two arrays, ``centroids`` (one row per class) and ``classes`` (the label of
    each row), which is what makes it storable without pickle.
    """

    def __init__(self, centroids: np.ndarray | None = None, classes: np.ndarray | None = None) -> None:
        self.centroids = None if centroids is None else np.asarray(centroids, dtype=np.float64)
        self.classes = None if classes is None else np.asarray(classes)
        if (self.centroids is None) != (self.classes is None):
            raise ValueError("give both centroids and classes, or neither (then call fit)")
        if self.centroids is not None and self.classes is not None:
            if self.centroids.ndim != 2 or self.classes.shape != (len(self.centroids),):
                raise ValueError(
                    f"centroids must be (classes, features) with one class label per row; got centroids "
                    f"{self.centroids.shape} and classes {self.classes.shape}"
                )

    @property
    def fitted(self) -> bool:
        return self.centroids is not None

    def fit(self, features: np.ndarray, labels: np.ndarray) -> NearestCentroidClassifier:
        """Learn one centroid per distinct label of ``labels``."""
        x, y = self._flat(features), np.asarray(labels)
        if len(x) != len(y) or not len(y):
            raise ValueError(f"need as many labels as feature rows (and some), got {len(x)} rows and {len(y)} labels")
        self.classes = np.unique(y)
        self.centroids = np.stack([x[y == cls].mean(axis=0) for cls in self.classes])
        return self

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Euclidean distance of every row of ``features`` to every centroid: (rows, classes)."""
        if self.centroids is None:
            raise ValueError("this NearestCentroidClassifier is not fitted: call fit(features, labels) first")
        x = self._flat(features)
        if x.shape[1] != self.centroids.shape[1]:
            raise ValueError(f"expected {self.centroids.shape[1]} features per row, got {x.shape[1]}")
        return np.asarray(((x[:, np.newaxis, :] - self.centroids[np.newaxis, :, :]) ** 2).sum(axis=-1))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The label of the nearest centroid, for every row of ``features``."""
        nearest = self.distances(features).argmin(axis=1)
        assert self.classes is not None  # always set together with the centroids
        return np.asarray(self.classes[nearest])

    def score(self, features: np.ndarray, labels: np.ndarray) -> float:
        """Accuracy of :meth:`predict` against ``labels``."""
        return float(np.mean(self.predict(features) == np.asarray(labels)))

    @staticmethod
    def _flat(features: np.ndarray) -> np.ndarray:
        """Rows as flat float vectors (images and other n-d samples are flattened)."""
        x = np.asarray(features, dtype=np.float64)
        return x.reshape(len(x), -1)

    def __repr__(self) -> str:
        if self.centroids is None:
            return "NearestCentroidClassifier(not fitted)"
        return f"NearestCentroidClassifier({len(self.centroids)} classes, {self.centroids.shape[1]} features)"
