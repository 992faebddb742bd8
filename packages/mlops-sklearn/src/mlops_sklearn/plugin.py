"""The mlops plugin of scikit-learn: registers :class:`~mlops_sklearn.serializer.SklearnSerializer`.

Listed under ``[project.entry-points.mlops]`` as ``sklearn``. Importing this module imports neither
scikit-learn nor joblib.
"""

from __future__ import annotations

from collections.abc import Callable

from mlops import hookimpl
from mlops.plugin import ModelSerializer
from mlops_sklearn.serializer import SklearnSerializer


@hookimpl
def mlops_register_serializers(register: Callable[[ModelSerializer], None]) -> None:
    """Register the scikit-learn serializer."""
    register(SklearnSerializer())
