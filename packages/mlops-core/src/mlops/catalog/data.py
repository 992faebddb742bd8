"""The one place the catalog reads the store: roots scanned into frozen views.

A view holds its version's typed records as :func:`mlops.metadata.parse` made them (``meta``: a
:class:`~mlops.metadata.DatasetRecord` or :class:`~mlops.metadata.ModelRecord`, read by
attribute, never turned back into JSON) and what the catalog adds to them: where the version is,
its files from the manifest, tensor statistics, training curves, the link to a dataset of the
catalog. The templates read the views; the pages' embedded JSON is made from them in
:mod:`mlops.catalog.render`.

Listing uses :func:`mlops.versions.listing.scan_root` (meta.json only); tensor statistics open each
dataset with :class:`~mlops.dataset.versioned_dataset.VersionedDataset` (verified reads); diffs
are :func:`mlops.model.compare.compare`, exactly what ``mlops diff`` prints.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from mlops.dataset.lazy import stored_files
from mlops.errors import MlopsError, NoVersionsError
from mlops.metadata import DatasetLink, DatasetRecord, ModelRecord, TensorRecord, VersionRecord
from mlops.store import FileEntry
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
class FileView:
    """One stored file of a version, from its manifest."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class TensorView:
    """One tensor of a dataset: what meta.json declares, where it is stored, and its statistics."""

    meta: TensorRecord
    """The tensor as meta.json declares it (name, role, shape, dtype)."""
    size: int
    """The bytes of its file, or of every file of its folder (a zarr tensor)."""
    sha256: str
    """A digest of its stored files: equal in two versions when the tensor is the same."""
    stats: dict[str, float | int | None] | None
    """mean, std, min, max (``None`` where not finite); ``None`` when not computed (see ``note``)."""
    note: str = ""


R = TypeVar("R", bound=VersionRecord)


@dataclass(frozen=True)
class VersionView(Generic[R]):
    """What a dataset's and a model's views share: where the version is, its meta.json as parsed
    by :func:`mlops.metadata.parse`, and its files from the manifest."""

    id: str
    root: str
    path: str
    meta: R
    size: int
    """The bytes of the files its manifest lists."""
    file_count: int
    files: tuple[FileView, ...]
    """The first :data:`FILES_SHOWN` files of its manifest."""

    @property
    def folder(self) -> str:
        """The name of its folder: the version unless the folder was copied or renamed."""
        return folder_name(self.path)

    @property
    def shown_version(self) -> str:
        """The version, with its folder's name when the folder was copied or renamed (two folders
        may then hold one version)."""
        if moved_note(self.folder, self.meta.version) is None:
            return self.meta.version
        return f"{self.meta.version} (folder {self.folder})"


@dataclass(frozen=True)
class DatasetView(VersionView[DatasetRecord]):
    """A dataset version as its page shows it."""

    tensors: tuple[TensorView, ...]
    raw_files: tuple[FileView, ...]
    """The raw files copied into the version (none for a linked raw folder)."""


@dataclass(frozen=True)
class ModelView(VersionView[ModelRecord]):
    """A model version as its page and its leaderboard row show it."""

    dataset_id: str | None
    """Id of the dataset in the catalog it was trained on (same content; same path preferred), or ``None``."""
    history: dict[str, list[float | None]]
    """The per-epoch numbers of its training history (gaps and non-finite values as ``None``)."""
    last: dict[str, float]
    best: dict[str, float]

    @property
    def serializer_origin(self) -> str:
        """The distribution (and its version) that provides the model's serializer, or empty."""
        serializer = self.meta.serializer
        return " ".join(part for part in (serializer.distribution, serializer.distribution_version) if part)

    @property
    def dataset_label(self) -> str:
        """The dataset it was trained on, as ``NAME VERSION`` (``-`` for a link without a name)."""
        link = self.meta.dataset
        return f"{link.name or '-'} {link.version}"


@dataclass(frozen=True)
class DamagedView:
    """A version whose meta.json or manifest cannot be read or validated: shown with the reason."""

    id: str
    path: str
    folder: str
    reason: str


