"""The commands that read versions: ``ls`` and ``latest`` (the versions under a root), ``show`` (one
version), ``lineage`` (model -> dataset -> raw data), ``diff`` (two versions), and ``tag``, the one
that changes a version's labels."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import click

from mlops.cli._common import Settings, describe, json_option, key_option, pass_settings, tag_option, warning
from mlops.cli._format import count, pairs_text, print_json, print_pairs, print_table, section, shape_text, value_text
from mlops.errors import MlopsError, NoVersionsError
from mlops.metadata import (
    AnyRecord,
    DatasetRecord,
    ModelRecord,
    ProcessorRecord,
    PublishStats,
    RawRecord,
    TableRecord,
)
from mlops.model import lineage
from mlops.model.versioned_model import VersionedModel
from mlops.store import FileEntry
from mlops.utils.humanize import format_bytes, format_number, format_timestamp
from mlops.versions import listing as registry
from mlops.versions.layout import folder_name, listing_warnings
from mlops.versions.tags import update_tags

# --- ls, latest ----------------------------------------------------------------------------------------


@click.command("ls")
@click.argument("root")
@tag_option
@click.option(
    "--incomplete",
    is_flag=True,
    help="List incomplete versions instead: claimed folders without meta.json, left by a publish (or a "
    "removal) that crashed or is still running (remove them with `mlops clean`).",
)
@json_option
@pass_settings
def ls_command(settings: Settings, root: str, tags: tuple[str, ...], incomplete: bool, as_json: bool) -> None:
    """List the versions under ROOT, newest first.

    Shows each version's folder, creation time, tags, the start of its content hash and its size.
    A damaged version (its meta.json cannot be read or validated) is listed as DAMAGED, whatever
    the tags asked for, with the reason on stderr (`mlops verify` is the check that fails on damage);
    a folder whose name is not the version its meta.json records (a copied or renamed folder) is
    noted. Fails (status 1) when ROOT holds no version at all.
    """
    if incomplete:
        _list_incomplete(settings, root, as_json)
        return
    listing = registry.scan_root(root, storage_options=settings.storage_options)
    wanted = set(tags)
    found = [v for v in listing.versions if wanted <= set(v.record.tags)]
    for line in listing_warnings(found, listing.unreadable):
        warning(line)
    if not found and not listing.unreadable:
        raise NoVersionsError(registry.no_versions_message(listing, wanted))
    if as_json:
        listed = [{**registry.VersionInfo.of(v).to_json(), "damaged": None} for v in found]
        print_json(listed + [_damaged_json(path, reason) for path, reason in listing.unreadable.items()])
        return
    rows = []
    for v in found:
        info = registry.VersionInfo.of(v)
        note = f"holds version {info.version}" if v.moved else ""
        rows.append(
            [
                info.folder,
                format_timestamp(info.created_at),
                ", ".join(info.tags),
                info.hash[:12],
                format_bytes(info.size),
                note,
            ]
        )
    rows += [[folder_name(path), "-", "-", "-", "-", "DAMAGED"] for path in listing.unreadable]
    if not any(row[-1] for row in rows):
        rows = [row[:-1] for row in rows]
    print_table(["VERSION", "CREATED", "TAGS", "HASH", "SIZE", "NOTE"][: len(rows[0])], rows)
    if listing.incomplete:
        click.echo(f"({len(listing.incomplete)} incomplete, not listed: see `mlops ls --incomplete {root}`)")


def _damaged_json(path: str, reason: str) -> dict[str, Any]:
    empty = dict.fromkeys(["version", "kind", "name", "created_at", "hash", "size"])
    return {**empty, "folder": folder_name(path), "path": path, "tags": [], "damaged": reason}


def _list_incomplete(settings: Settings, root: str, as_json: bool) -> None:
    from mlops.versions.incomplete import list_incomplete

    found = list_incomplete(root, storage_options=settings.storage_options)
    if as_json:
        print_json([asdict(item) for item in found])
        return
    if not found:
        click.echo(f"no incomplete versions under {root}")
        return
    here = socket.gethostname()
    rows = []
    for item in found:
        if item.running:
            state = "publishing (live process)"
        elif item.host is None:
            state = "unknown (claim unreadable)"
        elif item.host == here:
            state = "abandoned (process gone)"
        else:
            state = "unknown (publisher on another machine)"
        publisher = f"{item.host}:{item.pid}" if item.host else "-"
        rows.append([item.version, format_timestamp(item.started_at or "") or "-", publisher, state])
    print_table(["VERSION", "STARTED", "PUBLISHER", "STATE"], rows)


@click.command("latest")
@click.argument("root")
@tag_option
@json_option
@pass_settings
def latest_command(settings: Settings, root: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Print the path of the newest complete version under ROOT.

    Handy in scripts: MODEL=$(mlops latest s3://bucket/models/points --tag production)
    """
    path = registry.latest(root, tags, storage_options=settings.storage_options)
    if as_json:
        print_json(registry.version_info(path, storage_options=settings.storage_options).to_json())
    else:
        click.echo(path)


