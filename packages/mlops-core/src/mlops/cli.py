"""The ``mlops`` command: browse, check, compare and move versioned datasets and models.

Every command prints text for people by default and JSON with ``--json``. Exit status: 0 on
success, 1 when the operation fails (a missing or damaged version, an unreachable store...), 2 on
a usage error. Failures print one line, ``mlops: error: ...``, on stderr; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import click

import mlops
from mlops import registry
from mlops.catalog.commands import report_command, ui_command
from mlops.errors import IntegrityError, MlopsError, NoVersionsError
from mlops.metadata import AnyRecord, DatasetRecord, ModelRecord, ProcessorRecord, PublishStats, RawRecord
from mlops.model.versioned_model import VersionedModel
from mlops.space_commands import du_command, rm_command
from mlops.store import FileEntry
from mlops.transfer import republish, update_tags
from mlops.trust.commands import inspect_command, keygen_command, sign_command

F = TypeVar("F", bound=Callable[..., Any])

EPILOG = """\b
Paths are local folders or fsspec URLs (s3://, gs://, memory://, file://...).
A ROOT is the folder versions are published under (what publish() was given),
a PATH is one version in it:  ROOT = s3://bucket/models/points
                               PATH = s3://bucket/models/points/v1

\b
Examples:
  mlops ls s3://bucket/datasets/points --tag tabular
  mlops show models/points/2024-01-31T10:00:00.000000 --plot history.png
  mlops verify s3://bucket/datasets/points/v1
  mlops diff datasets/points/v1 datasets/points/v2
  mlops republish datasets/points/v1 s3://bucket/datasets/points

\b
Exit status: 0 success, 1 failure (missing or damaged version, unreachable store...), 2 usage error.
Run `mlops COMMAND --help` for the options of a command."""


@dataclass(frozen=True)
class Settings:
    """Global options, shared by every command."""

    debug: bool = False
    storage_options: dict[str, Any] | None = None


# --- the command group and its error boundary -------------------------------------------------------


class _Group(click.Group):
    """Turns every failure into one line on stderr and exit status 1 (a traceback with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:  # `mlops ls ... | head`: the reader left, nothing to report
            sys.stderr.close()
            raise click.exceptions.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the command-line boundary
            settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
            if settings.debug:
                raise
            _error(_describe(exc))
            raise click.exceptions.Exit(1) from None


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (MlopsError, OSError)):
        return message
    return f"unexpected {type(exc).__name__}: {message} (run again with --debug to see the traceback)"


def _error(message: str) -> None:
    click.echo(f"mlops: error: {message}", err=True)


def _warning(message: str) -> None:
    click.echo(f"mlops: warning: {message}", err=True)


def _parse_storage_options(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, Any] | None:
    """``KEY=VALUE`` pairs as a dict; values that are valid JSON (true, 3, {"a": 1}) are decoded."""
    options: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. endpoint_url=http://127.0.0.1:9000)")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options or None


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG
)
@click.option(
    "-o",
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_storage_options,
    help="Option for the store, passed to fsspec (repeatable), e.g. -o endpoint_url=http://127.0.0.1:9000 "
    "or -o anon=true. Values that are JSON are decoded.",
)
@click.option("-v", "--verbose", count=True, help="Log what mlops does on stderr (-v: steps, -vv: details).")
@click.option("--debug", is_flag=True, help="Show the full traceback of a failure (and -vv logging).")
@click.version_option(mlops.__version__, "-V", "--version", package_name="mlops-core", prog_name="mlops")
@click.pass_context
def cli(ctx: click.Context, storage_options: dict[str, Any] | None, verbose: int, debug: bool) -> None:
    """Browse, check, compare and move versioned datasets and models.

    mlops stores each version as a folder holding its files and a meta.json that lists them with
    their sha256. These commands read meta.json (and, to verify or compare, the files) on local
    disk or any store fsspec reaches.
    """
    ctx.obj = Settings(debug=debug, storage_options=storage_options)
    _configure_logging(2 if debug else verbose)


def _configure_logging(verbosity: int) -> None:
    if verbosity <= 0:
        return
    logger = logging.getLogger("mlops")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    _warning(" ".join(str(message).split()))


