"""The HTTP face of a :class:`~mlops.serving.predictor.Predictor`: an ASGI app (FastAPI).

Endpoints: ``POST /predict`` (raw feature tensors as JSON), ``POST /predict/files`` (raw files
in a multipart upload, laid out in a temporary folder that the processor's ``get_raw_features``
reads), ``GET /health``, ``GET /metadata``, and the OpenAPI description (``/docs``, ``/openapi.json``).

Every failure is answered ``{"error": "..."}``: 400 for a body that is not what the endpoint
takes, 413 for a body over the limit, 422 for input the model cannot take (shape, dtype, names)
or that the processor failed on, 500 for a fault of the server. Messages never carry a store
path, a server path or a traceback: those go to the server's log (logger ``mlops.serving``).

Predictions run in Starlette's thread pool, never on the event loop, one at a time per process
(a lock): neither the user's processor nor every framework's model is safe to call from several
threads at once. Scale out with worker processes (``mlops serve --workers N``).

FastAPI is imported here, so this module is imported only when serving (``mlops-core[serve]``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mlops._version import __version__
from mlops.errors import InvalidProcessorOutputError, ModelInputError, ProcessorFailedError
from mlops.metadata.names import path_segment_problem
from mlops.serving.config import DEFAULT_MAX_BODY_SIZE, ServeConfig, open_predictor
from mlops.serving.predictor import Prediction, Predictor

__all__ = ["app_from_environment", "create_app"]

logger = logging.getLogger("mlops.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "additionalProperties": False,
    "properties": {
        "inputs": {
            "description": "The raw feature tensors, as the processor's get_raw_features returns them: a "
            "dict of name -> nested lists (rows first), or one nested list.",
            "oneOf": [{"type": "object", "additionalProperties": {"type": "array"}}, {"type": "array"}],
        }
    },
    "example": {"inputs": {"X_pred": [[0.5, 1.25]]}},
}
_FILES_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["files"],
    "properties": {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "Raw files; each one's file name is its path in the folder the processor reads "
            "(e.g. data.csv or images/cat/1.png: relative, no '..', no hidden names).",
        }
    },
}
_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "predictions": {"type": "array", "description": "The model's output, one entry per input row."},
        "labels": {
            "type": "array",
            "description": "The processor's unpreprocess_labels(predictions): only for invertible processors.",
        },
    },
}
_ERROR_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"error": {"type": "string"}}}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"description": "What was wrong", "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
        for status in statuses
    }


# --- errors --------------------------------------------------------------------------------------------------------


class _ClientError(Exception):
    """A request the server refuses: its status and why (the message goes to the client as is)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status_code=status, media_type="application/json")


