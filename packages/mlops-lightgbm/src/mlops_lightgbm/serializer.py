"""Saving LightGBM models in LightGBM's own text format: no pickle.

A ``Booster`` is its model file. A scikit-learn-API estimator (``LGBMClassifier``...) is its
booster plus the estimator's own state (parameters, classes, evaluation results), which LightGBM
offers no file format for; that state is written as typed JSON (``estimator.json``), so loading
runs no code from the files. LightGBM is imported only inside methods, so loading this plugin (and
asking ``can_save`` about a foreign object) never imports it.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np

from mlops.errors import ModelCodeNotStorableError, UnknownModelClassError
from mlops.plugin import LibraryClasses, ModelSerializer, installed_versions, model_features, upgrade_command

MODEL_FILE = "model.txt"
"""The booster in LightGBM's text model format (``Booster.save_model``)."""

ESTIMATOR_FILE = "estimator.json"
"""Which class to rebuild (``LGBMClassifier``, ``Booster``...) and the estimator's state."""

ESTIMATORS = frozenset({"LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker"})
"""The scikit-learn-API classes of ``lightgbm`` rebuilt on load (exactly these, not subclasses)."""

BOOSTER = "Booster"
CLASSES = LibraryClasses("lightgbm", ESTIMATORS | {BOOSTER}, "mlops-lightgbm", "a LightGBM model")
"""Every class this serializer saves and rebuilds: the estimators and ``Booster``."""
TAG = "__mlops__"
"""The key marking an encoded value in ``estimator.json`` (an array, a numpy scalar...)."""

_DISTRIBUTIONS = ("lightgbm", "numpy", "scipy", "scikit-learn")


def _is_label_encoder(value: Any) -> bool:
    cls = type(value)
    return cls.__name__ == "LabelEncoder" and cls.__module__.startswith("sklearn.")