def _json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")(function)


def _key_option(function: F) -> F:
    return click.option(
        "--key",
        "key",
        metavar="NAME",
        help="Private key (from `mlops keygen`) to sign with; default: MLOPS_SIGNING_KEY.",
    )(function)


def _tag_option(function: F) -> F:
    return click.option(
        "--tag",
        "tags",
        multiple=True,
        metavar="TAG",
        help="Only versions carrying this tag (repeatable: all must match).",
    )(function)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``mlops`` console script and of ``python -m mlops``."""
    warnings.showwarning = _show_warning  # one "mlops: warning: ..." line, not a source excerpt
    cli.main(args=list(argv) if argv is not None else None, prog_name="mlops")


# --- ls, latest ----------------------------------------------------------------------------------------


@cli.command("ls")
@click.argument("root")
@_tag_option
@click.option(
    "--incomplete",
    is_flag=True,
    help="List incomplete versions instead: claimed folders without meta.json, left by a publish (or a "
    "removal) that crashed or is still running (remove them with `mlops clean`).",
)
@_json_option
@click.pass_obj
def ls_command(settings: Settings, root: str, tags: tuple[str, ...], incomplete: bool, as_json: bool) -> None:
    """List the versions under ROOT, newest first.

    Shows each version's name, creation time, tags, the start of its content hash and its size.
    Fails (status 1) when ROOT holds no complete version.
    """
    if incomplete:
        _list_incomplete(settings, root, as_json)
        return
    listing = registry.scan_root(root, storage_options=settings.storage_options)
    for path, reason in listing.unreadable.items():
        _warning(f"skipped {path}: {reason}")
    wanted = set(tags)
    versions = [registry.VersionInfo.of(found) for found in listing.versions if wanted <= set(found.record.tags)]
    if not versions:
        raise NoVersionsError(registry.no_versions_message(listing, wanted))
    if as_json:
        _print_json([info.to_json() for info in versions])
        return
    rows = [[v.version, _when(v.created_at), ", ".join(v.tags), v.hash[:12], _size(v.size)] for v in versions]
    _print_table(["VERSION", "CREATED", "TAGS", "HASH", "SIZE"], rows)
    if listing.incomplete:
        click.echo(f"({len(listing.incomplete)} incomplete, not listed: see `mlops ls --incomplete {root}`)")


def _list_incomplete(settings: Settings, root: str, as_json: bool) -> None:
    from mlops.maintenance import list_incomplete

    found = list_incomplete(root, storage_options=settings.storage_options)
    if as_json:
        _print_json([asdict(item) for item in found])
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
        rows.append([item.version, _when(item.started_at or "") or "-", publisher, state])
    _print_table(["VERSION", "STARTED", "PUBLISHER", "STATE"], rows)


@cli.command("latest")
@click.argument("root")
@_tag_option
@_json_option
@click.pass_obj
def latest_command(settings: Settings, root: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Print the path of the newest complete version under ROOT.

    Handy in scripts: MODEL=$(mlops latest s3://bucket/models/points --tag production)
    """
    path = registry.latest(root, tags, storage_options=settings.storage_options)
    if as_json:
        _print_json(registry.version_info(path, storage_options=settings.storage_options).to_json())
    else:
        click.echo(path)


# --- show ------------------------------------------------------------------------------------------------

_FILES_SHOWN = 20