@dataclass(frozen=True)
class RootView:
    """One publication root given to the catalog."""

    id: str
    url: str
    version_ids: tuple[str, ...]
    """Its versions, newest first."""
    incomplete: tuple[str, ...]
    damaged: tuple[DamagedView, ...] = ()
    """Its damaged versions (left out of every other view)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Its aliases: alias -> the version folder it names now (see :func:`mlops.list_aliases`)."""
    alias_problem: str = ""
    """Why its aliases could not be read (an untrusted record, an unreachable store), or empty."""


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
    aliases: tuple[str, ...] = ()
    """The aliases naming the node's version."""


@dataclass(frozen=True)
class Catalog:
    """Everything the views show, built once from the roots."""

    roots: tuple[RootView, ...]
    datasets: dict[str, DatasetView]
    models: dict[str, ModelView]
    lineage_nodes: tuple[LineageNode, ...]
    lineage_edges: tuple[tuple[str, str], ...]
    built_at: str
    storage_options: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """The aliases naming each version, by version id (versions no alias names are left out)."""

    def version(self, version_id: str) -> DatasetView | ModelView | None:
        """The dataset or model with this id, if the catalog holds one."""
        return self.datasets.get(version_id) or self.models.get(version_id)

    def aliases_of(self, version_id: str) -> tuple[str, ...]:
        """The aliases naming this version now, sorted (none for most versions)."""
        return self.aliases.get(version_id, ())

    def predecessor(self, version_id: str) -> str | None:
        """The id of the version published just before this one under the same root, if any."""
        for root in self.roots:
            ids = root.version_ids
            if version_id in ids:
                index = ids.index(version_id)
                return ids[index + 1] if index + 1 < len(ids) else None
        return None


@dataclass(frozen=True)
class _Read(Generic[R]):
    """A version as the catalog read it: its parsed meta.json and its manifest (checked against it)."""

    root: str
    path: str
    meta: R
    manifest: dict[str, FileEntry]


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
    """Scan every root once and turn what it holds into views.

    ``tensor_stats`` reads each dataset tensor (up to :data:`STATS_MAX_BYTES`) to show its
    mean/std/min/max. A version whose meta.json or manifest cannot be read or validated is kept
    as a :class:`DamagedView` of its root, with the reason. Raises
    :class:`~mlops.errors.NoVersionsError` when no root holds a version, damaged or not.
    """
    from mlops.versions.listing import scan_root

    with ThreadPoolExecutor(_WORKERS) as pool:
        listings = list(pool.map(lambda root: scan_root(root, storage_options=storage_options), roots))
        alias_maps = list(pool.map(lambda listing: _aliases(listing.root, storage_options), listings))
        found = [(listing.root, version) for listing in listings for version in listing.versions]
        manifests = list(pool.map(lambda item: _manifest(item[1], storage_options), found))
    damaged: dict[str, dict[str, str]] = {listing.root: dict(listing.unreadable) for listing in listings}
    dataset_reads: list[_Read[DatasetRecord]] = []
    model_reads: list[_Read[ModelRecord]] = []
    kept: set[str] = set()
    for (root, version), manifest in zip(found, manifests, strict=True):
        record = version.record
        if isinstance(manifest, str):
            damaged[root][version.path] = manifest
            continue
        kept.add(version.path)
        if isinstance(record, DatasetRecord):
            dataset_reads.append(_Read(root, version.path, record, manifest))
        else:
            model_reads.append(_Read(root, version.path, record, manifest))
    root_views = [
        RootView(
            id=version_id(listing.root),
            url=listing.root,
            version_ids=tuple(version_id(v.path) for v in listing.versions if v.path in kept),
            incomplete=tuple(listing.incomplete),
            damaged=tuple(
                DamagedView(version_id(path), path, folder_name(path), reason)
                for path, reason in damaged[listing.root].items()
            ),
            aliases=aliases if isinstance(aliases, dict) else {},
            alias_problem=aliases if isinstance(aliases, str) else "",
        )
        for listing, aliases in zip(listings, alias_maps, strict=True)
    ]
    aliases_by_id: dict[str, tuple[str, ...]] = {}
    for listing, root_view in zip(listings, root_views, strict=True):
        folders = {folder_name(v.path): version_id(v.path) for v in listing.versions if v.path in kept}
        for alias, folder in sorted(root_view.aliases.items()):
            if folder in folders:
                aliases_by_id[folders[folder]] = (*aliases_by_id.get(folders[folder], ()), alias)
    if not kept and not any(root.damaged for root in root_views):
        from mlops.versions.listing import no_versions_message

        raise NoVersionsError("; ".join(no_versions_message(listing) for listing in listings))

    def dataset_view(item: _Read[DatasetRecord]) -> DatasetView:
        return _dataset_view(item, storage_options=storage_options, with_stats=tensor_stats)

    with ThreadPoolExecutor(_WORKERS) as pool:
        datasets = list(pool.map(dataset_view, dataset_reads))
    models = [_model_view(item, datasets) for item in model_reads]
    nodes, edges = _lineage(datasets, models, aliases_by_id)
    return Catalog(
        roots=tuple(root_views),
        datasets={view.id: view for view in datasets},
        models={view.id: view for view in models},
        lineage_nodes=nodes,
        lineage_edges=edges,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        storage_options=storage_options,
        aliases=aliases_by_id,
    )


