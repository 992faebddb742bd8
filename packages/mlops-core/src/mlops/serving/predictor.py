"""A published model wired to the processor of the dataset it was trained on.

Users used to wire this by hand: ``dataset.data_processor.get_raw_features(path)``, pick the tensor,
``preprocess_features``, ``model.predict``, then ``unpreprocess_labels``. :class:`Predictor` opens
both versions once (the recorded dataset hash checked, the trust policy applied to both pickles) and
does it the same way for files (:meth:`Predictor.predict_path`) and for tensors a request carries
(:meth:`Predictor.predict_raw`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.invertible_data_processor import InvertibleDataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import DatasetChangedError, InvalidProcessorOutputError, PredictionInputError, ProcessorFailedError
from mlops.model.versioned_model import VersionedModel
from mlops.store import Location
from mlops.versions.published import TrustedKeys

__all__ = ["Prediction", "Predictor"]


@dataclass(frozen=True)
class Prediction:
    """What :class:`Predictor` returns: the model's output and, for an invertible processor, the labels."""

    predictions: np.ndarray
    """The model's output (numpy), in the model's space: scores, probabilities, one-hot rows..."""
    labels: np.ndarray | None
    """``processor.unpreprocess_labels(predictions)`` (class names, prices in dollars...) when the
    dataset's processor is an :class:`~mlops.InvertibleDataProcessor`; ``None`` otherwise."""


class Predictor:
    """Predictions from raw data, preprocessed exactly as the model's training data was.

    ``model`` is a model version (a path or URL, or a :class:`~mlops.VersionedModel`). Opening
    loads the model and the processor of the dataset it was trained on, once: the dataset's content
    hash must still be the one recorded when the model was published
    (:class:`~mlops.errors.DatasetChangedError` otherwise), and a trust policy (``trusted_keys`` or
    ``MLOPS_TRUSTED_KEYS``) is applied to both versions before anything is unpickled.

    ``input`` names the raw feature tensor to predict on when ``get_raw_features`` returns several.
    ``dataset`` gives the dataset version to take the processor from when it is not at the path
    the model recorded (a copy made with ``republish``, the versions inside an ``mlops export``):
    its content hash must be the one the model recorded.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | Location | VersionedModel,
        *,
        input: str | None = None,  # noqa: A002 - the documented keyword
        trusted_keys: TrustedKeys = None,
        storage_options: dict[str, Any] | None = None,
        dataset: VersionedDataset | None = None,
    ) -> None:
        if input is not None and (not isinstance(input, str) or not input):
            raise PredictionInputError(f"input= names a raw feature tensor (a non-empty str), got {input!r}")
        self.model: VersionedModel = (
            model
            if isinstance(model, VersionedModel)
            else VersionedModel(model, storage_options=storage_options, trusted_keys=trusted_keys)
        )
        self.dataset: VersionedDataset = self.model.dataset if dataset is None else _checked(self.model, dataset)
        self.processor: DataProcessor = self.dataset.data_processor
        self.input = input
        self.native_model: Any = self.model.model  # loaded (and verified) now, not on the first request
        features = [record for record in self.dataset.record.tensors.values() if record.role == "features"]
        self._feature_shapes = {tuple(record.shape[1:]) for record in features}
        self._feature_kinds = {k for k in (_dtype_kind(record.dtype) for record in features) if k is not None}

    def __repr__(self) -> str:
        return f"Predictor(model={self.model.path!r}, dataset={self.dataset.path!r}, input={self.input!r})"

    @property
    def invertible(self) -> bool:
        """Whether predictions are turned back into labels (the processor is invertible)."""
        return isinstance(self.processor, InvertibleDataProcessor)

    # --- predicting -------------------------------------------------------------------------------------

    def predict_path(self, raw_path: str | os.PathLike[str]) -> Prediction:
        """Predict on the raw data at ``raw_path``, read by the processor's ``get_raw_features``."""
        return self.predict_raw(self.read_raw(raw_path))

    def predict_raw(self, raw: Mapping[str, Any] | Any) -> Prediction:
        """Predict on raw feature tensors in memory: a dict of name -> array as ``get_raw_features``
        returns, or one array (lists are turned into arrays)."""
        return self.predict_preprocessed(self.preprocess(self.raw_input(raw)))

    # --- the steps, for callers that run them apart (batch scoring block by block) ---------------------------

    def read_raw(self, raw_path: str | os.PathLike[str]) -> Mapping[str, Any]:
        """The processor's ``get_raw_features(raw_path)``: the raw feature tensors by name."""
        if isinstance(raw_path, (bytes, bytearray)) or not isinstance(raw_path, (str, os.PathLike)):
            raise PredictionInputError(
                f"predict_path takes the path of raw data (str or os.PathLike), got {type(raw_path).__name__}; "
                "for tensors in memory use predict_raw"
            )
        raw = self._call("get_raw_features", os.fspath(raw_path))
        if not isinstance(raw, Mapping):
            raise InvalidProcessorOutputError(
                f"the processor's get_raw_features must return a dict of name -> array, got {type(raw).__name__}"
            )
        return raw

    def predict_preprocessed(self, features: Any) -> Prediction:
        """``model.predict`` on preprocessed features, then ``unpreprocess_labels`` when the processor
        is invertible."""
        predictions = np.asarray(self.model.predict(features))
        labels = self._call("unpreprocess_labels", predictions) if self.invertible else None
        return Prediction(predictions=predictions, labels=None if labels is None else np.asarray(labels))

    def raw_input(self, raw: Mapping[str, Any] | Any) -> Any:
        """The one raw feature tensor to predict on, picked from ``raw`` (see ``input=``)."""
        if isinstance(raw, Mapping):
            names = list(raw)
            if any(not isinstance(name, str) for name in names):
                raise PredictionInputError(f"raw feature names must be strings, got {names!r}")
            if self.input is not None:
                unknown = [name for name in names if name != self.input]
                if self.input not in raw:
                    raise PredictionInputError(
                        f"no raw feature tensor named {self.input!r} (the input this predictor uses); got {names}"
                    )
                if unknown:
                    raise PredictionInputError(f"unknown raw feature tensor(s) {unknown}: only {self.input!r} is used")
                value = raw[self.input]
            elif len(names) == 1:
                value = raw[names[0]]
            elif not names:
                raise PredictionInputError("no raw feature tensor given (an empty dict)")
            else:
                raise PredictionInputError(
                    f"several raw feature tensors {names}: name the one to predict on with input=, "
                    f"e.g. Predictor(model, input={names[0]!r}) (mlops predict/serve: --input {names[0]})"
                )
        else:
            value = raw
        return _as_array(value)

    def preprocess(self, raw_tensor: Any) -> Any:
        """``processor.preprocess_features(raw_tensor)``, checked against the shape of the tensors
        the model was trained on (rows apart)."""
        features = self._call("preprocess_features", raw_tensor)
        shape = getattr(features, "shape", None)
        if shape is None:
            raise InvalidProcessorOutputError(
                f"the processor's preprocess_features returned a {type(features).__name__}, not an array"
            )
        if self._feature_shapes and tuple(shape[1:]) not in self._feature_shapes:
            expected = " or ".join(str(("n", *s)) for s in sorted(self._feature_shapes))
            raise PredictionInputError(
                f"the input preprocessed to shape {tuple(shape)}, but the model was trained on features of "
                f"shape {expected}: check the raw input's shape (rows first)"
            )
        kind = _dtype_kind(getattr(features, "dtype", None))
        if kind is not None and self._feature_kinds and kind not in self._feature_kinds:
            raise PredictionInputError(
                f"the input preprocessed to {_KIND_NAMES[kind]} (dtype {features.dtype}), but the model was trained "
                f"on {' or '.join(sorted(_KIND_NAMES[k] for k in self._feature_kinds))}: check the raw input's values"
            )
        return features

    def _call(self, method: str, *args: Any) -> Any:
        """A processor method; what it raises is wrapped so that callers (the server) can tell bad
        input from a fault of mlops."""
        try:
            return getattr(self.processor, method)(*args)
        except (InvalidProcessorOutputError, PredictionInputError):
            raise
        except Exception as exc:  # noqa: BLE001 - user code: anything can come out of it
            raise ProcessorFailedError(
                f"the dataset's processor failed in {method}: {type(exc).__name__}: {exc}", method=method
            ) from exc