@cli.command("show")
@click.argument("path")
@click.option(
    "--plot", "plot", metavar="FILE", help="Also draw a model's training curves into FILE (.png, .svg, .pdf)."
)
@click.option("--all-files", is_flag=True, help=f"List every file (by default the first {_FILES_SHOWN}).")
@_json_option
@click.pass_obj
def show_command(settings: Settings, path: str, plot: str | None, all_files: bool, as_json: bool) -> None:
    """Describe the version at PATH: its metadata, tensors and files.

    For a model: its serializer, framework versions, training arguments, final metrics and the
    dataset it was trained on. Reads meta.json only (--plot needs matplotlib).
    """
    version = registry.open_version(path, storage_options=settings.storage_options)
    record = version.record
    if plot is not None and not isinstance(record, ModelRecord):
        raise click.UsageError("--plot draws a model's training curves; this is a dataset")
    if as_json:
        _print_json({"path": version.path, "metadata": version.metadata})
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
        ("created", _when(record.created_at)),
        ("tags", ", ".join(record.tags) or "-"),
        ("hash", record.hash),
        ("size", f"{_size(record.total_bytes)} in {_count(record.file_count, 'file')}"),
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
            ("framework", _pairs_text(record.framework)),
            ("dataset", f"{link.name} {link.version} (hash {link.hash[:12]}) at {link.path}"),
            ("train args", _pairs_text(record.train_args, sep="=")),
        ]
    pairs.append(("libraries", _pairs_text(record.libraries)))
    _print_pairs(pairs)


def _publish_text(stats: PublishStats) -> str:
    written = f"{_count(stats.files_written, 'file')} written ({_size(stats.bytes_written)})"
    return f"{written}, {stats.files_reused} reused from earlier versions ({_size(stats.bytes_reused)})"


def _print_tensors(record: DatasetRecord, files: Mapping[str, FileEntry]) -> None:
    from mlops.dataset.lazy import stored_files

    rows = [
        [t.name, t.role, _shape(list(t.shape)), t.dtype, _size(sum(e.size for e in stored_files(t, files).values()))]
        for t in record.tensors.values()
    ]
    _section("Tensors")
    _print_table(["NAME", "ROLE", "SHAPE", "DTYPE", "SIZE"], rows, indent=2)


def _print_metrics(record: ModelRecord) -> None:
    from mlops.compare import final_metrics

    history = record.history
    finals = final_metrics(history)
    if not finals or history is None:
        return
    epochs = max(len(v) for v in history.values() if isinstance(v, list))
    _section(f"Final metrics (after {_count(epochs, 'epoch')})")
    _print_table(["METRIC", "VALUE"], [[k, _number(v)] for k, v in finals.items()], indent=2)


def _print_files(files: dict[str, FileEntry], limit: int | None) -> None:
    shown = list(files.items())[:limit] if limit is not None else list(files.items())
    _section("Files")
    _print_table(["PATH", "SIZE", "SHA256"], [[rel, _size(e.size), e.sha256[:12]] for rel, e in shown], indent=2)
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


# --- verify ------------------------------------------------------------------------------------------------


@cli.command("verify")
@click.argument("path")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="NAME.pub",
    help="Also require a signature by this public key over every file (repeatable: any of them).",
)
@_json_option
@click.pass_obj
def verify_command(settings: Settings, path: str, keys: tuple[str, ...], as_json: bool) -> None:
    """Check every file of PATH against its sha256 in the manifest.

    Prints OK, or names the first file that is missing, truncated or changed (status 1).
    Remote files are downloaded and hashed again, never taken from the local cache. With --key
    (or MLOPS_TRUSTED_KEYS), the version must also be signed by a trusted key, covering every file.
    """
    version = registry.open_version(path, storage_options=settings.storage_options, trusted_keys=list(keys) or None)
    summary = f"{version.kind} {version.name} {version.version}"
    try:
        version.verify()
    except IntegrityError as exc:
        if as_json:
            _print_json({"path": version.path, "ok": False, "error": str(exc), "file": exc.file})
        raise
    files = version.files
    if as_json:
        _print_json({"path": version.path, "ok": True, "files": len(files), "signed_by": version.signer})
    else:
        total = _size(sum(e.size for e in files.values()))
        signed = f"; signed by the trusted key {version.signer[:16]}" if version.signer else ""
        click.echo(f"OK  {summary}: {_count(len(files), 'file')} ({total}) match meta.json{signed}")


# --- lineage -------------------------------------------------------------------------------------------------