def catalog_warnings(catalog: Catalog) -> list[str]:
    """What ``mlops ui`` and ``mlops report`` tell on stderr, one line each: copied or renamed
    version folders, and damaged versions with the reason."""
    views: list[DatasetView | ModelView] = [*catalog.datasets.values(), *catalog.models.values()]
    notes = [moved_note(view.folder, view.meta.version) for view in sorted(views, key=lambda v: v.path)]
    damaged = [f"damaged version {item.path}: {item.reason}" for root in catalog.roots for item in root.damaged]
    aliases = [f"aliases of {root.url} not shown: {root.alias_problem}" for root in catalog.roots if root.alias_problem]
    return [note for note in notes if note] + damaged + aliases


def diff(catalog: Catalog, a_id: str, b_id: str) -> dict[str, Any]:
    """What ``mlops diff A B`` reports for two versions of the catalog (see :func:`mlops.model.compare.compare`)."""
    from mlops.model.compare import compare
    from mlops.model.lineage import open_version

    a, b = catalog.version(a_id), catalog.version(b_id)
    if a is None or b is None:
        raise KeyError(a_id if a is None else b_id)
    if a.meta.kind != b.meta.kind:
        raise MlopsError(f"cannot compare a {a.meta.kind} with a {b.meta.kind}: pick two datasets or two models")
    opened = [open_version(view.path, storage_options=catalog.storage_options) for view in (a, b)]
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
            return _reason(exc)

    with ThreadPoolExecutor(_WORKERS) as pool:
        return dict(zip(pairs, pool.map(one, pairs), strict=True))


def _tensors_to_read(catalog: Catalog, a_id: str, b_id: str, read_tensors: bool) -> str:
    """Why a report leaves out the diff of two dataset versions, or an empty string to compute it."""
    a, b = catalog.datasets.get(a_id), catalog.datasets.get(b_id)
    if a is None or b is None:
        return ""
    sha_b = {t.meta.name: t.sha256 for t in b.tensors}
    changed = [  # a table's diff is read from meta.json, never from its files
        t.meta.name
        for t in a.tensors
        if t.meta.name in sha_b and sha_b[t.meta.name] != t.sha256 and t.meta.table is None
    ]
    size = sum(t.size for t in (*a.tensors, *b.tensors) if t.meta.name in changed)
    if not changed or (read_tensors and size <= STATS_MAX_BYTES):
        return ""
    why = "--no-stats" if not read_tensors else f"they hold {size / 2**20:.0f} MiB"
    return (
        f"tensors {', '.join(changed)} differ and were not read for this report ({why}); "
        f"run `mlops diff {a.path} {b.path}` or compare them in `mlops ui`"
    )


