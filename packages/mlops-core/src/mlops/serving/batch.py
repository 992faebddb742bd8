"""Batch scoring (``mlops predict``): a :class:`~mlops.serving.predictor.Predictor` run over the raw
data at a path, its answer written to one file whose extension chooses the format.

In memory (the processor returns numpy arrays), the whole input is predicted at once and written
as ``.npy``, ``.csv``, ``.json``, ``.parquet`` or ``.zarr``. When the processor returns dask arrays,
the input is scored block by block along its rows on the active Dask scheduler (a
``distributed.Client`` if one is active, else dask's local threads): each block is preprocessed,
predicted and written into a Zarr group by the worker that computed it, so no process ever holds
more than a few blocks (memory O(block)); each worker loads the model once. The output is written
under a temporary name beside ``out`` and renamed into place when complete: a failed run leaves no
partial output under the name asked for.

What is written (the same in every format): ``predictions``, the model's output, and, when the
dataset's processor is invertible, ``labels`` (``unpreprocess_labels`` of the predictions). A
``.npy`` file holds one array, the *answer*: the labels for an invertible processor, else the
predictions. ``.csv`` and ``.parquet`` have one row per input row and the columns ``prediction``
(or ``prediction_0``, ``prediction_1``... when each row's output is a vector) then ``label`` (or
``label_0``...). ``.json`` is ``{"predictions": [...], "labels": [...]}`` as ``mlops serve``
answers. ``.zarr`` is a Zarr v3 group with the arrays ``predictions`` and ``labels``.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops.dataset.lazy import active_client, is_dask_array
from mlops.errors import MissingDependencyError, PredictionInputError, PredictionOutputError
from mlops.serving.predictor import Prediction, Predictor
from mlops.store import Location
from mlops.utils import progress
from mlops.utils.install import install_command

__all__ = ["FORMATS", "BatchResult", "output_format", "predict_to_file"]

FORMATS = (".npy", ".csv", ".json", ".parquet", ".zarr")
"""The output formats, chosen by the extension of the output path."""
ROW_BLOCK_BYTES = 64 * 2**20
"""Rows of a dask input are scored in blocks of about this many bytes of preprocessed features,
unless the processor's own row chunks are larger (they are kept then: rechunking cannot shrink
what the processor computes in one task)."""


@dataclass(frozen=True)
class BatchResult:
    """What :func:`predict_to_file` wrote."""

    path: str
    format: str
    rows: int
    labels: bool
    """Whether labels were written (the processor is invertible)."""
    blocks: int = 1
    """How many blocks were scored (1 in memory)."""

    def to_json(self) -> dict[str, Any]:
        """The fields, in order (all plain JSON types)."""
        return asdict(self)


def output_format(out: str | os.PathLike[str]) -> str:
    """The format of the output path ``out`` (its extension, one of :data:`FORMATS`), or
    :class:`~mlops.errors.PredictionOutputError` saying which are known; checked before any work."""
    text = os.fspath(out)
    if "://" in text:
        raise PredictionOutputError(f"the output must be a local path, got the URL {text!r}")
    suffix = Path(text).suffix.lower()
    if suffix not in FORMATS:
        raise PredictionOutputError(
            f"cannot tell the output format of {text!r} from its extension {suffix or '(none)'!r}: "
            f"end it in one of {', '.join(FORMATS)}"
        )
    return suffix.lstrip(".")


def predict_to_file(
    predictor: Predictor,
    raw_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    show_progress: bool | None = None,
) -> BatchResult:
    """Score the raw data at ``raw_path`` (read by the processor's ``get_raw_features``) and write the
    predictions (and labels) to ``out``, whose extension chooses the format (see the module).

    An existing ``out`` is refused (:class:`~mlops.errors.PredictionOutputError`) unless
    ``overwrite``; it is replaced only once the new output is complete. A dask input is scored
    block by block and must be written as ``.zarr``."""
    fmt = output_format(out)
    target = Path(out)
    _check_target(target, overwrite)
    raw = predictor.raw_input(predictor.read_raw(raw_path))
    if is_dask_array(raw):
        if fmt != "zarr":
            raise PredictionOutputError(
                f"the processor returned a dask array (data scored block by block, possibly larger than memory): "
                f"the output must be a Zarr folder ending in .zarr, not {target.name!r} "
                f"(e.g. -o {target.with_suffix('.zarr')})"
            )
        return _predict_dask(predictor, raw, target, overwrite=overwrite, show_progress=show_progress)
    prediction = predictor.predict_raw(raw)
    with _atomic(target, overwrite, directory=fmt == "zarr") as temporary:
        WRITERS[fmt](temporary, prediction)
    return BatchResult(os.fspath(target), fmt, len(prediction.predictions), prediction.labels is not None)


# --- in-memory formats -----------------------------------------------------------------------------------


def answer(prediction: Prediction) -> np.ndarray:
    """The labels when there are some (an invertible processor), else the predictions."""
    return prediction.predictions if prediction.labels is None else prediction.labels


def _write_npy(path: Path, prediction: Prediction) -> None:
    with open(path, "wb") as f:
        np.save(f, answer(prediction), allow_pickle=False)


def _write_json(path: Path, prediction: Prediction) -> None:
    document: dict[str, Any] = {"predictions": prediction.predictions.tolist()}
    if prediction.labels is not None:
        document["labels"] = prediction.labels.tolist()
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, allow_nan=True)


def columns(prediction: Prediction) -> dict[str, np.ndarray]:
    """The table of the CSV and Parquet outputs: one 1-D column per output value of a row."""
    table: dict[str, np.ndarray] = {}
    parts = [("prediction", prediction.predictions), ("label", prediction.labels)]
    for name, values in parts:
        if values is None:
            continue
        flat = values.reshape(len(values), -1) if values.ndim != 1 else values[:, None]
        if values.ndim == 1:
            table[name] = flat[:, 0]
        else:
            for i in range(flat.shape[1]):
                table[f"{name}_{i}"] = flat[:, i]
    return table


def _write_csv(path: Path, prediction: Prediction) -> None:
    import csv

    table = columns(prediction)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(table)
        # tolist gives Python scalars, whose str is the shortest text that reads back to the same value
        writer.writerows(zip(*(column.tolist() for column in table.values()), strict=True))


def _write_parquet(path: Path, prediction: Prediction) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError(
            f"writing Parquet needs pyarrow ({exc}); run: {install_command('tables')}, or choose .csv or .npy"
        ) from exc
    table = columns(prediction)
    pq.write_table(pa.table({name: pa.array(column) for name, column in table.items()}), path)


def _write_zarr(path: Path, prediction: Prediction) -> None:
    group = _zarr_group(path)
    arrays = [("predictions", prediction.predictions), ("labels", prediction.labels)]
    for name, values in arrays:
        if values is not None:
            created = _create_array(group, name, values.shape, values.shape or (1,), values.dtype)
            created[...] = _for_zarr(values)


WRITERS: dict[str, Callable[[Path, Prediction], None]] = {
    "npy": _write_npy,
    "json": _write_json,
    "csv": _write_csv,
    "parquet": _write_parquet,
    "zarr": _write_zarr,
}


# --- block by block (dask) ------------------------------------------------------------------------------


def _predict_dask(
    predictor: Predictor, raw: Any, target: Path, *, overwrite: bool, show_progress: bool | None
) -> BatchResult:
    features = predictor.preprocess(raw)
    if not is_dask_array(features):
        raise PredictionInputError(
            "the processor's get_raw_features returned a dask array but preprocess_features turned it into a "
            f"{type(features).__name__}: it must keep it a dask array to score it block by block"
        )
    if any(np.isnan(c) for c in features.chunks[0]):
        features = features.compute_chunk_sizes()
    rows = int(features.shape[0])
    if rows == 0:
        raise PredictionInputError("the input has no rows to predict")
    features = _row_blocks(features)
    # One row, predicted here, tells the shape and type of what every block writes.
    sample = predictor.predict_preprocessed(np.asarray(features[:1].compute()))
    spec = _spec(predictor)
    _PREDICTORS.setdefault(spec.key, predictor)  # blocks scored in this process (local threads) reuse it
    block_rows = features.chunks[0][0]
    with _atomic(target, overwrite, directory=True) as temporary:
        group = _zarr_group(temporary)
        arrays = {"predictions": sample.predictions}
        if sample.labels is not None:
            arrays["labels"] = sample.labels
        created = {
            name: _create_array(group, name, (rows, *values.shape[1:]), (block_rows, *values.shape[1:]), values.dtype)
            for name, values in arrays.items()
        }
        done = features.map_blocks(
            _score_block,
            spec,
            created,
            dtype=np.int64,
            chunks=((1,) * len(features.chunks[0]),),
            drop_axis=list(range(1, features.ndim)),
            meta=np.empty((0,), dtype=np.int64),
        )
        sizes = [int(c * np.prod(features.shape[1:]) * features.dtype.itemsize) for c in features.chunks[0]]
        _run_blocks(done, sizes, predictor, show_progress)
    return BatchResult(os.fspath(target), "zarr", rows, sample.labels is not None, blocks=len(sizes))


def _row_blocks(features: Any) -> Any:
    """``features`` cut along rows only, in regular blocks (the Zarr chunks they are written to)."""
    row_bytes = max(1, int(np.prod(features.shape[1:])) * features.dtype.itemsize)
    rows = max(max(features.chunks[0]), ROW_BLOCK_BYTES // row_bytes)
    return features.rechunk({0: min(rows, int(features.shape[0])), **{i: -1 for i in range(1, features.ndim)}})


def _run_blocks(done: Any, sizes: list[int], predictor: Predictor, show_progress: bool | None) -> None:
    """Compute the block tasks, each block's bytes reported to the progress bar as it finishes."""
    import dask

    blocks = done.to_delayed().ravel().tolist()
    total = sum(sizes)
    with progress.task(f"predict {predictor.model.version}", total, show_progress):
        advance = progress.advancer()
        client = active_client()
        if client is not None:
            import distributed

            futures = client.compute(blocks)
            by_key = {future.key: size for future, size in zip(futures, sizes, strict=True)}
            for finished in distributed.as_completed(futures):  # type: ignore[no-untyped-call]
                finished.result()  # raises the block's error here
                advance(by_key[finished.key])
            return
        from dask.callbacks import Callback

        keys = {block.key: size for block, size in zip(blocks, sizes, strict=True)}

        def finished_task(key: Any, *_: Any) -> None:
            if key in keys:
                advance(keys[key])

        with Callback(posttask=finished_task):  # type: ignore[no-untyped-call]
            dask.compute(*blocks)


def _score_block(block: np.ndarray, spec: _Spec, arrays: dict[str, Any], block_info: Any = None) -> np.ndarray:
    """Predict one block of preprocessed rows and write it where it belongs in the Zarr arrays."""
    start, stop = block_info[0]["array-location"][0]
    predictor = _predictor(spec)
    with _PREDICTING:  # one block at a time per process: not every model (nor processor) is thread-safe
        prediction = predictor.predict_preprocessed(block)
    if len(prediction.predictions) != stop - start:
        raise PredictionInputError(
            f"the model returned {len(prediction.predictions)} predictions for a block of {stop - start} rows"
        )
    arrays["predictions"][start:stop] = _for_zarr(prediction.predictions)
    if "labels" in arrays and prediction.labels is not None:
        arrays["labels"][start:stop] = _for_zarr(prediction.labels)
    return np.array([stop - start], dtype=np.int64)


@dataclass(frozen=True)
class _Spec:
    """What a worker needs to open the predictor: the model's location, the trust policy's public
    keys (path and PEM: key objects do not pickle) and the input name. Its :attr:`key` (plain
    strings) finds the predictor opened in a process."""

    location: Location
    keys: tuple[tuple[str, bytes], ...] | None
    input: str | None
    hash: str

    @property
    def key(self) -> tuple[str, str, str, tuple[bytes, ...]]:
        return (self.location.url, self.hash, self.input or "", tuple(pem for _, pem in self.keys or ()))

    def policy(self) -> Any:
        """The trust policy these keys make (``None`` when none was in force where the run started)."""
        if self.keys is None:
            return None
        from cryptography.hazmat.primitives import serialization

        from mlops.trust.keys import TrustedKey, fingerprint
        from mlops.trust.policy import TrustPolicy

        loaded = [(path, serialization.load_pem_public_key(pem)) for path, pem in self.keys]
        return TrustPolicy(tuple(TrustedKey(path, key, fingerprint(key)) for path, key in loaded))  # type: ignore[arg-type]


_PREDICTORS: dict[tuple[str, str, str, tuple[bytes, ...]], Predictor] = {}
"""The predictors opened in this process, by :attr:`_Spec.key`: each worker loads a model once."""
_LOADING = threading.Lock()
_PREDICTING = threading.Lock()


def _spec(predictor: Predictor) -> _Spec:
    model = predictor.model
    policy = model._policy
    keys = None
    if policy is not None:
        from mlops.trust.keys import public_pem

        keys = tuple((key.path, public_pem(key.key)) for key in policy.keys)
    return _Spec(model._loc, keys, predictor.input, model.hash)


def _predictor(spec: _Spec) -> Predictor:
    """The predictor of ``spec`` in this process, opened (and verified) once per process."""
    found = _PREDICTORS.get(spec.key)
    if found is not None:
        return found
    with _LOADING:
        if spec.key not in _PREDICTORS:
            from mlops.model.versioned_model import VersionedModel

            model = VersionedModel(spec.location, trusted_keys=spec.policy())
            _PREDICTORS[spec.key] = Predictor(model, input=spec.input)
        return _PREDICTORS[spec.key]


# --- writing ------------------------------------------------------------------------------------------------


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise PredictionOutputError(f"{target} already exists: choose another output, or overwrite it with --force")
    if not target.parent.is_dir():
        raise PredictionOutputError(f"the folder {target.parent} of the output does not exist")


@contextmanager
def _atomic(target: Path, overwrite: bool, *, directory: bool = False) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed to ``target`` when the block succeeds (removed
    when it fails): readers never see a partial output under the final name."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        yield temporary
        _check_target(target, overwrite)  # another process may have written it meanwhile
        if directory and target.exists():
            old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.replaced")
            os.replace(target, old)
            os.replace(temporary, target)
            _remove(old)
        else:
            os.replace(temporary, target)
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _zarr_group(path: Path) -> Any:
    try:
        import zarr
    except ImportError as exc:
        raise MissingDependencyError(f"writing Zarr needs zarr ({exc}); run: {install_command('dask')}") from exc
    return zarr.open_group(str(path), mode="w-", zarr_format=3)


def _create_array(group: Any, name: str, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: np.dtype[Any]) -> Any:
    text = dtype.kind in "UO"  # class names: variable-length strings (a fixed width could cut longer ones)
    return group.create_array(
        name,
        shape=shape,
        chunks=tuple(max(1, c) for c in chunks) if shape else (),
        dtype=str if text else dtype,
        dimension_names=["row", *(f"{name}_{i}" for i in range(1, len(shape)))] if shape else None,
    )


def _for_zarr(values: np.ndarray) -> np.ndarray:
    return values.astype(object) if values.dtype.kind == "U" else values