@cli.command("lineage")
@click.argument("path")
@click.option(
    "--models", "models_root", metavar="ROOT", help="For a dataset: also list the models under ROOT trained on it."
)
@_json_option
@click.pass_obj
def lineage_command(settings: Settings, path: str, models_root: str | None, as_json: bool) -> None:
    """Show where PATH comes from: model -> dataset -> raw data.

    The dataset a model links to is opened to check it is still there with the same content
    (same hash); a moved or changed dataset is reported, not an error.
    """
    version = registry.open_version(path, storage_options=settings.storage_options)
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
        models = registry.models_trained_on(models_root, version, storage_options=settings.storage_options)  # type: ignore[arg-type]
    if as_json:
        out: dict[str, Any] = {"chain": chain}
        if models is not None:
            out["models"] = [m.to_json() for m in models]
        _print_json(out)
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
            click.echo(f"  {model.version}  {_when(model.created_at)}  {model.path}")


def _node(record: AnyRecord, path: str) -> dict[str, Any]:
    return {"kind": record.kind, "name": record.name, "version": record.version, "hash": record.hash, "path": path}


def _follow_dataset_link(model: VersionedModel, settings: Settings) -> tuple[str, DatasetRecord | None]:
    """Status of a model's dataset link ('ok', 'missing', 'changed: ...', 'unreadable: ...') and,
    when it can be read, the linked dataset's record."""
    from mlops.errors import VersionNotFoundError

    link = model.record.dataset
    try:
        dataset = model.dataset
    except VersionNotFoundError:
        return "missing: no dataset at this path any more", None
    except (MlopsError, OSError) as exc:
        return f"unreadable: {_describe(exc)}", None
    if dataset.hash != link.hash:
        return f"changed: the path now holds other content (hash {dataset.hash[:12]})", dataset.record
    return "ok", dataset.record


# --- diff ------------------------------------------------------------------------------------------------------


@cli.command("diff")
@click.argument("path_a", metavar="PATH_A")
@click.argument("path_b", metavar="PATH_B")
@_json_option
@click.pass_obj
def diff_command(settings: Settings, path_a: str, path_b: str, as_json: bool) -> None:
    """Show what changed from version PATH_A to version PATH_B.

    Tensors and files are compared by sha256; changed tensors are loaded to show their shape,
    dtype and mean/std/min/max on both sides. Also lists raw files added, removed or changed,
    tag changes, final metrics (models) and every other metadata difference.
    """
    from mlops.compare import compare

    a = registry.open_version(path_a, storage_options=settings.storage_options)
    b = registry.open_version(path_b, storage_options=settings.storage_options)
    result = compare(a, b)
    if as_json:
        _print_json(result)
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
        _section("Files")
        for mark, key in (("+", "added"), ("-", "removed"), ("~", "changed")):
            for rel in files[key]:
                click.echo(f"  {mark} {rel}")
    tags = result["tags"]
    if tags["added"] or tags["removed"]:
        _section("Tags")
        click.echo("  " + "  ".join([*(f"+{t}" for t in tags["added"]), *(f"-{t}" for t in tags["removed"])]))
    if result.get("metrics"):
        _section("Final metrics")
        _print_table(
            ["METRIC", "A", "B"], [[m["name"], _number(m["a"]), _number(m["b"])] for m in result["metrics"]], indent=2
        )
    if result["metadata"]:
        _section("Metadata")
        for change in result["metadata"]:
            click.echo(f"  {change['key']}: {_value(change['a'])} -> {_value(change['b'])}")


def _print_tensor_diff(tensors: dict[str, Any]) -> None:
    _section("Tensors")
    for item in tensors["added"]:
        click.echo(f"  + {item['name']}  {_shape(item['shape'])} {item['dtype']}")
    for item in tensors["removed"]:
        click.echo(f"  - {item['name']}  {_shape(item['shape'])} {item['dtype']}")
    for change in tensors["changed"]:
        a, b = change["a"], change["b"]
        shape = _shape(a["shape"]) if a["shape"] == b["shape"] else f"{_shape(a['shape'])} -> {_shape(b['shape'])}"
        dtype = a["dtype"] if a["dtype"] == b["dtype"] else f"{a['dtype']} -> {b['dtype']}"
        differing = change.get("differing_elements")
        detail = f", {_count(differing, 'element')} differ" if differing is not None else ""
        click.echo(f"  ~ {change['name']}  {shape} {dtype}{detail}")
        rows = [
            [side, *(_number(stats.get(k)) for k in ("mean", "std", "min", "max"))]
            for side, stats in (("A", a), ("B", b))
        ]
        _print_table(["", "MEAN", "STD", "MIN", "MAX"], rows, indent=6)
    if tensors["unchanged"]:
        click.echo(f"  = unchanged: {', '.join(tensors['unchanged'])}")


