"""The interface a framework plugin implements to save, load and run models."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from mlops.errors import UnfittedModelError, UnknownModelClassError
from mlops.utils.install import upgrade_command


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


@dataclass(frozen=True)
class LibraryClasses:
    """Exactly these classes of one library, for a serializer that saves them in the library's own
    format and rebuilds them by name (as mlops-xgboost and mlops-lightgbm do): never a subclass
    defined elsewhere, whose extra code such a format cannot hold, and never a class that a saved
    file names but that is not one of these (the file never chooses what code runs)."""

    package: str
    """The library's top-level package, e.g. ``"xgboost"``."""
    names: frozenset[str]
    """The names of the classes, defined in ``package`` (e.g. ``{"Booster", "XGBClassifier"}``)."""
    distribution: str
    """The plugin's distribution, which a message tells to upgrade, e.g. ``"mlops-xgboost"``."""
    label: str
    """What the classes are, in a message: ``"an XGBoost model"``."""

    def of(self, model: Any) -> str | None:
        """The name of ``model``'s class if it is one of these, else ``None``; never imports the
        library, so ``can_save`` can ask it about any object."""
        cls = type(model)
        if cls.__module__.split(".", 1)[0] != self.package:
            return None
        return cls.__name__ if cls.__name__ in self.names else None

    def to_save(self, model: Any) -> str:
        """The name of ``model``'s class, checked for :meth:`ModelSerializer.save`: another object
        raises :class:`~mlops.errors.UnknownModelClassError`, and a scikit-learn-API estimator that
        was never fitted :class:`~mlops.errors.UnfittedModelError`."""
        name = self.of(model)
        if name is None:
            raise UnknownModelClassError(f"{type(model).__qualname__} is not {self.label} this plugin saves")
        is_fitted = getattr(model, "__sklearn_is_fitted__", None)
        if is_fitted is not None and not is_fitted():
            raise UnfittedModelError(f"this {name} was never fitted: call fit() before publishing it")
        return name

    def to_load(self, name: Any) -> str:
        """``name``, the class a saved file says to rebuild, if it is one of these; else
        :class:`~mlops.errors.UnknownModelClassError` telling to upgrade the plugin (a newer one
        saved it)."""
        if name not in self.names:
            raise UnknownModelClassError(
                f"this model was saved as {self.package}.{name}, which this {self.distribution} cannot rebuild: "
                f"upgrade it: {upgrade_command(self.distribution)}"
            )
        return str(name)


def installed_versions(*distributions: str) -> dict[str, str]:
    """The installed versions of ``distributions``, missing ones left out: what a serializer's
    :meth:`ModelSerializer.framework_versions` usually returns."""
    from mlops.metadata.environment import installed_version

    return {dist: version for dist in distributions if (version := installed_version(dist)) is not None}
