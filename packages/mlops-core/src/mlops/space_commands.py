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
    from mlops.removal import remove_version

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
    local disk), and the root's total and distinct bytes (deduplicated files count once)."""
    from mlops.space import disk_usage

    usage = disk_usage(root, storage_options=_storage_options())
    if as_json:
        click.echo(json.dumps(asdict(usage), indent=2))
        return
    width = max([len("VERSION"), *(len(v.version) for v in usage.versions)])
    click.echo(f"{'VERSION':<{width}}  {'FILES':>7}  {'BYTES':>14}  {'UNIQUE':>14}")
    for v in usage.versions:
        click.echo(f"{v.version:<{width}}  {v.files:>7}  {v.bytes:>14}  {v.unique_bytes:>14}")
    saved = usage.bytes - usage.distinct_bytes
    click.echo(
        f"{len(usage.versions)} version(s): {usage.bytes} bytes in all, {usage.distinct_bytes} distinct "
        f"({saved} shared between versions)"
    )
