"""The module the ``mlops`` entry point names: mlops calls its hook implementations once, lazily."""

from __future__ import annotations

from collections.abc import Callable

from mlops import hookimpl
from mlops.model.serializer import ModelSerializer
from mlops_numpy_centroid.serializer import NumpyCentroidSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the serializer of :class:`~mlops_numpy_centroid.model.NearestCentroidClassifier`."""
    register(NumpyCentroidSerializer())
