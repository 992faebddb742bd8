"""The one place the catalog reads the store: roots scanned into plain, frozen view records.

Every meta.json field the catalog shows is read here and nowhere else (the templates and the
JavaScript only see the records below), so a change of the metadata format is one edit in this
module. Listing uses :func:`mlops.versions.listing.scan_root` (meta.json only); tensor statistics open
each dataset with :class:`~mlops.dataset.versioned_dataset.VersionedDataset` (verified reads);
diffs are :func:`mlops.model.compare.compare`, exactly what ``mlops diff`` prints.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mlops.errors import MlopsError, NoVersionsError
from mlops.versions.layout import folder_name, moved_note

if TYPE_CHECKING:
    from mlops.versions.layout import FoundVersion

STATS_MAX_BYTES = 256 * 1024 * 1024
"""Tensors stored in more bytes than this get no statistics (they would be read whole)."""
FILES_SHOWN = 500
"""At most this many files are listed on a version's page (the count is always given)."""
MODELS_PER_LINEAGE_NODE = 25
"""A dataset with more models than this shows them as one lineage node linking to the leaderboard."""
_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "rmse", "mape", "perplexity")
_WORKERS = 8


@dataclass(frozen=True)
class FileRecord:
    """One stored file of a version, from its manifest."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class TensorRecord:
    """One tensor of a dataset: what meta.json declares, and statistics when they were computed."""

    name: str
    role: str
    shape: tuple[int, ...] | None
    dtype: str
    size: int | None
    sha256: str
    stats: dict[str, float | int | None] | None
    """mean, std, min, max (``None`` where not finite); ``None`` when not computed (see ``note``)."""
    note: str = ""


class _Shown:
    """How the views name a version (shared by datasets and models)."""

    version: str
    folder: str

    @property
    def shown_version(self) -> str:
        """The version, with its folder's name when the folder was copied or renamed (two folders
        may then hold one version)."""
        if moved_note(self.folder, self.version) is None:
            return self.version
        return f"{self.version} (folder {self.folder})"


@dataclass(frozen=True)
class DatasetRecord(_Shown):
    """A dataset version as its page shows it."""

    id: str
    root: str
    path: str
    folder: str
    """The name of its folder: ``version`` unless the folder was copied or renamed."""
    name: str
    version: str
    created_at: str
    tags: tuple[str, ...]
    hash: str
    size: int
    file_count: int
    files: tuple[FileRecord, ...]
    tensors: tuple[TensorRecord, ...]
    raw_strategy: str
    raw_source: str
    raw_files: tuple[FileRecord, ...]
    processor: dict[str, str]
    libraries: dict[str, str]
    kind: str = "dataset"


@dataclass(frozen=True)
class DatasetLink:
    """The dataset a model was trained on, and the catalog's dataset record when it holds it."""

    path: str
    name: str
    version: str
    hash: str
    dataset_id: str | None
    """Id of a dataset in the catalog with this content (same path preferred), or ``None``."""

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class ModelRecord(_Shown):
    """A model version as its page and its leaderboard row show it."""

    id: str
    root: str
    path: str
    folder: str
    """The name of its folder: ``version`` unless the folder was copied or renamed."""
    name: str
    version: str
    created_at: str
    tags: tuple[str, ...]
    hash: str
    size: int
    file_count: int
    files: tuple[FileRecord, ...]
    serializer: str
    serializer_origin: str
    framework: dict[str, str]
    dataset: DatasetLink
    train_args: dict[str, Any]
    history: dict[str, list[float | None]]
    last: dict[str, float]
    best: dict[str, float]
    libraries: dict[str, str]
    kind: str = "model"


@dataclass(frozen=True)
class DamagedRecord:
    """A version whose meta.json or manifest cannot be read or validated: shown with the reason."""

    id: str
    path: str
    folder: str
    reason: str


@dataclass(frozen=True)
class RootRecord:
    """One publication root given to the catalog."""

    id: str
    url: str
    version_ids: tuple[str, ...]
    """Its versions, newest first."""
    incomplete: tuple[str, ...]
    damaged: tuple[DamagedRecord, ...] = ()
    """Its damaged versions (left out of every other view)."""


@dataclass(frozen=True)
class LineageNode:
    """A node of the lineage graph, placed in its column (0 raw, 1 datasets, 2 models)."""

    id: str
    kind: str
    """raw, dataset, model, models (a group) or external (a dataset outside the catalog)."""
    label: str
    column: int
    row: float
    target: str
    """The view the node opens: a route such as ``model/ID``, or empty for none."""