# --- show ------------------------------------------------------------------------------------------------

_FILES_SHOWN = 20


@click.command("show")
@click.argument("path")
@click.option(
    "--plot", "plot", metavar="FILE", help="Also draw a model's training curves into FILE (.png, .svg, .pdf)."
)
@click.option("--all-files", is_flag=True, help=f"List every file (by default the first {_FILES_SHOWN}).")
@json_option
@pass_settings
def show_command(settings: Settings, path: str, plot: str | None, all_files: bool, as_json: bool) -> None:
    """Describe the version at PATH: its metadata, tensors and files.

    For a model: its serializer, framework versions, training arguments, final metrics and the
    dataset it was trained on. Reads meta.json only (--plot needs matplotlib).
    """
    version = lineage.open_version(path, storage_options=settings.storage_options)
    record = version.record
    if plot is not None and not isinstance(record, ModelRecord):
        raise click.UsageError("--plot draws a model's training curves; this is a dataset")
    if as_json:
        print_json({"path": version.path, "metadata": version.metadata})
    else:
        _print_overview(version.path, record)
        if isinstance(record, DatasetRecord):
            _print_tensors(record, version.files)
        else:
            _print_metrics(record)
        _print_files(version.files, None if all_files else _FILES_SHOWN)
    if plot is not None and isinstance(version, VersionedModel):
        written = version.plot_history(plot)
        click.echo(f"training curves written to {written}", err=as_json)


def _print_overview(path: str, record: AnyRecord) -> None:
    pairs = [
        (record.kind, f"{record.name} {record.version}"),
        ("path", path),
        ("created", format_timestamp(record.created_at)),
        ("tags", ", ".join(record.tags) or "-"),
        ("hash", record.hash),
        ("size", f"{format_bytes(record.total_bytes)} in {count(record.file_count, 'file')}"),
    ]
    if record.publish is not None:
        pairs.append(("published", _publish_text(record.publish)))
    if isinstance(record, DatasetRecord):
        pairs += [("raw", _raw_text(record.raw)), ("processor", _processor_text(record.processor))]
    else:
        serializer = record.serializer
        dist, dist_version = serializer.distribution, serializer.distribution_version
        origin = f" (from {dist} {dist_version})" if dist and dist_version else f" (from {dist})" if dist else ""
        link = record.dataset
        pairs += [
            ("serializer", f"{serializer.name}{origin}"),
            ("framework", pairs_text(record.framework)),
            ("dataset", f"{link.name} {link.version} (hash {link.hash[:12]}) at {link.path}"),
            ("train args", pairs_text(record.train_args, sep="=")),
        ]
    pairs.append(("libraries", pairs_text(record.libraries)))
    print_pairs(pairs)


def _publish_text(stats: PublishStats) -> str:
    written = f"{count(stats.files_written, 'file')} written ({format_bytes(stats.bytes_written)})"
    return f"{written}, {stats.files_reused} reused from earlier versions ({format_bytes(stats.bytes_reused)})"


