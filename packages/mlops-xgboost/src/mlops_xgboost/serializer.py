"""Saving XGBoost models in XGBoost's own UBJSON format: no pickle, readable by any XGBoost >= 2.

XGBoost is imported only inside methods, so loading this plugin (and asking ``can_save`` about a
foreign object) never imports it.
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import numpy as np

from mlops.errors import ModelCodeNotStorableError
from mlops.plugin import LibraryClasses, ModelSerializer, installed_versions, is_table, model_features

MODEL_FILE = "model.ubj"
"""The booster, trees and learner configuration, in XGBoost's binary JSON (UBJSON) format."""

ESTIMATOR_FILE = "estimator.json"
"""Which class to rebuild (``XGBClassifier``, ``Booster``...) and its scikit-learn parameters."""

ESTIMATORS = frozenset({"XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"})
"""The scikit-learn-API classes of ``xgboost`` rebuilt on load (exactly these, not subclasses)."""

BOOSTER = "Booster"
CLASSES = LibraryClasses("xgboost", ESTIMATORS | {BOOSTER}, "mlops-xgboost", "an XGBoost model")
"""Every class this serializer saves and rebuilds: the estimators and ``Booster``."""

TRAINING_ONLY = frozenset({"callbacks", "eval_metric"})
"""Parameters used only while fitting: Python objects among them are left out of the saved file."""

_DISTRIBUTIONS = ("xgboost", "numpy", "scikit-learn")


def _storable(value: Any) -> bool:
    """Whether ``value`` survives JSON unchanged (numbers, strings, None and lists/dicts of them)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return True  # NaN and infinities too: Python's json writes and reads them back
    if isinstance(value, (list, tuple)):
        return isinstance(value, list) and all(_storable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _storable(v) for k, v in value.items())
    return False


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists; anything else unchanged."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


class XGBoostSerializer(ModelSerializer):
    """``xgboost.Booster`` and the scikit-learn-API estimators (``XGBClassifier``, ``XGBRegressor``,
    ``XGBRanker`` and the random-forest variants), saved with XGBoost's own ``save_model``.

    ``model.ubj`` holds the trees and the learner's configuration (objective, classes, best
    iteration); ``estimator.json`` names the class to rebuild and holds its parameters, so
    ``VersionedModel(path).model`` is the same class with the same predictions. Nothing is
    pickled: loading runs no code from the files and works with newer XGBoost versions.
    ``SPECIFIC`` priority: these estimators are scikit-learn estimators too, and this wins.
    """

    name: ClassVar[str] = "xgboost"
    priority: ClassVar[int] = ModelSerializer.SPECIFIC

    def can_save(self, model: Any) -> bool:
        """True for ``xgboost.Booster`` and XGBoost's own estimator classes (not subclasses of
        them, whose extra code the native format cannot hold). Never imports xgboost."""
        return CLASSES.of(model) is not None

    def save(self, model: Any, directory: str) -> None:
        """Write ``model.ubj`` with XGBoost's ``save_model`` and ``estimator.json`` beside it."""
        class_name = CLASSES.to_save(model)
        params: dict[str, Any] = {}
        left_out: list[str] = []
        if class_name != BOOSTER:
            params, left_out = self._params(model, class_name)
        model.save_model(os.path.join(directory, MODEL_FILE))
        with open(os.path.join(directory, ESTIMATOR_FILE), "w") as f:
            json.dump({"class": class_name, "params": params, "not_stored": left_out}, f, indent=1, sort_keys=True)

    @staticmethod
    def _params(model: Any, class_name: str) -> tuple[dict[str, Any], list[str]]:
        """The estimator's parameters for ``estimator.json``, and the training-only ones left out."""
        params: dict[str, Any] = {}
        left_out: list[str] = []
        for key, value in model.get_params(deep=False).items():
            value = _plain(value)
            if _storable(value):
                params[key] = value
            elif key in TRAINING_ONLY:
                left_out.append(key)
            elif callable(value):
                raise ModelCodeNotStorableError(
                    f"the {class_name}'s {key!r} is a Python function, which XGBoost's model format cannot "
                    "hold: publish model.get_booster() instead (its predict gives raw scores), or publish "
                    "with serializer='sklearn' to pickle the estimator"
                )
            else:
                raise ModelCodeNotStorableError(
                    f"the {class_name}'s parameter {key!r} is a {type(value).__qualname__}, which cannot be "
                    "stored without pickle: set it to a number, string or list, or publish with serializer='sklearn'"
                )
        return params, sorted(left_out)

    def load(self, directory: str) -> Any:
        """Rebuild the saved class from ``estimator.json`` and load ``model.ubj`` into it.

        Only classes named in :data:`ESTIMATORS` (or ``Booster``) are rebuilt, looked up on the
        ``xgboost`` module itself: the file never chooses what code runs.
        """
        import xgboost

        with open(os.path.join(directory, ESTIMATOR_FILE)) as f:
            spec = json.load(f)
        class_name = CLASSES.to_load(spec.get("class"))
        model_file = os.path.join(directory, MODEL_FILE)
        if class_name == BOOSTER:
            return xgboost.Booster(model_file=model_file)
        estimator = getattr(xgboost, class_name)(**spec.get("params", {}))
        estimator.load_model(model_file)
        return estimator

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """``model.predict(features)`` for estimators (class labels for classifiers, values for
        regressors, scores for rankers); ``Booster.inplace_predict`` for a bare booster (what its
        objective outputs, e.g. probabilities for ``binary:logistic``).

        A DataFrame (pandas, polars, Arrow) must have the columns the booster was trained on
        (its ``feature_names``), in that order, and reaches it as a pandas DataFrame; a booster
        trained without names takes a table of as many numeric columns. Otherwise
        :class:`~mlops.errors.FeatureColumnsError` lists the missing, extra or misplaced columns."""
        booster = model if type(model).__name__ == BOOSTER else model.get_booster()
        features = model_features(
            features, booster.feature_names, booster.num_features(), model=f"the xgboost.{type(model).__name__}"
        )
        if type(model).__name__ == BOOSTER:
            return np.asarray(model.inplace_predict(features if is_table(features) else np.asarray(features)))
        return np.asarray(model.predict(features))

    def framework_versions(self) -> dict[str, str]:
        """Installed versions of XGBoost, numpy and scikit-learn."""
        return installed_versions(*_DISTRIBUTIONS)
