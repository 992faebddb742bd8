"""``mlops rm``: remove one version, leaving every version that shares its files intact.

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