# --- plugins ------------------------------------------------------------------------------------------------------


@cli.command("plugins")
@_json_option
def plugins_command(as_json: bool) -> None:
    """List the installed plugins and what they provide.

    Serializers save and load models of a framework, stores serve URL schemes, processors
    are ready-made data processors. Each comes with its distribution and version.
    """
    from mlops import plugins

    def origin(module: str) -> dict[str, Any]:
        dist = plugins.distribution_of_module(module)
        version = _dist_version(dist)
        return {"distribution": dist, "version": version}

    data: dict[str, list[dict[str, Any]]] = {
        "plugins": [{"name": n, "module": m, **origin(m)} for n, m in plugins.loaded_plugins().items()],
        "serializers": [
            {"name": name, "class": _qualname(type(s)), "priority": s.priority, **origin(type(s).__module__)}
            for name, s in plugins.serializers().items()
        ],
        "stores": [
            {"schemes": list(cls.schemes), "class": _qualname(cls), **origin(cls.__module__)}
            for cls in plugins.store_classes()
        ]
        + [
            {"schemes": ["file"], "class": "mlops.store.LocalStore", **origin("mlops.store")},
            {"schemes": ["*"], "class": "mlops.store.FsspecStore", **origin("mlops.store")},
        ],
        "processors": [{"class": qualname, **origin(cls.__module__)} for qualname, cls in plugins.processors().items()],
    }
    if as_json:
        _print_json(data)
        return
    _section("Plugins", first=True)
    _print_table(
        ["NAME", "MODULE", "DISTRIBUTION", "VERSION"],
        [[p["name"], p["module"], *_origin_cells(p)] for p in data["plugins"]],
        indent=2,
    )
    _section("Serializers")
    _print_table(
        ["NAME", "CLASS", "DISTRIBUTION", "VERSION", "PRIORITY"],
        [[s["name"], s["class"], *_origin_cells(s), str(s["priority"])] for s in data["serializers"]],
        indent=2,
    )
    _section("Stores")
    rows = [
        [", ".join(p["schemes"]) if p["schemes"] != ["*"] else "* (every other)", p["class"], *_origin_cells(p)]
        for p in data["stores"]
    ]
    _print_table(["SCHEMES", "CLASS", "DISTRIBUTION", "VERSION"], rows, indent=2)
    _section("Processors")
    _print_table(
        ["CLASS", "DISTRIBUTION", "VERSION"], [[p["class"], *_origin_cells(p)] for p in data["processors"]], indent=2
    )


def _origin_cells(item: dict[str, Any]) -> list[str]:
    return [item["distribution"] or "-", item["version"] or "-"]


def _dist_version(distribution: str | None) -> str | None:
    if distribution is None:
        return None
    from mlops.metadata import library_versions

    return library_versions(distribution).get(distribution)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- republish, tag, clean ---------------------------------------------------------------------------------------


