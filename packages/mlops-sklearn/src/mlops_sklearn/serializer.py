"""Saving scikit-learn estimators and pipelines as ``model.joblib``.

scikit-learn is imported only inside methods, so loading this plugin (and asking ``can_save`` about
a foreign object) never imports it.
"""

from __future__ import annotations

import os
from importlib import metadata as importlib_metadata
from typing import Any, ClassVar

import numpy as np

from mlops.model.serializer import ModelSerializer, mro_modules

MODEL_FILE = "model.joblib"
"""The single file a scikit-learn model is stored in."""

_DISTRIBUTIONS = ("scikit-learn", "joblib", "numpy", "scipy")
"""Libraries whose versions decide whether a ``model.joblib`` loads back (recorded in meta.json)."""


class SklearnSerializer(ModelSerializer):
    """Any scikit-learn estimator or ``Pipeline``, dumped with joblib into ``model.joblib``.

    joblib pickles classes by reference (``sklearn.linear_model.LogisticRegression``), never their
    code, so the file does not depend on the Python minor version: ``pickles_code`` is False. It
    does depend on the scikit-learn version, which is recorded by :meth:`framework_versions`.
    """

    name: ClassVar[str] = "sklearn"
    pickles_code: ClassVar[bool] = False

    def can_save(self, model: Any) -> bool:
        """True for scikit-learn estimators: objects whose class has ``fit`` and ``get_params``
        (the estimator API) and either comes from scikit-learn or also has ``predict`` (a
        duck-typed, scikit-learn-compatible estimator). Looks at the class only, so proxies that
        answer every attribute are not mistaken for estimators, and never imports scikit-learn."""
        if isinstance(model, type):
            return False
        cls = type(model)
        if not (callable(getattr(cls, "fit", None)) and callable(getattr(cls, "get_params", None))):
            return False
        return "sklearn" in mro_modules(model) or callable(getattr(cls, "predict", None))

    def save(self, model: Any, directory: str) -> None:
        """Dump ``model`` (fitted or not) with joblib into ``directory/model.joblib``."""
        import joblib

        joblib.dump(model, os.path.join(directory, MODEL_FILE))

    def load(self, directory: str) -> Any:
        """Load the estimator from ``directory/model.joblib``.

        joblib.load unpickles, which runs code named in the file. That is safe here because core
        verified the sha256 of every file against the version's meta.json before calling this, so
        the bytes are exactly the ones that were published.
        """
        import joblib

        return joblib.load(os.path.join(directory, MODEL_FILE))

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """``model.predict(features)`` as a numpy array."""
        return np.asarray(model.predict(features))

    def framework_versions(self) -> dict[str, str]:
        """Installed versions of scikit-learn, joblib, numpy and scipy."""
        versions: dict[str, str] = {}
        for dist in _DISTRIBUTIONS:
            try:
                versions[dist] = importlib_metadata.version(dist)
            except importlib_metadata.PackageNotFoundError:
                continue
        return versions
