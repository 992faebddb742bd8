"""Every exception mlops raises on purpose (and the one warning class about environments).

All derive from :class:`MlopsError`, so ``except MlopsError`` catches any failure the library
reports; where a builtin fits, the class also subclasses it (``FileExistsError``, ``ValueError``...)
so generic handlers keep working. Messages say what went wrong and what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class MlopsError(Exception):
    """Base class of every error raised by mlops."""


# --- bad input, raised before anything is written -------------------------------------------------


class InvalidVersionError(MlopsError, ValueError):
    """Raised by ``publish`` when a version string is empty, hidden or could escape its folder."""


class InvalidPathError(MlopsError, ValueError):
    """Raised when a path or URL holds what no store can hold (a control character, a name too long
    for the disk), before anything is written."""


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


class UnsafeLinkError(MlopsError, ValueError):
    """Raised by ``publish`` when the raw folder holds a symbolic link that leads outside it (unless
    ``follow_symlinks=True``), a broken link, or a link loop."""


class SpecialFileError(MlopsError, ValueError):
    """Raised by ``publish`` when the raw folder holds a named pipe, a socket or a device: only regular
    files and folders can be copied (reading a pipe would wait forever for a writer)."""


class MaskedTensorError(MlopsError, TypeError):
    """Raised when a processor returns a ``numpy.ma.MaskedArray``: its mask would be lost in ``.npy``."""


class TableColumnError(InvalidProcessorOutputError, ValueError):
    """Raised when a table a processor returns cannot be stored as Parquet as it is (a column of mixed
    Python objects, duplicate or non-string column names, an index Parquet cannot hold); names the column."""


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


class DatasetChangedError(MlopsError):
    """Raised by ``VersionedModel.dataset`` when the dataset path now holds other content than the model's."""

    # recorded / found: the content hashes in the model's link and in the dataset there now; path: that
    # dataset's URL; dataset: the VersionedDataset found there (opened, for tools that report the change).
    def __init__(self, message: str, *, path: str, recorded: str, found: str, dataset: Any) -> None:
        super().__init__(message)
        self.path = path
        self.recorded = recorded
        self.found = found
        self.dataset = dataset

    @classmethod
    def of(cls, message: str, dataset: Any, recorded: str) -> DatasetChangedError:
        """The error for ``dataset`` (a VersionedDataset whose hash is not ``recorded``): its path,
        its hash as ``found`` and itself, from the dataset."""
        return cls(message, path=dataset.path, recorded=recorded, found=dataset.hash, dataset=dataset)


class PythonVersionMismatchError(MlopsError):
    """Raised when a by-value pickle written by another Python minor version would be loaded."""


class StoreError(MlopsError, OSError):
    """Raised when the store fails mid-operation (network error, permission denied...)."""


# --- signing and trust -----------------------------------------------------------------------------


class UntrustedVersionError(IntegrityError):
    """Raised under a trust policy when a version's signature does not prove every file came from a trusted key."""

    # An IntegrityError, so every handler that refuses a damaged version refuses an untrusted one too.
    # reason: "unsigned", "untrusted-key", "malformed", "not-covered", "hash-mismatch" or "missing";
    # file: the file concerned; key: the signer's fingerprint (sha256 of its public key PEM), when known.
    def __init__(self, message: str, *, reason: str, file: str | None = None, key: str | None = None) -> None:
        super().__init__(message, file=file)
        self.reason = reason
        self.key = key


class SigningKeyError(MlopsError, ValueError):
    """Raised when a key file cannot be used (not PEM, not P-256, the wrong half) or ``MLOPS_SIGNING_KEY`` is blank."""


class KeyFileNotFoundError(SigningKeyError, FileNotFoundError):
    """Raised when a signing or trusted key file does not exist."""


class InsecureKeyFileError(SigningKeyError, PermissionError):
    """Raised when a private key file is readable or writable by group or others (it must be mode 0600)."""


class KeyPasswordError(SigningKeyError):
    """Raised when a private key is encrypted and no passphrase, or a wrong one, is given."""