@cli.command("republish")
@click.argument("src", metavar="PATH")
@click.argument("new_root", metavar="NEW_ROOT")
@click.option("--version", "version", metavar="NAME", help="Publish under this version name (default: the same name).")
@click.option(
    "--target-storage-option",
    "target_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_parse_storage_options,
    help="Store option for NEW_ROOT only (repeatable); by default NEW_ROOT gets the global -o options.",
)
@_key_option
@_json_option
@click.pass_obj
def republish_command(
    settings: Settings,
    src: str,
    new_root: str,
    version: str | None,
    target_options: dict[str, Any] | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Copy the version at PATH under NEW_ROOT, e.g. local to S3.

    The copy is the same version (same name, creation time, tags and hash), published whole or
    not at all; every file is checked against meta.json while it is copied. Prints the new path.
    """
    url = republish(
        src,
        new_root,
        version=version,
        storage_options=settings.storage_options,
        target_storage_options=target_options,
        signing_key=key,
    )
    if as_json:
        _print_json(registry.version_info(url, storage_options=target_options or settings.storage_options).to_json())
    else:
        click.echo(url)


@cli.command("tag")
@click.argument("path")
@click.option("--add", "add", multiple=True, metavar="TAG", help="Tag to add (repeatable).")
@click.option("--remove", "remove", multiple=True, metavar="TAG", help="Tag to remove (repeatable).")
@_key_option
@_json_option
@click.pass_obj
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
        _print_json(tags)
    else:
        click.echo(", ".join(tags) if tags else "(no tags)")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float:
    if value is None:
        return 0.0
    match = _DURATION.match(value)
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration such as 90s, 30m, 2h or 1d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


@cli.command("clean")
@click.argument("root")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option(
    "--older-than",
    "older_than",
    metavar="DURATION",
    callback=_parse_duration,
    help="Only remove incomplete versions whose publish started longer ago than this (90s, 30m, 2h, 1d; "
    "an unknown start time counts as recent): use it when publishers on other machines may still be running.",
)
@click.option("--version", "versions", multiple=True, metavar="NAME", help="Only this incomplete version (repeatable).")
@_json_option
@click.pass_obj
def clean_command(
    settings: Settings, root: str, dry_run: bool, older_than: float, versions: tuple[str, ...], as_json: bool
) -> None:
    """Remove incomplete versions under the publication root ROOT (crashed publishes).

    Incomplete versions are folders holding a publish claim and no meta.json, left by a publish
    (or an `mlops rm`) that crashed or was killed; they block publishing that version again. Only
    those, and the staging folders killed local publishes left, are removed, each file by its
    exact name. Never removed: complete versions, folders without a claim (yours), versions a
    live process on this machine is still publishing. Publishes running on other machines cannot
    be seen from here: use --older-than. ROOT must be a publication root (the folder given to
    publish()); anything else is refused and nothing is removed. --dry-run lists exactly what a
    real run removes.
    """
    from mlops.maintenance import remove_incomplete

    removed = remove_incomplete(
        root,
        versions=list(versions) or None,
        older_than=older_than,
        dry_run=dry_run,
        storage_options=settings.storage_options,
    )
    if as_json:
        _print_json({"dry_run": dry_run, "removed": removed})
        return
    if not removed:
        click.echo(f"nothing to remove under {root}")
    for path in removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")


# --- formatting ------------------------------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _print_table(headers: list[str], rows: Iterable[Sequence[Any]], indent: int = 0) -> None:
    rows = [[str(cell) for cell in row] for row in rows]
    if not rows:
        click.echo(" " * indent + "(none)")
        return
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in [headers, *rows]:
        click.echo((" " * indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip())


def _print_pairs(pairs: list[tuple[str, str]]) -> None:
    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        click.echo(f"{key.ljust(width)}  {value}")


def _section(title: str, first: bool = False) -> None:
    if not first:
        click.echo()
    click.echo(title)


def _pairs_text(mapping: Any, sep: str = " ") -> str:
    if not isinstance(mapping, dict) or not mapping:
        return "-"
    return ", ".join(f"{k}{sep}{_value(v) if sep == '=' else v}" for k, v in mapping.items())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _when(created_at: str) -> str:
    return created_at[:19].replace("T", " ")


def _shape(shape: Any) -> str:
    if not isinstance(shape, list):
        return "?"
    return " x ".join(str(n) for n in shape) if shape else "scalar"


def _size(size: Any) -> str:
    if not isinstance(size, int):
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover - the loop returns


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _value(value: Any, limit: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Commands defined in their own modules.
cli.add_command(keygen_command)
cli.add_command(inspect_command)
cli.add_command(sign_command)
cli.add_command(ui_command)
cli.add_command(report_command)
cli.add_command(rm_command)
cli.add_command(du_command)


if __name__ == "__main__":  # pragma: no cover - `python -m mlops` goes through __main__.py
    main()