def _reason(exc: BaseException) -> str:
    """An exception as one line of a page."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _aliases(root: str, storage_options: dict[str, Any] | None) -> dict[str, str] | str:
    """The aliases of ``root`` (alias -> version folder), or why they cannot be read (records not
    trusted under the policy in force, an unreachable store): the catalog is shown without them."""
    from mlops.versions.aliases import list_aliases

    try:
        return list_aliases(root, storage_options=storage_options)
    except (MlopsError, OSError) as exc:
        return _reason(exc)


def _manifest(found: FoundVersion, storage_options: dict[str, Any] | None) -> dict[str, FileEntry] | str:
    """Every file of a version with its sha256 and size, from its manifest (checked against
    meta.json); the reason instead when the manifest cannot be read or does not match."""
    from mlops.store import resolve
    from mlops.versions import layout

    try:
        return layout.read_manifest(resolve(found.path, storage_options), found.record)
    except (MlopsError, OSError) as exc:
        return _reason(exc)


# --- typed records -> views ----------------------------------------------------------------------------


def _files(manifest: Mapping[str, FileEntry], prefix: str = "") -> tuple[FileView, ...]:
    """The first :data:`FILES_SHOWN` files of ``manifest`` whose path starts with ``prefix``."""
    chosen = (rel for rel in manifest if rel.startswith(prefix))
    return tuple(FileView(rel, manifest[rel].size, manifest[rel].sha256) for rel in islice(chosen, FILES_SHOWN))


def _common(item: _Read[Any]) -> dict[str, Any]:
    """The fields of :class:`VersionView`."""
    return {
        "id": version_id(item.path),
        "root": item.root,
        "path": item.path,
        "meta": item.meta,
        "size": sum(entry.size for entry in item.manifest.values()),
        "file_count": len(item.manifest),
        "files": _files(item.manifest),
    }


def _dataset_view(
    item: _Read[DatasetRecord], *, storage_options: dict[str, Any] | None, with_stats: bool
) -> DatasetView:
    meta = item.meta
    raw = meta.raw
    stored = {name: stored_files(tensor, item.manifest) for name, tensor in meta.tensors.items()}
    sizes = {name: sum(entry.size for entry in entries.values()) for name, entries in stored.items()}
    arrays = {name: size for name, size in sizes.items() if meta.tensors[name].table is None}
    stats, notes = _tensor_stats(item.path, arrays, storage_options) if with_stats and arrays else ({}, {})
    notes |= {name: "a table: its columns are below" for name, t in meta.tensors.items() if t.table is not None}
    tensors = tuple(
        TensorView(
            meta=tensor,
            size=sizes[name],
            sha256=_digest(stored[name]),
            stats=stats.get(name),
            note=notes.get(name, "" if with_stats else "statistics not computed (--no-stats)"),
        )
        for name, tensor in meta.tensors.items()
    )
    return DatasetView(
        **_common(item),
        tensors=tensors,
        raw_files=_files(item.manifest, f"{raw.path or 'raw'}/") if raw.strategy == "copy" else (),
    )


def _digest(entries: Mapping[str, FileEntry]) -> str:
    """One sha256 of a tensor's stored files (a changed chunk of a zarr tensor changes it)."""
    listing = "".join(f"{rel}\0{entry.sha256}\0" for rel, entry in sorted(entries.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def _tensor_stats(
    path: str, sizes: Mapping[str, int], storage_options: dict[str, Any] | None
) -> tuple[dict[str, dict[str, float | int | None]], dict[str, str]]:
    """mean/std/min/max of each tensor (by name, with its stored size) small enough to read, and
    why the others have none."""
    from mlops.dataset.versioned_dataset import VersionedDataset
    from mlops.model.compare import tensor_stats

    stats: dict[str, dict[str, float | int | None]] = {}
    notes: dict[str, str] = {}
    try:
        dataset = VersionedDataset(path, storage_options=storage_options)
    except (MlopsError, OSError) as exc:
        return {}, {name: f"statistics unavailable: {_reason(exc)}" for name in sizes}
    for name, size in sizes.items():
        if size > STATS_MAX_BYTES:
            notes[name] = f"statistics not computed: stored in over {STATS_MAX_BYTES // 2**20} MiB"
            continue
        try:
            computed = tensor_stats(dataset[name])
        except (MlopsError, OSError, ValueError) as exc:
            notes[name] = f"statistics unavailable: {_reason(exc)}"
            continue
        stats[name] = {key: computed.get(key) for key in ("mean", "std", "min", "max")}
        if "mean" not in computed:
            notes[name] = "no statistics for this dtype"
    return stats, notes


def _model_view(item: _Read[ModelRecord], datasets: Sequence[DatasetView]) -> ModelView:
    from mlops.model.compare import final_metrics

    meta = item.meta
    history = _numeric_history(meta.history)
    return ModelView(
        **_common(item),
        dataset_id=_linked_dataset(meta.dataset, datasets),
        history=history,
        last={k: float(v) for k, v in final_metrics(history).items()},
        best=_best(history),
    )


def _numeric_history(history: Mapping[str, Any] | None) -> dict[str, list[float | None]]:
    """The per-epoch lists of numbers of a training history (gaps and non-finite values as None)."""
    out: dict[str, list[float | None]] = {}
    for key, values in (history or {}).items():
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


def _linked_dataset(link: DatasetLink, datasets: Iterable[DatasetView]) -> str | None:
    same_content = [d for d in datasets if d.meta.hash == link.hash]
    for view in same_content:
        if view.path == link.path:
            return view.id
    return same_content[0].id if same_content else None


# --- lineage -------------------------------------------------------------------------------------------------


def _lineage(
    datasets: Sequence[DatasetView], models: Sequence[ModelView], aliases: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[LineageNode, ...], tuple[tuple[str, str], ...]]:
    """raw data -> dataset versions -> models, laid out in three columns, each group kept together;
    a dataset or model node carries the aliases naming its version."""
    raw_nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    dataset_order: list[tuple[str, str, str]] = []  # (node id, label, route)
    for view in sorted(datasets, key=lambda d: (d.meta.raw.source, d.root, d.meta.created_at)):
        source = view.meta.raw.source
        raw_id = raw_nodes.setdefault(source, f"raw-{version_id(source)}")
        edges.append((raw_id, f"dataset-{view.id}"))
        dataset_order.append((f"dataset-{view.id}", f"{view.meta.name} {view.shown_version}", f"dataset/{view.id}"))
    external: dict[str, str] = {}  # node id -> label
    models_of: dict[str, list[ModelView]] = {}
    for model in models:
        if model.dataset_id is not None:
            key = f"dataset-{model.dataset_id}"
        else:
            key = f"external-{version_id(model.meta.dataset.path + model.meta.dataset.hash)}"
            external.setdefault(key, model.dataset_label)
        models_of.setdefault(key, []).append(model)
    for key, label in external.items():
        dataset_order.append((key, f"{label} (not in this catalog)", ""))
    model_order: list[tuple[str, str, str, str]] = []  # (node id, kind, label, route)
    for key, _, _ in dataset_order:
        group = sorted(models_of.get(key, []), key=lambda m: m.meta.created_at)
        if len(group) > MODELS_PER_LINEAGE_NODE:
            node = f"models-{key}"
            target = f"leaderboard?dataset={quote(group[0].dataset_label, safe='')}"
            model_order.append((node, "models", f"{len(group)} models (open the leaderboard)", target))
            edges.append((key, node))
            continue
        for model in group:
            tags = model.meta.tags
            label = f"{model.meta.name} {model.shown_version}" + (f" [{', '.join(tags)}]" if tags else "")
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
            named = aliases.get(route.split("/", 1)[1], ()) if kind in ("dataset", "model") else ()
            nodes.append(LineageNode(node, kind, label, index, offset + row, route, named))
    return tuple(nodes), tuple(edges)
