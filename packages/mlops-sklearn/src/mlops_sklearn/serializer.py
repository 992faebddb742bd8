"""Saving scikit-learn estimators and pipelines as ``model.joblib``.

The user's own classes and functions in a model (custom transformers, ``FunctionTransformer``
functions...) are stored by value, as a dataset's processor is, so the model keeps loading after
that code is renamed or deleted; see :mod:`mlops_sklearn.by_value`. scikit-learn and joblib are
imported only inside methods, so loading this plugin (and asking ``can_save`` about a foreign
object) never imports them.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar

import numpy as np

from mlops.errors import ModelCodeMissingError, ModelSerializationError
from mlops.plugin import ModelSerializer, installed_versions, model_features, mro_modules

MODEL_FILE = "model.joblib"
"""The single file a scikit-learn model is stored in (a joblib file)."""

logger = logging.getLogger(__name__)

_DISTRIBUTIONS = ("scikit-learn", "joblib", "numpy", "scipy")
"""Libraries whose versions decide whether a ``model.joblib`` loads back (recorded in meta.json)."""


class SklearnSerializer(ModelSerializer):
    """Any scikit-learn estimator or ``Pipeline``, dumped with joblib into ``model.joblib``.

    Installed libraries (scikit-learn, numpy...) are stored by reference, so a model made of them
    alone does not depend on the Python minor version: ``pickles_code`` is False. Classes and
    functions of the user's own modules are stored by value; loading such a model on another
    Python minor version is refused, by the file itself, with
    :class:`~mlops.errors.PythonVersionMismatchError`. The scikit-learn version matters in both
    cases and is recorded by :meth:`framework_versions`.
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
        """Dump ``model`` (fitted or not) into ``directory/model.joblib``, the user's code by value."""
        from mlops.plugin import pickled_by_value
        from mlops_sklearn.by_value import ByValuePickler, model_user_modules

        modules = model_user_modules(model)
        try:
            with pickled_by_value(modules), open(os.path.join(directory, MODEL_FILE), "wb") as file:
                pickler = ByValuePickler(file)
                pickler.dump(model)
        except Exception as exc:
            raise ModelSerializationError(
                f"the scikit-learn model {type(model).__qualname__} cannot be pickled: {type(exc).__name__}: {exc}. "
                "Keep only picklable state on its estimators (arrays, numbers, functions, plain objects; no "
                "open files, locks or connections)."
            ) from exc
        if pickler.by_value:
            logger.info("stored by value in %s: %s", MODEL_FILE, ", ".join(sorted(pickler.by_value)))

    def load(self, directory: str) -> Any:
        """Load the estimator from ``directory/model.joblib``.

        joblib.load unpickles, which runs code named in the file. That is safe here because core
        verified the sha256 of every file against the version's meta.json before calling this, so
        the bytes are exactly the ones that were published. Code stored by value is refused on
        another Python minor version before it is rebuilt; a class or function stored by reference
        whose module is gone raises :class:`~mlops.errors.ModelCodeMissingError`.
        """
        import joblib

        try:
            return joblib.load(os.path.join(directory, MODEL_FILE))
        except (ImportError, AttributeError) as exc:
            raise _code_missing(exc) from exc

    def predict(self, model: Any, features: Any) -> np.ndarray:
        """``model.predict(features)`` as a numpy array.

        A DataFrame (pandas, polars, Arrow) must have the columns the model was fitted on
        (``feature_names_in_``), in that order, and reaches it as a pandas DataFrame; a model fitted
        on an array takes a table of as many numeric columns (``n_features_in_``). Otherwise
        :class:`~mlops.errors.FeatureColumnsError` lists the missing, extra or misplaced columns."""
        names = getattr(model, "feature_names_in_", None)
        features = model_features(
            features,
            None if names is None else [str(n) for n in names],
            getattr(model, "n_features_in_", None),
            model=f"the {type(model).__name__}",
        )
        return np.asarray(model.predict(features))

    def framework_versions(self) -> dict[str, str]:
        """Installed versions of scikit-learn, joblib, numpy and scipy."""
        return installed_versions(*_DISTRIBUTIONS)


def _code_missing(exc: ImportError | AttributeError) -> ModelCodeMissingError:
    """The error for a model whose class or function, stored by name, cannot be imported here."""
    missing = _missing_global(exc)
    if missing is not None:
        what = missing
    elif isinstance(exc, ImportError) and exc.name:
        what = f"code of the module {exc.name!r}"
    else:
        what = "a class or function by name"
    return ModelCodeMissingError(
        f"{MODEL_FILE} refers to {what}, which cannot be imported here ({type(exc).__name__}: {exc}). It was "
        "stored by reference: it comes from an installed library, or the model was published before "
        "mlops-sklearn stored the user's own code by value. Make it importable again (pip install the library, "
        "or put the module back on the Python path), then republish the model to store your own code with it."
    )


def _missing_global(exc: BaseException) -> str | None:
    """``module.name`` that joblib's (pure-Python) unpickler was looking up when ``exc`` was raised."""
    traceback = exc.__traceback__
    found = None
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code.co_name == "find_class":
            module, name = frame.f_locals.get("module"), frame.f_locals.get("name")
            if isinstance(module, str) and isinstance(name, str):
                found = f"{module}.{name}"
        traceback = traceback.tb_next
    return found