def _print_tensors(record: DatasetRecord, files: Mapping[str, FileEntry]) -> None:
    from mlops.dataset.lazy import stored_files

    rows = [
        [
            t.name,
            t.role,
            shape_text(list(t.shape)),
            t.dtype,
            format_bytes(sum(e.size for e in stored_files(t, files).values())),
        ]
        for t in record.tensors.values()
    ]
    section("Tensors")
    print_table(["NAME", "ROLE", "SHAPE", "DTYPE", "SIZE"], rows, indent=2)
    for t in record.tensors.values():
        if t.table is not None:
            _print_schema(t.name, t.table)


def _stat(value: Any) -> str:
    """A column statistic: ``-`` where none was recorded, strings as they are."""
    return "-" if value is None else value if isinstance(value, str) else value_text(value)


def _print_schema(name: str, table: TableRecord) -> None:
    """A table's schema and column statistics, as meta.json records them."""
    section(f"Table {name} ({table.kind}, {count(table.rows, 'row')} in {count(table.files, 'Parquet file')})")
    print_table(
        ["COLUMN", "TYPE", "NULLS", "MIN", "MAX"],
        [[c.name, c.type, _stat(c.nulls), _stat(c.min), _stat(c.max)] for c in table.columns],
        indent=2,
    )


def _print_metrics(record: ModelRecord) -> None:
    from mlops.model.compare import final_metrics

    history = record.history
    finals = final_metrics(history)
    if not finals or history is None:
        return
    epochs = max(len(v) for v in history.values() if isinstance(v, list))
    section(f"Final metrics (after {count(epochs, 'epoch')})")
    print_table(["METRIC", "VALUE"], [[k, format_number(v)] for k, v in finals.items()], indent=2)


def _print_files(files: dict[str, FileEntry], limit: int | None) -> None:
    shown = list(files.items())[:limit] if limit is not None else list(files.items())
    section("Files")
    print_table(["PATH", "SIZE", "SHA256"], [[rel, format_bytes(e.size), e.sha256[:12]] for rel, e in shown], indent=2)
    if len(shown) < len(files):
        click.echo(f"  ... and {len(files) - len(shown)} more (--all-files to list them)")


def _raw_text(raw: RawRecord | dict[str, Any]) -> str:
    strategy, source, where = (
        (raw.strategy, raw.source, raw.path)
        if isinstance(raw, RawRecord)
        else (raw.get("strategy"), raw.get("source"), raw.get("path"))
    )
    if strategy == "link":
        return f"link to {source} (not copied)"
    return f"copy of {source}, stored under {where or 'raw'}/"


def _processor_text(processor: ProcessorRecord) -> str:
    return f"{processor.class_name} ({processor.pickler}, Python {processor.python})"


# --- lineage -------------------------------------------------------------------------------------------------


