"""The commands of disk space: ``du`` (what each version of a root takes, and what only it holds),
``rm`` (remove one version, leaving every version that shares its files intact), ``clean``
(remove what crashed publishes left) and ``gc`` (remove the versions a retention policy drops)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

import click

from mlops.cli._common import Settings, json_option, pass_settings, warning
from mlops.cli._format import print_json

# --- du, rm -------------------------------------------------------------------------------------------------


@click.command("rm")
@click.argument("path")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option(
    "--if-unused-by",
    "models_root",
    metavar="MODELS_ROOT",
    help="Refuse while a model version under MODELS_ROOT was trained on this dataset.",
)
@click.option("--force", is_flag=True, help="Remove it even though an alias names it (the alias then names nothing).")
@json_option
@pass_settings
def rm_command(
    settings: Settings, path: str, dry_run: bool, models_root: str | None, force: bool, as_json: bool
) -> None:
    """Remove the version PATH: meta.json first (it disappears from listings and loads at once),
    then its files. Versions sharing files with it (deduplicated publishes) are not affected.
    A version an alias names is refused unless --force: move or remove the alias first."""
    from mlops.versions.removal import remove_version

    removed = remove_version(
        path, if_unused_by=models_root, force=force, dry_run=dry_run, storage_options=settings.storage_options
    )
    if as_json:
        print_json(asdict(removed), ascii_only=True)
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {removed.kind} {removed.name} {removed.version}: {removed.files} file(s), "
        f"{removed.bytes} bytes ({removed.path})"
    )


@click.command("du")
@click.argument("root")
@json_option
@pass_settings
def du_command(settings: Settings, root: str, as_json: bool) -> None:
    """Show each version's bytes under ROOT, the bytes only it holds (what `mlops rm` frees on a
    local disk), and the root's total and distinct bytes (deduplicated files count once).

    A damaged version (its meta.json or manifest cannot be read) is listed as DAMAGED and left out
    of the counts, with the reason on stderr; `mlops verify` is the check that fails on damage."""
    from mlops.versions.layout import folder_name, moved_note
    from mlops.versions.usage import disk_usage

    usage = disk_usage(root, storage_options=settings.storage_options)
    notes = [moved_note(v.folder, v.version) for v in usage.versions]
    for line in [*filter(None, notes), *(f"damaged version {p}: {why}" for p, why in usage.damaged.items())]:
        warning(line)
    if as_json:
        print_json(asdict(usage), ascii_only=True)
        return
    rows = [
        (v.folder, str(v.files), str(v.bytes), str(v.unique_bytes), f"holds version {v.version}" if note else "")
        for v, note in zip(usage.versions, notes, strict=True)
    ]
    rows += [(folder_name(path), "-", "-", "-", "DAMAGED") for path in usage.damaged]
    width = max([len("VERSION"), *(len(row[0]) for row in rows)])
    noted = any(row[4] for row in rows)
    click.echo(f"{'VERSION':<{width}}  {'FILES':>7}  {'BYTES':>14}  {'UNIQUE':>14}" + ("  NOTE" if noted else ""))
    for folder, files, size, unique, note in rows:
        click.echo(f"{folder:<{width}}  {files:>7}  {size:>14}  {unique:>14}" + (f"  {note}" if note else ""))
    saved = usage.bytes - usage.distinct_bytes
    damaged = f"; {len(usage.damaged)} damaged, not counted" if usage.damaged else ""
    click.echo(
        f"{len(usage.versions)} version(s): {usage.bytes} bytes in all, {usage.distinct_bytes} distinct "
        f"({saved} shared between versions){damaged}"
    )


# --- clean --------------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float:
    if value is None:
        return 0.0
    match = _DURATION.match(value)
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration such as 90s, 30m, 2h or 1d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


@click.command("clean")
@click.argument("root")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option(
    "--older-than",
    metavar="DURATION",
    callback=_parse_duration,
    help="Only remove incomplete versions whose publish started longer ago than this (90s, 30m, 2h, 1d; "
    "an unknown start time counts as recent): use it when publishers on other machines may still be running.",
)
@click.option("--version", "versions", multiple=True, metavar="NAME", help="Only this incomplete version (repeatable).")
@json_option
@pass_settings
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
    from mlops.versions.incomplete import remove_incomplete

    removed = remove_incomplete(
        root,
        versions=list(versions) or None,
        older_than=older_than,
        dry_run=dry_run,
        storage_options=settings.storage_options,
    )
    if as_json:
        print_json({"dry_run": dry_run, "removed": removed})
        return
    if not removed:
        click.echo(f"nothing to remove under {root}")
    for path in removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")


# --- gc -----------------------------------------------------------------------------------------------------


@click.command("gc")
@click.argument("root")
@click.option("--keep-last", type=click.IntRange(min=0), metavar="N", help="Keep the N newest versions.")
@click.option(
    "--keep-days", type=click.FloatRange(min=0), metavar="D", help="Keep the versions published in the last D days."
)
@click.option("--keep-tag", "keep_tags", multiple=True, metavar="TAG", help="Keep versions carrying TAG (repeatable).")
@click.option(
    "--models",
    "models",
    multiple=True,
    metavar="MODELS_ROOT",
    help="Keep the datasets a model under MODELS_ROOT was trained on (repeatable).",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=3600,
    show_default=True,
    metavar="SECONDS",
    help="Keep every version younger than this, whatever the policy (0: no grace).",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed (reads no manifest).")
@json_option
@pass_settings
def gc_command(settings: Settings, /, root: str, dry_run: bool, as_json: bool, **policy: Any) -> None:
    """Remove the versions under ROOT that the retention policy does not keep.

    A version is kept when any of --keep-last, --keep-days, --keep-tag keeps it (give at least
    one), and always while an alias names it, while a model under --models was trained on it, or
    while it is younger than --grace. Incomplete and damaged versions are never touched. Each
    removal goes as `mlops rm` does (meta.json first)."""
    from mlops.versions.retention import gc

    # policy: keep_last, keep_days, keep_tags, models and grace, named as gc() names them
    report = gc(root, dry_run=dry_run, storage_options=settings.storage_options, **policy)
    for path, reason in report.failed.items():
        warning(f"cannot remove {path}: {reason}")
    if as_json:
        print_json(report.to_json(), ascii_only=True)
    else:
        verb = "would remove" if dry_run else "removed"
        for removed in report:
            click.echo(f"{verb} {removed.kind} {removed.name} {removed.version} ({removed.path})")
        for path, reason in report.kept.items():
            click.echo(f"kept {path}: {reason}")
        if report.exact:
            freed = f"{report.bytes_freed} bytes freed"
        else:
            freed = f"up to {report.bytes_freed} bytes freed (sizes from meta.json; no manifest read)"
        click.echo(f"{verb} {len(report)} version(s), kept {len(report.kept)}; {freed}")
    if report.failed:
        raise click.exceptions.Exit(1)


COMMANDS = (du_command, rm_command, clean_command, gc_command)