class KeyExistsError(SigningKeyError, FileExistsError):
    """Raised by ``mlops keygen`` when a key file of that name already exists (``--force`` replaces it)."""


class SignedVersionError(MlopsError):
    """Raised when changing a signed version (its tags) without a key to sign it again."""


class SignatureExistsError(MlopsError, FileExistsError):
    """Raised when signing a version that already has an ``mlops.sig``."""


class TrustPolicyError(MlopsError, ValueError):
    """Raised when ``trusted_keys`` or ``MLOPS_TRUSTED_KEYS`` is given (set) but names no key file."""


class PickleInspectionError(MlopsError, ValueError):
    """Raised by ``mlops inspect`` when a file is not a pickle it can read (truncated, or an unknown container)."""


# --- plugins and models ----------------------------------------------------------------------------


class PluginError(MlopsError):
    """Raised when a plugin misbehaves (registers a bad object, clashes with another plugin)."""


class NoSerializerError(MlopsError, TypeError):
    """Raised by ``VersionedModelBuilder`` when no installed serializer can save the model."""


class ModelSerializationError(MlopsError):
    """Raised by a serializer plugin when a model cannot be saved or loaded (say what to change)."""


class SerializerNotInstalledError(MlopsError, ImportError):
    """Raised by ``VersionedModel`` when the serializer that saved a model is not installed."""


class UnfittedModelError(ModelSerializationError, ValueError):
    """Raised by the XGBoost and LightGBM serializers when asked to publish a model never fitted."""


class ModelCodeNotStorableError(ModelSerializationError, TypeError):
    """Raised by a no-pickle serializer when a model holds Python code (e.g. a custom objective)."""


class UnknownModelClassError(ModelSerializationError):
    """Raised when a saved model names a class that the installed plugin version cannot rebuild."""


class InvalidOnnxModelError(ModelSerializationError, ValueError):
    """Raised by the ONNX serializer, before anything is written, for a graph ONNX's checker rejects."""


class OnnxExternalDataError(ModelSerializationError, ValueError):
    """Raised by the ONNX serializer when a tensor's data is in an external file the model in memory does not hold."""


class OnnxModelTooLargeError(ModelSerializationError, ValueError):
    """Raised by the ONNX serializer when a graph is over protobuf's 2 GB limit even with its initializers apart."""


class ModelInputError(MlopsError, ValueError):
    """Raised by ``predict`` for features that are not arrays (str, bytes, a path) or do not fit an ONNX input."""


class PredictionInputError(ModelInputError):
    """Raised by ``Predictor`` (and ``mlops predict``/``serve``) for raw input it cannot use: a missing,
    unknown or ambiguous tensor name, a ragged list, a shape the model was not trained on."""


class PredictionOutputError(MlopsError, ValueError):
    """Raised by ``mlops predict`` (and its batch writer) for an output it cannot write: an unknown
    extension, an existing file without ``--force``, a dask input whose output is not Zarr."""


class ExportError(MlopsError, ValueError):
    """Raised by ``mlops export`` for a target it cannot write (an unknown format, an existing folder)
    and, when an exported model is loaded, for a copy that is not what was exported."""


class ProcessorFailedError(MlopsError):
    """Raised by ``Predictor`` when the dataset's processor raises on the input given (the cause is chained)."""

    def __init__(self, message: str, *, method: str) -> None:
        super().__init__(message)
        self.method = method