@click.command("lineage")
@click.argument("path")
@click.option(
    "--models", "models_root", metavar="ROOT", help="For a dataset: also list the models under ROOT trained on it."
)
@json_option
@pass_settings
def lineage_command(settings: Settings, path: str, models_root: str | None, as_json: bool) -> None:
    """Show where PATH comes from: model -> dataset -> raw data.

    The dataset a model links to is opened to check it is still there with the same content
    (same hash); a moved or changed dataset is reported, not an error.
    """
    version = lineage.open_version(path, storage_options=settings.storage_options)
    chain: list[dict[str, Any]] = []
    record = version.record
    dataset_record: DatasetRecord | None = None
    chain.append(_node(record, version.path))
    if isinstance(record, ModelRecord):
        link = record.dataset
        status, dataset_record = _follow_dataset_link(version, settings)  # type: ignore[arg-type]
        chain.append(
            {"kind": "dataset", "name": link.name, "version": link.version, "hash": link.hash, "path": link.path}
            | {"status": status}
        )
    else:
        dataset_record = record
    if dataset_record is not None:
        chain.append({"kind": "raw", "strategy": dataset_record.raw.strategy, "source": dataset_record.raw.source})
    models = None
    if models_root is not None:
        if not isinstance(record, DatasetRecord):
            raise click.UsageError("--models lists the models of a dataset; PATH is a model")
        models = lineage.models_trained_on(models_root, version, storage_options=settings.storage_options)  # type: ignore[arg-type]
    if as_json:
        out: dict[str, Any] = {"chain": chain}
        if models is not None:
            out["models"] = [m.to_json() for m in models]
        print_json(out)
        return
    for depth, node in enumerate(chain):
        pad = "  " * depth + ("└─ " if depth else "")
        if node["kind"] == "raw":
            click.echo(f"{pad}raw data: {_raw_text(node)}")
            continue
        status = node.get("status", "ok")
        note = "" if status == "ok" else f"  [{status}]"
        prefix = str(node["hash"])[:12]
        click.echo(f"{pad}{node['kind']} {node['name']} {node['version']}  {node['path']}  (hash {prefix}){note}")
    if models is not None:
        click.echo(f"models trained on it under {models_root}: {len(models)}")
        for model in models:
            click.echo(f"  {model.version}  {format_timestamp(model.created_at)}  {model.path}")


def _node(record: AnyRecord, path: str) -> dict[str, Any]:
    return {"kind": record.kind, "name": record.name, "version": record.version, "hash": record.hash, "path": path}


def _follow_dataset_link(model: VersionedModel, settings: Settings) -> tuple[str, DatasetRecord | None]:
    """Status of a model's dataset link ('ok', 'missing', 'changed: ...', 'unreadable: ...') and,
    when it can be read, the linked dataset's record."""
    from mlops.errors import DatasetChangedError, VersionNotFoundError

    try:
        dataset = model.dataset
    except VersionNotFoundError:
        return "missing: no dataset at this path any more", None
    except DatasetChangedError as exc:
        return f"changed: the path now holds other content (hash {exc.found[:12]})", exc.dataset.record
    except (MlopsError, OSError) as exc:
        return f"unreadable: {describe(exc)}", None
    return "ok", dataset.record


# --- diff ------------------------------------------------------------------------------------------------------


@click.command("diff")
@click.argument("path_a", metavar="PATH_A")
@click.argument("path_b", metavar="PATH_B")
@json_option
@pass_settings
def diff_command(settings: Settings, path_a: str, path_b: str, as_json: bool) -> None:
    """Show what changed from version PATH_A to version PATH_B.

    Tensors and files are compared by sha256; changed tensors are loaded to show their shape,
    dtype and mean/std/min/max on both sides. Also lists raw files added, removed or changed,
    tag changes, final metrics (models) and every other metadata difference.
    """
    from mlops.model.compare import compare

    a = lineage.open_version(path_a, storage_options=settings.storage_options)
    b = lineage.open_version(path_b, storage_options=settings.storage_options)
    result = compare(a, b)
    if as_json:
        print_json(result)
        return
    click.echo(f"A  {result['kind']} {result['a']['version']}  {result['a']['path']}")
    click.echo(f"B  {result['kind']} {result['b']['version']}  {result['b']['path']}")
    if result["same_content"]:
        click.echo(f"same content (hash {result['a']['hash'][:12]})")
    else:
        click.echo(f"content differs (hash {result['a']['hash'][:12]} -> {result['b']['hash'][:12]})")
    if "tensors" in result:
        _print_tensor_diff(result["tensors"])
    files = result["files"]
    if any(files.values()):
        section("Files")
        for mark, key in (("+", "added"), ("-", "removed"), ("~", "changed")):
            for rel in files[key]:
                click.echo(f"  {mark} {rel}")
    tags = result["tags"]
    if tags["added"] or tags["removed"]:
        section("Tags")
        click.echo("  " + "  ".join([*(f"+{t}" for t in tags["added"]), *(f"-{t}" for t in tags["removed"])]))
    if result.get("metrics"):
        section("Final metrics")
        print_table(
            ["METRIC", "A", "B"],
            [[m["name"], format_number(m["a"]), format_number(m["b"])] for m in result["metrics"]],
            indent=2,
        )
    if result["metadata"]:
        section("Metadata")
        for change in result["metadata"]:
            click.echo(f"  {change['key']}: {value_text(change['a'])} -> {value_text(change['b'])}")


