"""``mlops rm`` and ``mlops du``: remove one version (leaving every version that shares its files
intact), and see what each version of a root takes.

Registered on the ``mlops`` group in :mod:`mlops.cli`; reads the group's ``-o`` store options from
the click context, so this module does not import the CLI module.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click


def _storage_options() -> dict[str, Any] | None:
    options = getattr(click.get_current_context().obj, "storage_options", None)
    return options if isinstance(options, dict) else None


@click.command("rm")
@click.argument("path")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option(
    "--if-unused-by",
    "models_root",
    metavar="MODELS_ROOT",
    help="Refuse while a model version under MODELS_ROOT was trained on this dataset.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")
def rm_command(path: str, dry_run: bool, models_root: str | None, as_json: bool) -> None:
    """Remove the version PATH: meta.json first (it disappears from listings and loads at once),
    then its files. Versions sharing files with it (deduplicated publishes) are not affected."""
    from mlops.versions.removal import remove_version

    removed = remove_version(path, if_unused_by=models_root, dry_run=dry_run, storage_options=_storage_options())
    if as_json:
        click.echo(json.dumps(asdict(removed), indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {removed.kind} {removed.name} {removed.version}: {removed.files} file(s), "
        f"{removed.bytes} bytes ({removed.path})"
    )


@click.command("du")
@click.argument("root")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")
def du_command(root: str, as_json: bool) -> None:
    """Show each version's bytes under ROOT, the bytes only it holds (what `mlops rm` frees on a
    local disk), and the root's total and distinct bytes (deduplicated files count once).

    A damaged version (its meta.json or manifest cannot be read) is listed as DAMAGED and left out
    of the counts, with the reason on stderr; `mlops verify` is the check that fails on damage."""
    from mlops.versions.layout import folder_name, moved_note
    from mlops.versions.usage import disk_usage

    usage = disk_usage(root, storage_options=_storage_options())
    notes = [moved_note(v.folder, v.version) for v in usage.versions]
    for line in [*filter(None, notes), *(f"damaged version {p}: {why}" for p, why in usage.damaged.items())]:
        click.echo(f"mlops: warning: {line}", err=True)
    if as_json:
        click.echo(json.dumps(asdict(usage), indent=2))
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