class FeatureColumnsError(ModelInputError):
    """Raised by ``predict`` when a table's columns are not the ones the model was trained on, in that
    order (``missing``, ``extra``, ``expected`` and ``given`` list them), or not as many as it takes."""

    def __init__(
        self,
        message: str,
        *,
        expected: list[str] | None = None,
        given: list[str] | None = None,
        missing: list[str] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.given = given
        self.missing = missing or []
        self.extra = extra or []


# --- registry and tooling ---------------------------------------------------------------------------


class RootNotFoundError(MlopsError, FileNotFoundError):
    """Raised when listing a publication root that does not exist (a typo in a bucket or folder name)."""


class NoVersionsError(MlopsError, LookupError):
    """Raised by ``latest`` (and the ``mlops`` tool) when a root holds no complete version to pick."""


class MissingDependencyError(MlopsError, ImportError):
    """Raised when an optional feature's library is not installed (the message gives the pip command)."""


class PlotError(MlopsError, ValueError):
    """Raised by ``plot_history`` when a model has no numeric training history to draw."""


class CatalogServerError(MlopsError, OSError):
    """Raised by ``mlops ui`` when the catalog server cannot listen on the requested address."""


# --- training from datasets, and the code models need -------------------------------------------------


class DatasetAdapterNotInstalledError(MlopsError, ImportError):
    """Raised by ``torch_dataset``/``keras_dataset`` when no installed plugin adapts datasets to that framework."""


class TensorLengthMismatchError(MlopsError, ValueError):
    """Raised by dataset adapters when the tensors named together do not have the same number of rows."""


class NonNumericColumnError(MlopsError, TypeError):
    """Raised when a table is read as a tensor (``torch_dataset``, ``keras_dataset``, a model's
    ``predict``) and a column is not float, integer or bool, or is an integer or bool column with
    missing values; ``tensor`` and ``column`` name it."""

    def __init__(self, message: str, *, tensor: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.tensor = tensor
        self.column = column


class ModelCodeMissingError(MlopsError, ImportError):
    """Raised by a serializer when a model's class or function is neither stored by value nor importable."""


# --- removing versions ------------------------------------------------------------------------------


class VersionInUseError(MlopsError, PermissionError):
    """Raised by ``remove_version(..., if_unused_by=MODELS_ROOT)`` when a model there was trained on the dataset."""


class NotAVersionFolderError(MlopsError, ValueError):
    """Raised before anything is deleted when a folder is not one mlops can identify as a version's
    (no meta.json, no publish claim), or when it holds versions of its own (a publication root)."""


class NotAPublicationRootError(MlopsError, ValueError):
    """Raised by ``remove_incomplete`` (``mlops clean``) when the folder given is not a publication root."""


# --- aliases and retention ----------------------------------------------------------------------------


class InvalidAliasError(MlopsError, ValueError):
    """Raised when an alias name cannot be one folder name in a store, or holds ``@``."""


class AliasNotFoundError(VersionNotFoundError):
    """Raised when a root has no alias of that name, or the alias was removed (``ROOT@ALIAS`` then
    names no version, hence a :class:`VersionNotFoundError`)."""


class AliasConflictError(MlopsError):
    """Raised by ``set_alias(..., expect=...)`` and ``remove_alias(..., expect=...)`` when the alias
    no longer names the expected version (another process moved it): read it again and retry."""

    # current: the version the alias names now (None when it names none)
    def __init__(self, message: str, *, current: str | None = None) -> None:
        super().__init__(message)
        self.current = current


class ProtectedAliasError(MlopsError, PermissionError):
    """Raised when moving, unprotecting or removing a protected alias without ``force=True``."""


class AliasRecordError(MetadataError):
    """Raised when an alias record (``_aliases/NAME/000042.json``) is unreadable or describes another alias."""


class RetentionPolicyError(MlopsError, ValueError):
    """Raised by ``gc`` when no retention rule is given (it would remove every version) or a rule is invalid."""


# --- the environment a version was published from ------------------------------------------------------


class EnvironmentMismatchWarning(UserWarning):
    """Warned when a pickled processor or model is loaded where distributions that matter for it
    (the Python minor, its framework, numpy, what its pickles reference) differ from the recorded
    ones; ``differences`` lists them, the message gives the command that runs the version in its own
    environment."""

    def __init__(self, message: str, differences: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.differences = list(differences)


class NoEnvironmentError(MlopsError, LookupError):
    """Raised by ``mlops env`` when a version holds no recorded environment (published before mlops recorded it)."""


class EnvironmentCreationError(MlopsError):
    """Raised by ``mlops env --create`` when the recorded environment cannot be built (says what, and what to do)."""


class InterpreterNotFoundError(EnvironmentCreationError):
    """Raised by ``mlops env --create`` when no interpreter of the recorded Python minor is installed or obtainable."""