@dataclass(frozen=True)
class Catalog:
    """Everything the views show, built once from the roots."""

    roots: tuple[RootRecord, ...]
    datasets: dict[str, DatasetRecord]
    models: dict[str, ModelRecord]
    lineage_nodes: tuple[LineageNode, ...]
    lineage_edges: tuple[tuple[str, str], ...]
    built_at: str
    storage_options: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def version(self, version_id: str) -> DatasetRecord | ModelRecord | None:
        """The dataset or model with this id, if the catalog holds one."""
        return self.datasets.get(version_id) or self.models.get(version_id)

    def predecessor(self, version_id: str) -> str | None:
        """The id of the version published just before this one under the same root, if any."""
        for root in self.roots:
            ids = root.version_ids
            if version_id in ids:
                index = ids.index(version_id)
                return ids[index + 1] if index + 1 < len(ids) else None
        return None


def version_id(path: str) -> str:
    """A short, URL- and HTML-safe id for the version at ``path`` (the store's text never reaches a URL)."""
    return hashlib.sha256(path.encode()).hexdigest()[:16]


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is better: losses and errors, by their name."""
    name = metric.lower()
    return any(word in name for word in _LOWER_IS_BETTER)


def build_catalog(
    roots: Sequence[str], *, storage_options: dict[str, Any] | None = None, tensor_stats: bool = True
) -> Catalog:
    """Scan every root once and turn what it holds into view records.

    ``tensor_stats`` reads each dataset tensor (up to :data:`STATS_MAX_BYTES`) to show its
    mean/std/min/max. A version whose meta.json or manifest cannot be read or validated is kept
    as a :class:`DamagedRecord` of its root, with the reason. Raises
    :class:`~mlops.errors.NoVersionsError` when no root holds a version, damaged or not.
    """
    from mlops.versions.listing import scan_root

    with ThreadPoolExecutor(_WORKERS) as pool:
        listings = list(pool.map(lambda root: scan_root(root, storage_options=storage_options), roots))
        found = [(listing.root, version) for listing in listings for version in listing.versions]
        metas = list(pool.map(lambda item: _meta_with_files(item[1], storage_options), found))
    damaged: dict[str, dict[str, str]] = {listing.root: dict(listing.unreadable) for listing in listings}
    dataset_meta: list[tuple[str, str, dict[str, Any]]] = []
    model_meta: list[tuple[str, str, dict[str, Any]]] = []
    for (root, version), meta in zip(found, metas, strict=True):
        if isinstance(meta, str):
            damaged[root][version.path] = meta
        else:
            (dataset_meta if version.record.kind == "dataset" else model_meta).append((root, version.path, meta))
    kept = {path for _, path, _ in (*dataset_meta, *model_meta)}
    root_records = [
        RootRecord(
            id=version_id(listing.root),
            url=listing.root,
            version_ids=tuple(version_id(v.path) for v in listing.versions if v.path in kept),
            incomplete=tuple(listing.incomplete),
            damaged=tuple(
                DamagedRecord(version_id(path), path, folder_name(path), reason)
                for path, reason in damaged[listing.root].items()
            ),
        )
        for listing in listings
    ]
    if not kept and not any(root.damaged for root in root_records):
        from mlops.versions.listing import no_versions_message

        raise NoVersionsError("; ".join(no_versions_message(listing) for listing in listings))

    def dataset_record(item: tuple[str, str, dict[str, Any]]) -> DatasetRecord:
        return _dataset_record(*item, storage_options=storage_options, with_stats=tensor_stats)

    with ThreadPoolExecutor(_WORKERS) as pool:
        datasets = list(pool.map(dataset_record, dataset_meta))
    by_id = {record.id: record for record in datasets}
    models = [_model_record(root, path, meta, datasets) for root, path, meta in model_meta]
    nodes, edges = _lineage(datasets, models)
    return Catalog(
        roots=tuple(root_records),
        datasets=by_id,
        models={record.id: record for record in models},
        lineage_nodes=nodes,
        lineage_edges=edges,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        storage_options=storage_options,
    )


def catalog_warnings(catalog: Catalog) -> list[str]:
    """What ``mlops ui`` and ``mlops report`` tell on stderr, one line each: copied or renamed
    version folders, and damaged versions with the reason."""
    records: list[DatasetRecord | ModelRecord] = [*catalog.datasets.values(), *catalog.models.values()]
    notes = [moved_note(record.folder, record.version) for record in sorted(records, key=lambda r: r.path)]
    damaged = [f"damaged version {item.path}: {item.reason}" for root in catalog.roots for item in root.damaged]
    return [note for note in notes if note] + damaged


def diff(catalog: Catalog, a_id: str, b_id: str) -> dict[str, Any]:
    """What ``mlops diff A B`` reports for two versions of the catalog (see :func:`mlops.model.compare.compare`)."""
    from mlops.model.compare import compare
    from mlops.model.lineage import open_version

    a, b = catalog.version(a_id), catalog.version(b_id)
    if a is None or b is None:
        raise KeyError(a_id if a is None else b_id)
    if a.kind != b.kind:
        raise MlopsError(f"cannot compare a {a.kind} with a {b.kind}: pick two datasets or two models")
    opened = [open_version(record.path, storage_options=catalog.storage_options) for record in (a, b)]
    return compare(opened[0], opened[1])


def neighbour_diffs(catalog: Catalog, *, read_tensors: bool = True) -> dict[tuple[str, str], dict[str, Any] | str]:
    """The diff of every version with the one published before it under the same root.

    A pair that cannot be compared (a damaged file, an unreachable store) maps to the reason, and
    so does a pair of datasets whose differing tensors would have to be read (``read_tensors``
    false, or more than :data:`STATS_MAX_BYTES` of them).
    """
    pairs = []
    for root in catalog.roots:
        pairs += list(zip(root.version_ids[1:], root.version_ids[:-1], strict=True))

    def one(pair: tuple[str, str]) -> dict[str, Any] | str:
        skipped = _tensors_to_read(catalog, *pair, read_tensors)
        if skipped:
            return skipped
        try:
            return diff(catalog, *pair)
        except (MlopsError, OSError) as exc:
            return " ".join(str(exc).split()) or type(exc).__name__

    with ThreadPoolExecutor(_WORKERS) as pool:
        return dict(zip(pairs, pool.map(one, pairs), strict=True))


def _tensors_to_read(catalog: Catalog, a_id: str, b_id: str, read_tensors: bool) -> str:
    """Why a report leaves out the diff of two dataset versions, or an empty string to compute it."""
    a, b = catalog.datasets.get(a_id), catalog.datasets.get(b_id)
    if a is None or b is None:
        return ""
    sha_b = {t.name: t.sha256 for t in b.tensors}
    changed = [t.name for t in a.tensors if t.name in sha_b and sha_b[t.name] != t.sha256]
    size = sum(t.size or 0 for t in (*a.tensors, *b.tensors) if t.name in changed)
    if not changed or (read_tensors and size <= STATS_MAX_BYTES):
        return ""
    why = "--no-stats" if not read_tensors else f"they hold {size / 2**20:.0f} MiB"
    return (
        f"tensors {', '.join(changed)} differ and were not read for this report ({why}); "
        f"run `mlops diff {a.path} {b.path}` or compare them in `mlops ui`"
    )


def _meta_with_files(found: FoundVersion, storage_options: dict[str, Any] | None) -> dict[str, Any] | str:
    """A version's meta.json as plain JSON, with every file's entry under ``files`` (read from the
    version's manifest, checked against meta.json): what the records below are built from. When
    the manifest cannot be read or does not match, the reason instead."""
    from mlops import metadata
    from mlops.store import resolve
    from mlops.versions import layout

    meta = metadata.to_json(found.record)
    try:
        manifest = layout.read_manifest(resolve(found.path, storage_options), found.record)
    except (MlopsError, OSError) as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    meta["files"] = {rel: {"sha256": e.sha256, "size": e.size} for rel, e in manifest.items()}
    return meta


# --- meta.json -> records ------------------------------------------------------------------------------


def _object(meta: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The JSON object stored under ``key``, or an empty one when it is missing or malformed."""
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def _files(meta: Mapping[str, Any], prefix: str = "") -> tuple[list[FileRecord], int]:
    entries = meta["files"]
    chosen = [rel for rel in entries if rel.startswith(prefix)] if prefix else list(entries)
    shown = [FileRecord(rel, int(entries[rel]["size"]), str(entries[rel]["sha256"])) for rel in chosen[:FILES_SHOWN]]
    return shown, len(chosen)


def _common(root: str, path: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    files, count = _files(meta)
    return {
        "id": version_id(path),
        "root": root,
        "path": path,
        "folder": folder_name(path),
        "name": str(meta["name"]),
        "version": str(meta["version"]),
        "created_at": str(meta["created_at"]),
        "tags": tuple(meta["tags"]),
        "hash": str(meta["hash"]),
        "size": sum(int(entry["size"]) for entry in meta["files"].values()),
        "file_count": count,
        "files": tuple(files),
        "libraries": {str(k): str(v) for k, v in (meta.get("libraries") or {}).items()},
    }


def _dataset_record(
    root: str, path: str, meta: Mapping[str, Any], *, storage_options: dict[str, Any] | None, with_stats: bool
) -> DatasetRecord:
    raw = _object(meta, "raw")
    strategy = str(raw.get("strategy", "-"))
    raw_files, _ = _files(meta, f"{raw.get('path', 'raw')}/") if strategy == "copy" else ([], 0)
    processor = _object(meta, "processor")
    declared = _object(meta, "tensors")
    stats, notes = _tensor_stats(path, meta, storage_options) if with_stats else ({}, {})
    tensors = []
    for name, info in declared.items():
        info = info if isinstance(info, dict) else {}
        shape = info.get("shape")
        entry = _tensor_entry(meta["files"], info.get("file"))
        tensors.append(
            TensorRecord(
                name=str(name),
                role=str(info.get("role", "")),
                shape=tuple(int(n) for n in shape) if isinstance(shape, list) else None,
                dtype=str(info.get("dtype", "")),
                size=entry.get("size"),
                sha256=str(entry.get("sha256", "")),
                stats=stats.get(name),
                note=notes.get(name, "" if with_stats else "statistics not computed (--no-stats)"),
            )
        )
    return DatasetRecord(
        **_common(root, path, meta),
        tensors=tuple(tensors),
        raw_strategy=strategy,
        raw_source=str(raw.get("source", "-")),
        raw_files=tuple(raw_files),
        processor={str(k): str(v) for k, v in processor.items() if k in ("class", "pickler", "python")},
    )


def _tensor_entry(files: Mapping[str, Any], file: Any) -> dict[str, Any]:
    """The size and a content sha256 of a tensor's file, or of every file of its folder (a zarr
    tensor, ``NAME.zarr/``: zarr.json and its chunks), so a changed chunk changes the tensor."""
    if file in files:
        return dict(files[file])
    inside = sorted((rel, e) for rel, e in files.items() if isinstance(file, str) and rel.startswith(file + "/"))
    if not inside:
        return {}
    listing = "".join(f"{rel}\0{e.get('sha256')}\0" for rel, e in inside).encode()
    return {"size": sum(int(e.get("size", 0)) for _, e in inside), "sha256": hashlib.sha256(listing).hexdigest()}


def _tensor_stats(
    path: str, meta: Mapping[str, Any], storage_options: dict[str, Any] | None
) -> tuple[dict[str, dict[str, float | int | None]], dict[str, str]]:
    """mean/std/min/max of each tensor small enough to read, and why the others have none."""
    from mlops.dataset.versioned_dataset import VersionedDataset
    from mlops.model.compare import tensor_stats

    stats: dict[str, dict[str, float | int | None]] = {}
    notes: dict[str, str] = {}
    try:
        dataset = VersionedDataset(path, storage_options=storage_options)
    except (MlopsError, OSError) as exc:
        reason = f"statistics unavailable: {' '.join(str(exc).split())}"
        return {}, {str(name): reason for name in meta.get("tensors") or {}}
    for name, info in (meta.get("tensors") or {}).items():
        size = _tensor_entry(meta["files"], info.get("file")).get("size", 0)
        if size > STATS_MAX_BYTES:
            notes[name] = f"statistics not computed: stored in over {STATS_MAX_BYTES // 2**20} MiB"
            continue
        try:
            computed = tensor_stats(dataset[name])
        except (MlopsError, OSError, ValueError) as exc:
            notes[name] = f"statistics unavailable: {' '.join(str(exc).split())}"
            continue
        stats[name] = {key: computed.get(key) for key in ("mean", "std", "min", "max")}
        if "mean" not in computed:
            notes[name] = "no statistics for this dtype"
    return stats, notes


def _model_record(root: str, path: str, meta: Mapping[str, Any], datasets: Sequence[DatasetRecord]) -> ModelRecord:
    from mlops.model.compare import final_metrics

    serializer = _object(meta, "serializer")
    dist, dist_version = serializer.get("distribution"), serializer.get("distribution_version")
    link = _object(meta, "dataset")
    training = _object(meta, "training")
    history = _numeric_history(training.get("history"))
    framework = _object(meta, "framework")
    train_args = _object(training, "train_args")
    link_path, link_hash = str(link.get("path", "")), str(link.get("hash", ""))
    return ModelRecord(
        **_common(root, path, meta),
        serializer=str(serializer.get("name", "-")),
        serializer_origin=" ".join(str(part) for part in (dist, dist_version) if part),
        framework={str(k): str(v) for k, v in framework.items()},
        dataset=DatasetLink(
            path=link_path,
            name=str(link.get("name", "-")),
            version=str(link.get("version", "-")),
            hash=link_hash,
            dataset_id=_linked_dataset(link_path, link_hash, datasets),
        ),
        train_args={str(k): v for k, v in train_args.items()},
        history=history,
        last={k: float(v) for k, v in final_metrics(history).items()},
        best=_best(history),
    )


def _numeric_history(history: Any) -> dict[str, list[float | None]]:
    """The per-epoch lists of numbers of a training history (gaps and non-finite values as None)."""
    if not isinstance(history, Mapping):
        return {}
    out: dict[str, list[float | None]] = {}
    for key, values in history.items():
        if not isinstance(values, list):
            continue
        series = [
            float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None
            for v in values
        ]
        if any(v is not None for v in series):
            out[str(key)] = series
    return out


def _best(history: Mapping[str, list[float | None]]) -> dict[str, float]:
    best = {}
    for key, series in history.items():
        present = [v for v in series if v is not None]
        if present:
            best[key] = min(present) if lower_is_better(key) else max(present)
    return best


def _linked_dataset(path: str, content_hash: str, datasets: Iterable[DatasetRecord]) -> str | None:
    same_content = [d for d in datasets if d.hash == content_hash]
    for record in same_content:
        if record.path == path:
            return record.id
    return same_content[0].id if same_content else None


# --- lineage -------------------------------------------------------------------------------------------------


def _lineage(
    datasets: Sequence[DatasetRecord], models: Sequence[ModelRecord]
) -> tuple[tuple[LineageNode, ...], tuple[tuple[str, str], ...]]:
    """raw data -> dataset versions -> models, laid out in three columns, each group kept together."""
    raw_nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    dataset_order: list[tuple[str, str, str]] = []  # (node id, label, route)
    for record in sorted(datasets, key=lambda d: (d.raw_source, d.root, d.created_at)):
        source = record.raw_source
        raw_id = raw_nodes.setdefault(source, f"raw-{version_id(source)}")
        edges.append((raw_id, f"dataset-{record.id}"))
        dataset_order.append((f"dataset-{record.id}", f"{record.name} {record.shown_version}", f"dataset/{record.id}"))
    external: dict[str, DatasetLink] = {}
    models_of: dict[str, list[ModelRecord]] = {}
    for model in models:
        if model.dataset.dataset_id is not None:
            key = f"dataset-{model.dataset.dataset_id}"
        else:
            key = f"external-{version_id(model.dataset.path + model.dataset.hash)}"
            external.setdefault(key, model.dataset)
        models_of.setdefault(key, []).append(model)
    for key, link in external.items():
        dataset_order.append((key, f"{link.label} (not in this catalog)", ""))
    model_order: list[tuple[str, str, str, str]] = []  # (node id, kind, label, route)
    for key, _, _ in dataset_order:
        group = sorted(models_of.get(key, []), key=lambda m: m.created_at)
        if len(group) > MODELS_PER_LINEAGE_NODE:
            node = f"models-{key}"
            target = f"leaderboard?dataset={quote(group[0].dataset.label, safe='')}"
            model_order.append((node, "models", f"{len(group)} models (open the leaderboard)", target))
            edges.append((key, node))
            continue
        for model in group:
            label = f"{model.name} {model.shown_version}" + (f" [{', '.join(model.tags)}]" if model.tags else "")
            model_order.append((f"model-{model.id}", "model", label, f"model/{model.id}"))
            edges.append((key, f"model-{model.id}"))
    columns = [
        [(node, "raw", f"raw data: {source}", "") for source, node in raw_nodes.items()],
        [(node, "external" if node.startswith("external-") else "dataset", label, route)
         for node, label, route in dataset_order],
        model_order,
    ]  # fmt: skip
    tallest = max(len(column) for column in columns) or 1
    nodes = []
    for index, column in enumerate(columns):
        offset = (tallest - len(column)) / 2
        for row, (node, kind, label, route) in enumerate(column):
            nodes.append(LineageNode(node, kind, label, index, offset + row, route))
    return tuple(nodes), tuple(edges)


def to_json(value: Any) -> Any:
    """Records (dataclasses, tuples) as plain JSON types, for the pages' embedded data."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: to_json(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