def _print_tensor_diff(tensors: dict[str, Any]) -> None:
    section("Tensors")
    for item in tensors["added"]:
        click.echo(f"  + {item['name']}  {shape_text(item['shape'])} {item['dtype']}")
    for item in tensors["removed"]:
        click.echo(f"  - {item['name']}  {shape_text(item['shape'])} {item['dtype']}")
    for change in tensors["changed"]:
        if "table" in change:
            _print_table_diff(change["name"], change["table"])
            continue
        a, b = change["a"], change["b"]
        shapes = [shape_text(a["shape"]), shape_text(b["shape"])]
        shape = shapes[0] if a["shape"] == b["shape"] else " -> ".join(shapes)
        dtype = a["dtype"] if a["dtype"] == b["dtype"] else f"{a['dtype']} -> {b['dtype']}"
        differing = change.get("differing_elements")
        detail = f", {count(differing, 'element')} differ" if differing is not None else ""
        click.echo(f"  ~ {change['name']}  {shape} {dtype}{detail}")
        rows = [
            [side, *(format_number(stats.get(k)) for k in ("mean", "std", "min", "max"))]
            for side, stats in (("A", a), ("B", b))
        ]
        print_table(["", "MEAN", "STD", "MIN", "MAX"], rows, indent=6)
    if tensors["unchanged"]:
        click.echo(f"  = unchanged: {', '.join(tensors['unchanged'])}")


def _print_table_diff(name: str, table: dict[str, Any]) -> None:
    rows_a, rows_b = table["rows"]
    rows = f"{rows_a} rows" if rows_a == rows_b else f"{rows_a} -> {rows_b} rows"
    kinds = table["kind"][0] if table["kind"][0] == table["kind"][1] else " -> ".join(table["kind"])
    click.echo(f"  ~ {name}  table ({kinds}), {rows}")
    for column in table["added"]:
        click.echo(f"      + column {column['name']}: {column['type']}")
    for column in table["removed"]:
        click.echo(f"      - column {column['name']}: {column['type']}")
    for column in table["retyped"]:
        click.echo(f"      ~ column {column['name']}: {column['a']} -> {column['b']}")
    if table["statistics"]:
        print_table(
            ["COLUMN", "", "NULLS", "MIN", "MAX"],
            [
                [
                    column["name"] if side == "a" else "",
                    side.upper(),
                    *(_stat(column[side][k]) for k in ("nulls", "min", "max")),
                ]
                for column in table["statistics"]
                for side in ("a", "b")
            ],
            indent=6,
        )


# --- tag ---------------------------------------------------------------------------------------------------------


@click.command("tag")
@click.argument("path")
@click.option("--add", "add", multiple=True, metavar="TAG", help="Tag to add (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="TAG", help="Tag to remove (repeatable).")
@key_option
@json_option
@pass_settings
def tag_command(
    settings: Settings, path: str, add: tuple[str, ...], remove: tuple[str, ...], key: str | None, as_json: bool
) -> None:
    """Add or remove tags of the version at PATH, and print its tags.

    Tags are labels, not content: the hash and the manifest stay valid. Two tag updates of one
    version at the same moment: the last one wins. A signed version is signed again (--key).
    """
    if add or remove:
        tags = update_tags(path, add, remove, signing_key=key, storage_options=settings.storage_options)
    else:
        tags = list(registry.version_info(path, storage_options=settings.storage_options).tags)
    if as_json:
        print_json(tags)
    else:
        click.echo(", ".join(tags) if tags else "(no tags)")


COMMANDS = (ls_command, latest_command, show_command, lineage_command, diff_command, tag_command)