def encode(value: Any, where: str) -> Any:
    """``value`` as JSON, with numpy arrays and scalars, tuples, non-string-keyed or ordered dicts
    and label encoders tagged so that :func:`decode` gives them back with their types. Anything
    else (functions, arbitrary objects) raises :class:`ModelCodeNotStorableError` naming ``where``."""
    if isinstance(value, np.generic):  # before the builtins: np.float64 and np.str_ subclass them
        return {TAG: "scalar", "dtype": value.dtype.str, "value": value.item()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise ModelCodeNotStorableError(
                f"{where} is an array of Python objects, which cannot be stored without pickle: "
                "use an array of numbers or strings, or publish with serializer='sklearn'"
            )
        return {TAG: "ndarray", "dtype": value.dtype.str, "values": value.tolist()}
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        plain = type(value) is dict and all(type(k) is str and k != TAG for k in value)
        if plain:
            return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        kind = "OrderedDict" if isinstance(value, OrderedDict) else "dict"
        items = [[encode(k, f"{where} key"), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]
        return {TAG: kind, "items": items}
    if _is_label_encoder(value):
        return {TAG: "LabelEncoder", "classes": encode(value.classes_, f"{where}.classes_")}
    if callable(value):
        raise ModelCodeNotStorableError(
            f"{where} is a Python function, which LightGBM's model format cannot hold: publish the model's "
            "booster_ instead (its predict gives raw scores), or publish with serializer='sklearn' to pickle it"
        )
    raise ModelCodeNotStorableError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which cannot be stored without "
        "pickle: use plain values, or publish with serializer='sklearn'"
    )


def decode(value: Any) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind is None:
        return {k: decode(v) for k, v in value.items()}
    if kind == "ndarray":
        return np.array(value["values"], dtype=np.dtype(value["dtype"]))
    if kind == "scalar":
        return np.dtype(value["dtype"]).type(value["value"])
    if kind == "tuple":
        return tuple(decode(v) for v in value["items"])
    if kind in ("dict", "OrderedDict"):
        pairs = [(_hashable(decode(k)), decode(v)) for k, v in value["items"]]
        return OrderedDict(pairs) if kind == "OrderedDict" else dict(pairs)
    if kind == "LabelEncoder":
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder()
        encoder.classes_ = decode(value["classes"])
        return encoder
    raise UnknownModelClassError(
        f"estimator.json holds a value of kind {kind!r}, which this mlops-lightgbm cannot read: "
        f"upgrade it: {upgrade_command('mlops-lightgbm')}"
    )


def _stored_name(column: str) -> str:
    """A column name as LightGBM stores it in a model (spaces become underscores)."""
    return column.replace(" ", "_")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


class LightGBMSerializer(ModelSerializer):
    """``lightgbm.Booster`` and the scikit-learn-API estimators (``LGBMClassifier``,
    ``LGBMRegressor``, ``LGBMRanker``, ``LGBMModel``), saved with LightGBM's own text format.

    ``model.txt`` holds the trees (up to the best iteration, as ``Booster.save_model`` does);
    ``estimator.json`` names the class to rebuild and, for estimators, holds every attribute of
    the fitted estimator but its booster, so ``VersionedModel(path).model`` is the same class
    with the same predictions (class labels of any type for classifiers). ``SPECIFIC`` priority:
    these estimators are scikit-learn estimators too, and this wins.
    """

    name: ClassVar[str] = "lightgbm"
    priority: ClassVar[int] = ModelSerializer.SPECIFIC

    def can_save(self, model: Any) -> bool:
        """True for ``lightgbm.Booster`` and LightGBM's own estimator classes (not subclasses of
        them, whose extra code the format cannot hold). Never imports lightgbm."""
        return CLASSES.of(model) is not None

    def save(self, model: Any, directory: str) -> None:
        """Write ``model.txt`` with ``Booster.save_model`` and ``estimator.json`` beside it."""
        class_name = CLASSES.to_save(model)
        state: dict[str, Any] = {}
        booster = model
        if class_name != BOOSTER:
            booster = model.booster_
            attributes = {k: v for k, v in vars(model).items() if k != "_Booster"}
            state = encode(attributes, class_name)
        booster.save_model(os.path.join(directory, MODEL_FILE))
        with open(os.path.join(directory, ESTIMATOR_FILE), "w") as f:
            json.dump({"class": class_name, "state": state}, f, indent=1)

    def load(self, directory: str) -> Any:
        """Rebuild the saved class and its state from ``estimator.json`` around the booster of
        ``model.txt``. Only classes named in :data:`ESTIMATORS` (or ``Booster``) are rebuilt,
        looked up on the ``lightgbm`` module itself: the file never chooses what code runs."""
        import lightgbm

        with open(os.path.join(directory, ESTIMATOR_FILE)) as f:
            spec = json.load(f)
        class_name = CLASSES.to_load(spec.get("class"))
        booster = lightgbm.Booster(model_file=os.path.join(directory, MODEL_FILE))
        if class_name == BOOSTER:
            return booster
        estimator = getattr(lightgbm, class_name)()
        vars(estimator).update(decode(spec["state"]))
        estimator._Booster = booster
        return estimator

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """``model.predict(features)``: class labels for classifiers, values for regressors,
        scores for rankers; for a bare ``Booster``, what its objective outputs (e.g. per-class
        probabilities for ``multiclass``).

        A DataFrame (pandas, polars, Arrow) must have the columns the booster was trained on
        (its ``feature_name()``; LightGBM stores spaces in names as underscores), in that order,
        and reaches it as a pandas DataFrame (LightGBM itself checks only their number); a model
        trained on an array takes a table of as many numeric columns. Otherwise
        :class:`~mlops.errors.FeatureColumnsError` lists the missing, extra or misplaced columns."""
        booster = model if type(model).__name__ == BOOSTER else model.booster_
        names = list(booster.feature_name())
        if names == [f"Column_{i}" for i in range(len(names))]:
            trained_on: list[str] | None = None  # LightGBM's names for the columns of an array
        else:
            trained_on = names
        features = model_features(
            features,
            trained_on,
            booster.num_feature(),
            model=f"the lightgbm.{type(model).__name__}",
            normalize=_stored_name,
        )
        return np.asarray(model.predict(features))

    def framework_versions(self) -> dict[str, str]:
        """Installed versions of LightGBM, numpy, scipy and scikit-learn."""
        return installed_versions(*_DISTRIBUTIONS)
