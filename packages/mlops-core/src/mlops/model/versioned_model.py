"""Loading a published model without knowing its framework."""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

import numpy as np

from mlops.dataset import by_value as pickling
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import DatasetChangedError, ModelInputError, PythonVersionMismatchError
from mlops.metadata import ModelRecord
from mlops.model.serializer import ModelSerializer
from mlops.model.training_config import TrainingConfig

# plugin contract: serializers come from plugins (mlops_register_serializers)
from mlops.plugins import manager as plugins  # noqa: I001
from mlops.store import resolve_in
from mlops.utils.progress import task as progress_task
from mlops.versions import environment as recorded
from mlops.versions.published import PublishedVersion, pickle_files


class VersionedModel(PublishedVersion[ModelRecord]):
    """A published model version, opened from a local path or any fsspec URL.

    Opening reads meta.json only. ``model`` loads the native object on first use through the
    serializer named in meta.json, after every file has been verified against its sha256;
    ``predict`` runs it on numpy features whatever the framework.
    """

    kind = "model"

    @property
    def serializer_name(self) -> str:
        return self.record.serializer.name

    def __repr__(self) -> str:
        return (
            f"VersionedModel({self.path!r}, name={self.name!r}, version={self.version!r}, "
            f"serializer={self.serializer_name!r})"
        )

    # --- lineage and training ---------------------------------------------------------------------------

    @property
    def dataset_path(self) -> str:
        """Path of the dataset version this model was trained on."""
        return self.record.dataset.path

    @property
    def dataset_version(self) -> str:
        return self.record.dataset.version

    @property
    def dataset_hash(self) -> str:
        return self.record.dataset.hash

    @cached_property
    def dataset(self) -> VersionedDataset:
        """The dataset this model was trained on, opened from :attr:`dataset_path` (with this
        model's storage options when it is on the same kind of store), held to this model's trust policy.

        The link is checked by content: when the version there now has another hash than the one
        recorded at publish (it was removed and other data published under its name), this raises
        :class:`~mlops.errors.DatasetChangedError` instead of returning data the model never saw."""
        link = self.record.dataset
        found = VersionedDataset(resolve_in(self._loc, link.path), trusted_keys=self._policy)
        if found.hash != link.hash:
            raise DatasetChangedError.of(
                f"model {self.name} {self.version} ({self.path}) was trained on dataset "
                f"{link.name or found.name} {link.version} with content hash {link.hash[:12]}, but {found.path} "
                f"now holds other data (hash {found.hash[:12]}, {found.name} {found.version} created "
                f"{found.created_at}): the version was removed and another published under its name. To use "
                f"that data anyway, open it on purpose: VersionedDataset({found.path!r})",
                found,
                link.hash,
            )
        return found

    @cached_property
    def training_config(self) -> TrainingConfig:
        return TrainingConfig.from_json(self.record.training)

    @property
    def history(self) -> dict[str, Any] | None:
        return self.training_config.history

    @property
    def train_args(self) -> dict[str, Any]:
        return self.training_config.train_args

    # --- the model ------------------------------------------------------------------------------------

    @cached_property
    def serializer(self) -> ModelSerializer:
        """The installed serializer that saved this model (an install hint if it is missing)."""
        info = self.record.serializer
        return plugins.serializer_named(info.name, info.distribution)

    @cached_property
    def model(self) -> Any:
        """The native model object (``keras.Model``, ``torch.nn.Module``, sklearn estimator...)."""
        serializer = self.serializer
        try:
            if getattr(serializer, "pickles_code", False):
                pickling.check_python_version(self.record.libraries.get("python"), f"model {self.path}")
            with (
                progress_task(f"load {self.version}", sum(e.size for e in self._manifest.values())),
                self._loc.store.local_folder(self._loc, self._manifest) as directory,
            ):
                self._warn_if_environment_differs(directory)
                return serializer.load(directory)
        except PythonVersionMismatchError as exc:  # ours, or raised from inside a pickle (mlops-sklearn)
            raise recorded.with_hint(exc, self.path, self.kind) from None

    def _warn_if_environment_differs(self, directory: str) -> None:
        """One :class:`~mlops.errors.EnvironmentMismatchWarning` when the model is pickled and the
        distributions that matter for it differ from the recorded environment."""
        pickles = pickle_files(self)
        if not pickles or self.environment is None:
            return

        def read(relpath: str) -> bytes:
            with open(os.path.join(directory, *relpath.split("/")), "rb") as file:
                return file.read()

        recorded.warn_if_different(
            self.environment, self.record, self.path, f"model {self.path}", map(read, pickles), stacklevel=4
        )

    def predict(self, features: Any) -> np.ndarray:
        """Predictions of the model for ``features``: a numpy array, a table (a pandas or polars
        DataFrame, a pyarrow Table), or the single-tensor dict that
        ``data_processor.get_preprocessed_features`` returns (e.g. ``{'X_pred': ...}``).

        Tables go to the model's plugin as given: scikit-learn, XGBoost and LightGBM models check
        their columns against those they were trained on (missing, extra or reordered columns
        raise :class:`~mlops.errors.FeatureColumnsError`); torch and Keras models read their
        numeric columns.

        A str, bytes or path is refused with :class:`~mlops.errors.ModelInputError` before the
        model sees it (some frameworks would read it as a file name or URI)."""
        if isinstance(features, dict):
            for name, value in features.items():
                _check_features(value, f"features[{name!r}]")
            if len(features) != 1:
                raise ValueError(
                    f"predict takes one feature tensor; got a dict with {sorted(features)}: "
                    "pass one of them, e.g. features['X_pred']"
                )
            (features,) = features.values()
        else:
            _check_features(features, "features")
        return np.asarray(self.serializer.predict(self.model, features))

    def plot_history(self, out: str | os.PathLike[str] = "history.png") -> str:
        """Draw the training curves stored in meta.json into the image ``out`` (format from its
        extension) and return its path. Needs matplotlib (mlops-core's ``plot`` extra)."""
        from mlops.model.plotting import plot_history

        return plot_history(self.history, out, title=f"{self.name} {self.version}")


def _check_features(features: Any, what: str) -> None:
    """Refuse text, bytes and paths as features: XGBoost, for one, reads a string as a data file's URI."""
    if isinstance(features, (str, bytes, bytearray, os.PathLike)):
        shown = repr(os.fspath(features) if isinstance(features, os.PathLike) else features)
        raise ModelInputError(
            f"predict takes features as arrays (numpy, or DataFrames where the model's plugin accepts them); "
            f"{what} is a {type(features).__name__} ({shown[:80]}), which is neither read nor passed to the "
            "model. To predict from files, load them first, e.g. "
            "features = model.dataset.data_processor.get_preprocessed_features(path)"
        )
