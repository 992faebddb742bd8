"""meta.json <-> records: the one parser, validator and writer of the format (pure: no I/O).

Schema 2 (written now) keeps meta.json small whatever the number of files: the per-file manifest
is a separate file (see :mod:`mlops.metadata.manifest`) that meta.json points to with its sha256.
Schema 1 (the first format, manifest inline under ``files``) is read into the same records and
written back as schema 1 (e.g. when its tags change). The JSON Schema of both is
``meta.schema.json`` beside this module.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, NoReturn

from mlops.errors import MetadataError
from mlops.metadata.records import (
    AnyRecord,
    ColumnRecord,
    DatasetLink,
    DatasetRecord,
    ManifestRef,
    ModelRecord,
    ProcessorRecord,
    PublishStats,
    RawRecord,
    SerializerRecord,
    TableRecord,
    TensorRecord,
    VersionRecord,
)
from mlops.store.base import FileEntry

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
HASH_FORMAT = 1
"""Version of the content-hash recipe; independent of the meta.json schema, so the same content
keeps the same hash across formats."""
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.jsonl"
SIGNATURE_FILE = "mlops.sig"
RESERVED_FILES = frozenset({META_FILE, MANIFEST_FILE, SIGNATURE_FILE})
"""Files of a version folder that are not data files (never listed in a manifest)."""

_COMMON = (
    "schema",
    "kind",
    "name",
    "version",
    "created_at",
    "tags",
    "hash",
    "libraries",
    "manifest",
    "files",
    "publish",
)
_DATASET = ("tensors", "raw", "processor")
_MODEL = ("serializer", "framework", "training", "dataset")


# --- parsing ---------------------------------------------------------------------------------------


def parse(data: bytes | str | Mapping[str, Any], where: str, kind: str | None = None) -> AnyRecord:
    """The record of a meta.json (its bytes or its decoded JSON) found at ``where``; raises
    :class:`MetadataError` naming the first bad field. ``kind`` (``"dataset"``/``"model"``) is
    required to match when given."""
    if isinstance(data, (bytes, str)):
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MetadataError(f"meta.json at {where} is not valid JSON: {exc}") from exc
    else:
        obj = data
    return _Parser(where).record(obj, kind)


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, problem: str) -> NoReturn:
        raise MetadataError(f"meta.json at {self.where}: {problem}")

    def obj(self, value: Any, what: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(f"{what} must be an object")
        return value

    def text(self, obj: Mapping[str, Any], key: str, what: str = "", optional: bool = False) -> Any:
        value = obj.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            self.fail(f"{what + ' ' if what else ''}{key!r} must be a string")
        return value

    def number(self, obj: Mapping[str, Any], key: str, what: str = "") -> int:
        value = obj.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.fail(f"{what + ' ' if what else ''}{key!r} must be a non-negative integer")
        return value

    def sha(self, obj: Mapping[str, Any], key: str, what: str) -> str:
        value = self.text(obj, key, what)
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            self.fail(f"{what} {key!r} must be a sha256 in lowercase hex")
        return str(value)

    def entry(self, obj: Mapping[str, Any], what: str) -> FileEntry:
        return FileEntry(self.sha(obj, "sha256", what), self.number(obj, "size", what))

    def relpath(self, value: Any) -> str:
        return safe_relpath(value, self.where)

    def record(self, obj: Any, kind: str | None) -> AnyRecord:
        meta = self.obj(obj, "the file")
        schema = meta.get("schema")
        if schema not in READABLE_SCHEMAS:
            self.fail(
                f"schema {schema!r} is not one this mlops reads ({', '.join(map(str, READABLE_SCHEMAS))}); "
                "upgrade mlops-core if the version was written by a newer release"
            )
        found = meta.get("kind")
        if found not in ("dataset", "model"):
            self.fail(f"'kind' is {found!r}, not 'dataset' or 'model'")
        if kind is not None and found != kind:
            raise MetadataError(f"{self.where} holds a {found!r}, not a {kind}")
        tags = meta.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            self.fail("'tags' must be a list of strings")
        libraries = self.obj(meta.get("libraries"), "'libraries'")
        if not all(isinstance(v, str) for v in libraries.values()):
            self.fail("'libraries' must map names to version strings")
        manifest, inline = self.files(meta, schema)
        common: dict[str, Any] = {
            "schema": schema,
            "kind": found,
            "name": self.text(meta, "name"),
            "version": self.text(meta, "version"),
            "created_at": self.text(meta, "created_at"),
            "tags": tuple(tags),
            "hash": self.text(meta, "hash"),
            "libraries": dict(libraries),
            "manifest": manifest,
            "inline_files": inline,
            "publish": self.publish(meta.get("publish")),
        }
        known = _COMMON + (_DATASET if found == "dataset" else _MODEL)
        common["extra"] = {k: v for k, v in meta.items() if k not in known}
        if found == "dataset":
            return self.dataset(meta, common, inline)
        return self.model(meta, common)

    def publish(self, value: Any) -> PublishStats | None:
        if value is None:
            return None
        stats = self.obj(value, "'publish'")
        fields = ("files_written", "bytes_written", "files_reused", "bytes_reused")
        return PublishStats(**{key: self.number(stats, key, "publish") for key in fields})

    def files(self, meta: Mapping[str, Any], schema: int) -> tuple[ManifestRef | None, dict[str, FileEntry] | None]:
        if schema == 1:
            files = self.obj(meta.get("files"), "'files'")
            inline = {}
            for relpath, entry in files.items():
                self.relpath(relpath)
                if not isinstance(entry, Mapping):
                    self.fail(f"manifest entry for {relpath!r} is malformed")
                try:
                    inline[relpath] = self.entry(entry, f"manifest entry for {relpath!r}:")
                except MetadataError:
                    self.fail(f"manifest entry for {relpath!r} is malformed")
            return None, inline
        ref = self.obj(meta.get("manifest"), "'manifest'")
        file = self.text(ref, "file", "manifest")
        if file != MANIFEST_FILE:
            self.fail(f"the manifest must be {MANIFEST_FILE!r}, not {file!r}")
        return (
            ManifestRef(
                file=file,
                sha256=self.sha(ref, "sha256", "manifest"),
                size=self.number(ref, "size", "manifest"),
                count=self.number(ref, "count", "manifest"),
                total_bytes=self.number(ref, "bytes", "manifest"),
            ),
            None,
        )

    def file_entry(
        self, info: Mapping[str, Any], file: str, inline: Mapping[str, FileEntry] | None, what: str
    ) -> FileEntry:
        if inline is not None:
            if file not in inline:
                self.fail(f"{what} is not in the manifest")
            return inline[file]
        return self.entry(info, what)

    def dataset(
        self, meta: Mapping[str, Any], common: dict[str, Any], inline: dict[str, FileEntry] | None
    ) -> DatasetRecord:
        tensors = {}
        for name, info in self.obj(meta.get("tensors"), "'tensors'").items():
            what = f"tensor {name!r}"
            info = self.obj(info, what)
            file = self.relpath(self.text(info, "file", what))
            role = info.get("role")
            if role not in ("features", "labels"):
                self.fail(f"{what} has role {role!r}, not 'features' or 'labels'")
            shape = info.get("shape")
            if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
            ):
                self.fail(f"{what} 'shape' must be a list of non-negative integers")
            tensors[name] = TensorRecord(
                name=name,
                file=file,
                role=role,
                shape=tuple(shape),
                dtype=self.text(info, "dtype", what),
                format=self.text(info, "format", what, optional=True) or "npy",
                entry=self.file_entry(info, file, inline, what),
                table=None if info.get("table") is None else self.table(info["table"], what),
            )
        raw = self.obj(meta.get("raw"), "'raw'")
        strategy = raw.get("strategy")
        if strategy not in ("copy", "link"):
            self.fail(f"'raw' strategy {strategy!r} is not 'copy' or 'link'")
        raw_path = raw.get("path", "raw" if strategy == "copy" else None)
        processor = self.obj(meta.get("processor"), "'processor'")
        file = self.relpath(self.text(processor, "file", "processor"))
        return DatasetRecord(
            **common,
            tensors=tensors,
            raw=RawRecord(
                strategy=strategy,
                source=self.text(raw, "source", "raw"),
                path=None if raw_path is None else self.relpath(raw_path),
                files=raw.get("files") if isinstance(raw.get("files"), int) else None,
                total_bytes=raw.get("bytes") if isinstance(raw.get("bytes"), int) else None,
            ),
            processor=ProcessorRecord(
                file=file,
                class_name=self.text(processor, "class", "processor", optional=True) or "",
                pickler=self.text(processor, "pickler", "processor", optional=True) or "cloudpickle",
                python=self.text(processor, "python", "processor"),
                entry=self.file_entry(processor, file, inline, "the processor"),
            ),
        )

    def table(self, value: Any, what: str) -> TableRecord:
        info = self.obj(value, f"{what} 'table'")
        kind = info.get("kind")
        if kind not in ("pandas", "pandas-series", "polars", "polars-series", "arrow", "dask"):
            self.fail(f"{what} has table kind {kind!r}, not one mlops writes")
        columns = info.get("columns")
        if not isinstance(columns, list):
            self.fail(f"{what} 'table' 'columns' must be a list")
        parsed = []
        for column in columns:
            column = self.obj(column, f"a column of {what}")
            name = self.text(column, "name", f"a column of {what}")
            where = f"column {name!r} of {what}"
            nulls = column.get("nulls")
            if nulls is not None:
                nulls = self.number(column, "nulls", where)
            bounds = [column.get("min"), column.get("max")]
            if any(b is not None and not isinstance(b, (str, int, float, bool)) for b in bounds):
                self.fail(f"{where} 'min' and 'max' must be scalars")
            parsed.append(
                ColumnRecord(
                    name=name, type=self.text(column, "type", where), nulls=nulls, min=bounds[0], max=bounds[1]
                )
            )
        return TableRecord(
            kind=kind,
            rows=self.number(info, "rows", f"{what} 'table'"),
            files=self.number(info, "files", f"{what} 'table'"),
            columns=tuple(parsed),
        )

    def model(self, meta: Mapping[str, Any], common: dict[str, Any]) -> ModelRecord:
        serializer = self.obj(meta.get("serializer"), "'serializer'")
        link = self.obj(meta.get("dataset"), "'dataset'")
        training = self.obj(meta.get("training"), "'training'")
        framework = meta.get("framework", {})
        return ModelRecord(
            **common,
            serializer=SerializerRecord(
                name=self.text(serializer, "name", "the serializer"),
                distribution=self.text(serializer, "distribution", "the serializer's", optional=True),
                distribution_version=self.text(serializer, "distribution_version", "the serializer's", optional=True),
            ),
            framework=dict(self.obj(framework, "'framework'")),
            training=dict(training),
            dataset=DatasetLink(
                path=self.text(link, "path", "the dataset link"),
                name=self.text(link, "name", "the dataset link", optional=True),
                version=self.text(link, "version", "the dataset link"),
                hash=self.text(link, "hash", "the dataset link"),
            ),
        )


def safe_relpath(relpath: Any, where: str) -> str:
    """``relpath`` if it names a data file inside the version folder; else a :class:`MetadataError`.

    Posix, relative, no empty, ``.`` or ``..`` part (so already in normal form), no backslash or
    NUL, and not one of the version's own files."""
    if (
        not isinstance(relpath, str)
        or _UNSAFE_PART.search(relpath) is not None
        or "\\" in relpath
        or "\0" in relpath
        or relpath in RESERVED_FILES
    ):
        raise MetadataError(f"meta.json at {where} names an unsafe file path {relpath!r}; refusing to read it")
    return relpath