def _checked(model: VersionedModel, dataset: VersionedDataset) -> VersionedDataset:
    """``dataset`` if it holds the data ``model`` was trained on (the hash it recorded)."""
    if not isinstance(dataset, VersionedDataset):
        raise TypeError(f"dataset= takes a VersionedDataset, got {type(dataset).__name__}")
    if dataset.hash != model.dataset_hash:
        raise DatasetChangedError.of(
            f"model {model.name} {model.version} was trained on dataset {model.dataset_version} with content hash "
            f"{model.dataset_hash[:12]}, but the dataset given ({dataset.path}, {dataset.name} {dataset.version}) has "
            f"hash {dataset.hash[:12]}: pass the dataset version the model was trained on",
            dataset,
            model.dataset_hash,
        )
    return dataset


_KIND_NAMES = {"number": "numbers", "text": "text", "object": "Python objects"}


def _dtype_kind(dtype: Any) -> str | None:
    """What a dtype holds, coarsely (numbers, text or objects): numbers of any width or sign pass
    for one another (processors cast), text where numbers were trained on does not."""
    if dtype is None:
        return None
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # a framework's dtype numpy does not know (a dask/arrow extension type...)
        return None
    return {"b": "number", "i": "number", "u": "number", "f": "number", "c": "number", "U": "text", "S": "text",
            "O": "object"}.get(kind)  # fmt: skip


def _as_array(value: Any) -> Any:
    """``value`` as an array: arrays (numpy, dask, tables) pass through, lists become numpy."""
    if isinstance(value, (str, bytes, bytearray, os.PathLike)):
        raise PredictionInputError(
            f"a raw feature tensor must be an array, got a {type(value).__name__}; to predict on files, "
            "use predict_path"
        )
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return value
    if isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError as exc:  # ragged nested lists
            raise PredictionInputError(f"the raw feature tensor is not rectangular: {exc}") from None
        if array.dtype == object:
            raise PredictionInputError("the raw feature tensor is not rectangular or mixes types (an object array)")
        return array
    raise PredictionInputError(f"a raw feature tensor must be an array or a nested list, got {type(value).__name__}")
