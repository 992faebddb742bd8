"""The interface a framework plugin implements to save, load and run models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class ModelSerializer(ABC):
    """Saves models of one framework into a folder and loads them back.

    ``name`` is stored in meta.json and picks the serializer at load time, so it must never change
    once models were published with it. ``can_save`` must answer for any object *without importing
    the framework* (use :func:`mro_modules`), so that checking a foreign model stays cheap.

    When several installed serializers can save one model, the one with the highest ``priority``
    wins (ties: the first registered), so a serializer for one library beats a generic one that
    also accepts its objects: an ``xgboost.XGBClassifier`` is a scikit-learn estimator, and goes to
    mlops-xgboost (priority ``SPECIFIC``) rather than mlops-sklearn (``GENERIC``).
    """

    GENERIC: ClassVar[int] = 0
    """The priority of a serializer for a whole API that other libraries implement too (e.g. every
    scikit-learn-compatible estimator): any more specific serializer that accepts a model wins."""

    SPECIFIC: ClassVar[int] = 10
    """The priority of a serializer for one library's own classes (XGBoost, LightGBM, ONNX)."""

    priority: ClassVar[int] = GENERIC
    """How specific this serializer is: among those whose ``can_save`` accepts a model, the highest
    priority is chosen. Set ``SPECIFIC`` for one library's classes, more to override a first-party
    plugin (e.g. ``SPECIFIC + 10`` for your own XGBoost format)."""

    name: ClassVar[str]
    """Stable identifier stored in meta.json, e.g. ``"keras"``."""

    pickles_code: ClassVar[bool] = False
    """True when saved files hold code pickled by value (tied to the writer's Python minor version):
    loading on another minor version is then refused with a clear error instead of crashing."""

    @abstractmethod
    def can_save(self, model: Any) -> bool:
        """Whether this serializer knows how to save ``model``."""

    @abstractmethod
    def save(self, model: Any, directory: str) -> None:
        """Write ``model`` into ``directory``, an empty local folder. Every file written there is
        published and listed, with its sha256, in meta.json."""

    @abstractmethod
    def load(self, directory: str) -> Any:
        """Return the native model from ``directory``, a local folder holding what :meth:`save`
        wrote. Every file has been verified against meta.json before this is called."""

    @abstractmethod
    def predict(self, model: Any, features: Any) -> np.ndarray:
        """Run inference: numpy features in, numpy predictions out."""

    def framework_versions(self) -> dict[str, str]:
        """Versions of the libraries this serializer's files depend on, recorded in meta.json.
        Called only after :meth:`save` (the framework is already imported then)."""
        return {}


def mro_modules(obj: Any) -> set[str]:
    """Top-level package names of every class in ``type(obj).__mro__``, e.g. ``{"keras", "builtins"}``
    for a Keras model: lets ``can_save`` recognise a framework's objects without importing it."""
    return {cls.__module__.split(".", 1)[0] for cls in type(obj).__mro__}


def installed_versions(*distributions: str) -> dict[str, str]:
    """The installed versions of ``distributions``, missing ones left out: what a serializer's
    :meth:`ModelSerializer.framework_versions` usually returns."""
    from mlops.metadata.environment import installed_version

    return {dist: version for dist in distributions if (version := installed_version(dist)) is not None}