_UNSAFE_PART = re.compile(r"(?:^|/)\.{0,2}(?:/|$)")
"""An empty, ``.`` or ``..`` part (which also catches a leading ``/`` and the empty path)."""


# --- writing ---------------------------------------------------------------------------------------


def to_json(record: VersionRecord) -> dict[str, Any]:
    """The JSON object of ``record``, in the record's own schema (a schema-1 record stays schema 1)."""
    out: dict[str, Any] = {
        "schema": record.schema,
        "kind": record.kind,
        "name": record.name,
        "version": record.version,
        "created_at": record.created_at,
        "tags": list(record.tags),
        "hash": record.hash,
    }
    inline = record.schema == 1
    if isinstance(record, DatasetRecord):
        out["tensors"] = {name: _tensor_json(t, inline) for name, t in record.tensors.items()}
        raw: dict[str, Any] = {"strategy": record.raw.strategy, "source": record.raw.source}
        if record.raw.path is not None:
            raw["path"] = record.raw.path
        if record.raw.files is not None and not inline:
            raw["files"] = record.raw.files
            raw["bytes"] = record.raw.total_bytes
        out["raw"] = raw
        p = record.processor
        processor: dict[str, Any] = {"file": p.file, "class": p.class_name, "pickler": p.pickler, "python": p.python}
        if not inline:
            processor |= {"sha256": p.entry.sha256, "size": p.entry.size}
        out["processor"] = processor
    elif isinstance(record, ModelRecord):
        out["serializer"] = {
            "name": record.serializer.name,
            "distribution": record.serializer.distribution,
            "distribution_version": record.serializer.distribution_version,
        }
        out["framework"] = dict(record.framework)
        out["training"] = dict(record.training)
        link = record.dataset
        out["dataset"] = {"path": link.path, "name": link.name, "version": link.version, "hash": link.hash}
    if inline:
        out["files"] = {rel: {"sha256": e.sha256, "size": e.size} for rel, e in (record.inline_files or {}).items()}
    elif record.manifest is not None:
        m = record.manifest
        out["manifest"] = {"file": m.file, "sha256": m.sha256, "size": m.size, "count": m.count, "bytes": m.total_bytes}
    out["libraries"] = dict(record.libraries)
    if record.publish is not None:
        out["publish"] = asdict(record.publish)
    out.update(record.extra)
    return out