_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"]+")
_POSIX_PATH = re.compile(r"(?<![\w.:~/-])/(?:[^\s'\"/:,;()\[\]]+/)+[^\s'\"/:,;()\[\]]*")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\[^\s'\";,]*")


def scrub(message: str, known: dict[str, str] | None = None) -> str:
    """``message`` without paths or URLs: the ``known`` ones become their label (the upload folder
    becomes ``<upload>``), any other absolute path ``<path>`` and any URL ``<url>``."""
    for path, label in sorted((known or {}).items(), key=lambda item: -len(item[0])):
        if path:
            message = message.replace(path, label)
    message = _URL.sub("<url>", message)
    message = _WINDOWS_PATH.sub("<path>", message)
    return _POSIX_PATH.sub("<path>", message)


def _failure(exc: Exception, known: dict[str, str] | None = None) -> Response:
    """The answer to an exception raised while predicting: what was wrong, without paths."""
    if isinstance(exc, ProcessorFailedError):
        logger.warning("the processor failed on a request", exc_info=exc)
        return _error(422, scrub(str(exc), known))
    if isinstance(exc, (ModelInputError, InvalidProcessorOutputError)):
        logger.info("refused input: %s", exc)
        return _error(422, scrub(str(exc), known))
    logger.error("prediction failed", exc_info=exc)
    return _error(500, f"the prediction failed ({type(exc).__name__}); the details are in the server's log")


# --- request bodies and answers -------------------------------------------------------------------------------------


def _parse_json(body: bytes) -> Any:
    """The ``inputs`` of a ``/predict`` body, or a 400 saying what is wrong with the body."""
    if not body:
        raise _ClientError(400, 'the body is empty: send JSON such as {"inputs": {"X_pred": [[...]]}}')
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        raise _ClientError(400, "the body is not UTF-8 text") from None
    except ValueError as exc:
        raise _ClientError(400, f"malformed JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _ClientError(400, f'the body must be a JSON object {{"inputs": ...}}, got a JSON {_json_type(document)}')
    if "inputs" not in document:
        raise _ClientError(400, f'the body has no "inputs" (got {sorted(document)}): send {{"inputs": {{...}}}}')
    unknown = sorted(set(document) - {"inputs"})
    if unknown:
        raise _ClientError(400, f'unknown field(s) {unknown} in the body: only "inputs" is read')
    inputs = document["inputs"]
    if not isinstance(inputs, (dict, list)):
        raise _ClientError(
            400,
            f'"inputs" must be an object of name -> nested lists, or one nested list; got a JSON {_json_type(inputs)}',
        )
    return inputs


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _jsonable(array: np.ndarray) -> Any:
    """``array`` as JSON values: numbers, strings (numpy strings and bytes decoded), ``null`` for
    NaN and infinities (which JSON cannot carry)."""
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        finite = np.isfinite(array)
        array = array.astype(object)
        array[~finite] = None
    return array.tolist()


def _default(value: Any) -> Any:
    """What ``json.dumps`` cannot write itself (inside object arrays)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _jsonable(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def encode(prediction: Prediction) -> bytes:
    """The answer's JSON: ``predictions``, and ``labels`` when the processor is invertible."""
    answer: dict[str, Any] = {"predictions": _jsonable(np.asarray(prediction.predictions))}
    if prediction.labels is not None:
        answer["labels"] = _jsonable(np.asarray(prediction.labels))
    try:
        return json.dumps(answer, default=_default, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:  # a NaN inside an object array
        return json.dumps(_finite(answer), default=_default, separators=(",", ":")).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def upload_path(filename: str | None) -> list[str]:
    """The path segments of an uploaded file's name, refused (400) unless it is a safe relative
    path: no absolute path, no ``..``, no hidden or otherwise odd names (the store's name policy)."""
    if not filename:
        raise _ClientError(400, "an uploaded file has no file name: send it as files=@data.csv")
    if "\\" in filename or filename.startswith("/") or re.match(r"[A-Za-z]:", filename):
        raise _ClientError(400, f"refused file name {filename!r}: send a relative path with '/' separators")
    segments = filename.split("/")
    for segment in segments:
        problem = path_segment_problem(segment)
        if problem is not None:
            raise _ClientError(400, f"refused file name {filename!r}: its part {segment!r} {problem}")
    return segments


def _lay_out(uploads: list[tuple[list[str], UploadFile]], folder: str) -> None:
    """Write the uploaded files into ``folder`` (their names checked by :func:`upload_path`)."""
    for segments, upload in uploads:
        target = os.path.join(folder, *segments)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "xb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out)


# --- the body size limit ------------------------------------------------------------------------------------------


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is answered 413. A declared ``Content-Length``
    over it is refused before anything is read; a chunked body is counted as it arrives."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = _error(413, self._message())
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _ClientError(413, self._message())  # answered by the app's handler
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the body is larger than this server's limit of {self.limit} bytes (mlops serve --max-body-size)"


# --- the app -------------------------------------------------------------------------------------------------------


def model_metadata(predictor: Predictor, *, signed: bool) -> dict[str, Any]:
    """What ``GET /metadata`` answers: the model and dataset versions served (never their paths)."""
    model, dataset = predictor.model, predictor.dataset

    def version(v: Any, **extra: Any) -> dict[str, Any]:
        info = {"name": v.name, "version": v.version, "hash": v.hash, "created_at": v.created_at}
        return info | extra | ({"signer": v.signer} if signed else {})

    return {
        "model": version(model, serializer=model.serializer_name),
        "dataset": version(dataset),
        "input": predictor.input,
        "invertible": predictor.invertible,
        "trust_policy": signed,
        "mlops_version": __version__,
    }


def create_app(predictor: Predictor, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> FastAPI:
    """The ASGI app serving ``predictor`` (already opened: the model loads once per process)."""
    model = predictor.model
    signed = model.signer is not None
    metadata = model_metadata(predictor, signed=signed)
    known = {model.path: "<model>", predictor.dataset.path: "<dataset>"}
    lock = threading.Lock()

    def predict(raw: Any) -> Prediction:
        with lock:
            return predictor.predict_raw(raw)

    def predict_body(body: bytes) -> bytes:
        return encode(predict(_parse_json(body)))

    def predict_files(uploads: list[tuple[list[str], UploadFile]], folder: str) -> bytes:
        try:
            _lay_out(uploads, folder)
            with lock:
                prediction = predictor.predict_path(folder)
            return encode(prediction)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    app = FastAPI(
        title=f"mlops serve: {model.name} {model.version}",
        version=__version__,
        description=f"Predictions of model {model.name} {model.version} ({model.serializer_name}), on raw data "
        f"preprocessed by the processor of dataset {predictor.dataset.name} {predictor.dataset.version}.",
    )
    app.add_middleware(BodyLimit, limit=max_body_size)  # type: ignore[arg-type]

    async def client_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _ClientError)
        return _error(exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _error(exc.status_code, str(exc.detail))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _error(422, "; ".join(str(e.get("msg", e)) for e in exc.errors()))

    async def health() -> dict[str, str]:
        return {"status": "ok"}

    async def get_metadata() -> dict[str, Any]:
        return metadata

    async def predict_json(request: Request) -> Response:
        body = await request.body()
        try:
            answer = await run_in_threadpool(predict_body, body)
        except _ClientError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON answer
            return _failure(exc, known)
        return Response(answer, media_type="application/json")

    async def predict_upload(request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise _ClientError(400, "send the raw files as multipart/form-data (curl -F files=@data.csv)")
        async with request.form() as form:
            uploads: list[tuple[list[str], UploadFile]] = []
            for field, value in form.multi_items():
                if not isinstance(value, UploadFile):
                    raise _ClientError(400, f"the form field {field!r} is not a file: send files as files=@PATH")
                uploads.append((upload_path(value.filename), value))
            if not uploads:
                raise _ClientError(400, "no file uploaded: send files as files=@PATH")
            names = ["/".join(segments) for segments, _ in uploads]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise _ClientError(400, f"the same file name was uploaded twice: {duplicates}")
            folder = tempfile.mkdtemp(prefix="mlops-serve-")  # removed by predict_files, whatever happens
            try:
                answer = await run_in_threadpool(predict_files, uploads, folder)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a JSON answer
                return _failure(exc, {**known, folder: "<upload>"})
        return Response(answer, media_type="application/json")

    app.add_exception_handler(_ClientError, client_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_api_route("/health", health, methods=["GET"], summary="Liveness: the model is loaded and answers")
    app.add_api_route("/metadata", get_metadata, methods=["GET"], summary="The model and dataset versions served")
    answers = {200: {"content": {"application/json": {"schema": _ANSWER_SCHEMA}}}} | _responses(400, 413, 422, 500)

    def post(path: str, endpoint: Callable[..., Any], summary: str, media_type: str, schema: dict[str, Any]) -> None:
        """A POST route answering JSON, whose request body (``media_type``) ``schema`` describes."""
        body = {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}
        app.add_api_route(path, endpoint, methods=["POST"], summary=summary, openapi_extra=body, responses=answers)

    post("/predict", predict_json, "Predict on raw feature tensors sent as JSON", "application/json", _JSON_BODY_SCHEMA)
    post(
        "/predict/files",
        predict_upload,
        "Predict on raw files (multipart upload), read by the processor's get_raw_features",
        "multipart/form-data",
        _FILES_BODY_SCHEMA,
    )
    return app


def app_from_environment() -> FastAPI:
    """The app factory each worker process of ``mlops serve --workers N`` calls: it opens the
    model described by ``MLOPS_SERVE_CONFIG`` (the command checked it before starting the workers)."""
    config = ServeConfig.from_env()
    return create_app(open_predictor(config, verify=False), max_body_size=config.max_body_size)
