"""Every exception mlops raises on purpose.

All derive from :class:`MlopsError`, so ``except MlopsError`` catches any failure the library
reports; where a builtin fits, the class also subclasses it (``FileExistsError``, ``ValueError``...)
so generic handlers keep working. Messages say what went wrong and what to do next.
"""

from __future__ import annotations


class MlopsError(Exception):
    """Base class of every error raised by mlops."""


# --- bad input, raised before anything is written -------------------------------------------------


class InvalidVersionError(MlopsError, ValueError):
    """Raised by ``publish`` when a version string is empty, hidden or could escape its folder."""


class InvalidNameError(MlopsError, ValueError):
    """Raised by ``publish`` when a dataset or model name is not a plain, non-empty string."""


class InvalidTagsError(MlopsError, ValueError):
    """Raised by ``publish`` when tags are not a list of non-empty strings."""


class DatasetPathNotFoundError(MlopsError, FileNotFoundError):
    """Raised by ``VersionedDatasetBuilder`` when the raw dataset path does not exist."""


class InvalidProcessorError(MlopsError, TypeError):
    """Raised by ``VersionedDatasetBuilder`` when the processor is not a ``DataProcessor``."""


class InvalidProcessorOutputError(MlopsError, TypeError):
    """Raised when a ``DataProcessor`` returns something other than dicts of numeric numpy arrays."""


class TensorNameError(MlopsError, ValueError):
    """Raised when tensor names collide, are reserved, or are not safe file names."""


class ProcessorSerializationError(MlopsError):
    """Raised when a data processor cannot be pickled (or unpickled) by value."""


class InvalidRawStrategyError(MlopsError, ValueError):
    """Raised by ``publish`` when ``raw`` is not ``'copy'`` or ``'link'``."""


class TrainingConfigError(MlopsError, ValueError):
    """Raised by ``TrainingConfig`` when history or train args cannot be stored as JSON."""


# --- stores and versions ---------------------------------------------------------------------------


class PublicationPathAlreadyExistsError(MlopsError, FileExistsError):
    """Raised by ``publish`` when the version already exists (or another publisher holds it)."""


class VersionNotFoundError(MlopsError, FileNotFoundError):
    """Raised when a path holds no published version (no ``meta.json`` and no trace of one)."""


class IncompleteVersionError(MlopsError):
    """Raised when a version was started but never committed (a crashed or running publish)."""


class MetadataError(MlopsError, ValueError):
    """Raised when ``meta.json`` is unreadable, of an unknown schema, or inconsistent."""


class IntegrityError(MlopsError):
    """Raised when a stored file is missing or its bytes do not match the sha256 in the manifest."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.file = file


class PythonVersionMismatchError(MlopsError):
    """Raised when a by-value pickle written by another Python minor version would be loaded."""


class StoreError(MlopsError, OSError):
    """Raised when the store fails mid-operation (network error, permission denied...)."""


# --- plugins and models ----------------------------------------------------------------------------


class PluginError(MlopsError):
    """Raised when a plugin misbehaves (registers a bad object, clashes with another plugin)."""


class NoSerializerError(MlopsError, TypeError):
    """Raised by ``VersionedModelBuilder`` when no installed serializer can save the model."""


class ModelSerializationError(MlopsError):
    """Raised by a serializer plugin when a model cannot be saved or loaded (say what to change)."""


class SerializerNotInstalledError(MlopsError, ImportError):
    """Raised by ``VersionedModel`` when the serializer that saved a model is not installed."""


# --- registry and tooling ---------------------------------------------------------------------------


class NoVersionsError(MlopsError, LookupError):
    """Raised by ``latest`` (and the ``mlops`` tool) when a root holds no complete version to pick."""


class MissingDependencyError(MlopsError, ImportError):
    """Raised when an optional feature's library is not installed (the message gives the pip command)."""


class PlotError(MlopsError, ValueError):
    """Raised by ``plot_history`` when a model has no numeric training history to draw."""


# --- training from datasets, and the code models need -------------------------------------------------


class DatasetAdapterNotInstalledError(MlopsError, ImportError):
    """Raised by ``torch_dataset``/``keras_dataset`` when no installed plugin adapts datasets to that framework."""


class TensorLengthMismatchError(MlopsError, ValueError):
    """Raised by dataset adapters when the tensors named together do not have the same number of rows."""


class ModelCodeMissingError(MlopsError, ImportError):
    """Raised by a serializer when a model's class or function is neither stored by value nor importable."""