def _tensor_json(t: TensorRecord, inline: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"file": t.file, "role": t.role, "shape": list(t.shape), "dtype": t.dtype}
    if not inline:
        out |= {"format": t.format, "sha256": t.entry.sha256, "size": t.entry.size}
    if t.table is not None:
        out["table"] = {
            "kind": t.table.kind,
            "rows": t.table.rows,
            "files": t.table.files,
            "columns": [
                {"name": c.name, "type": c.type, "nulls": c.nulls, "min": c.min, "max": c.max} for c in t.table.columns
            ],
        }
    return out


def dump(record: VersionRecord) -> bytes:
    """meta.json's bytes: strict JSON (no NaN), stable key order, human-readable."""
    return dumps(to_json(record))


def dumps(obj: Mapping[str, Any]) -> bytes:
    try:
        return (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode()
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"metadata cannot be stored as JSON: {exc}") from exc


def content_hash(kind: str, entries: Mapping[str, FileEntry], extra: Mapping[str, Any] | None = None) -> str:
    """The sha256 identifying a version's content: its kind, the (relpath, sha256) of its content
    files, and ``extra`` identity fields, in a canonical order. Timestamps, tags and names are left
    out so the same content gives the same hash whatever and wherever it is published."""
    sha = hashlib.sha256()
    sha.update(f"mlops-{kind}-v{HASH_FORMAT}\n".encode())
    for relpath in sorted(entries):
        sha.update(f"{relpath}\0{entries[relpath].sha256}\n".encode())
    if extra:
        sha.update(json.dumps(extra, sort_keys=True, separators=(",", ":")).encode())
    return sha.hexdigest()


def check_json(value: Any, what: str) -> Any:
    """Return ``value`` converted to plain JSON types (numpy scalars/arrays become numbers/lists);
    raise a :class:`MetadataError` naming ``what`` when that is impossible."""
    return _to_json(value, what)


def _to_json(value: Any, what: str) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MetadataError(f"{what} holds {value!r}, which JSON cannot store; replace it (e.g. with None)")
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise MetadataError(f"{what} has a non-string key {key!r}; JSON keys must be strings")
            out[key] = _to_json(item, f"{what}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(item, f"{what}[{i}]") for i, item in enumerate(value)]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, without importing numpy
    if callable(tolist) and type(value).__module__ == "numpy":
        return _to_json(tolist(), what)
    raise MetadataError(
        f"{what} holds a {type(value).__module__}.{type(value).__qualname__}, which JSON cannot "
        "store; convert it to numbers, strings, lists or dicts"
    )
