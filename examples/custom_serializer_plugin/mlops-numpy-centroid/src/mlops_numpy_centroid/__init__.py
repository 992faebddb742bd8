"""A nearest-centroid classifier in pure numpy, and its mlops serializer plugin."""

from mlops_numpy_centroid.model import NearestCentroidClassifier
from mlops_numpy_centroid.serializer import NumpyCentroidSerializer

__all__ = ["NearestCentroidClassifier", "NumpyCentroidSerializer"]
