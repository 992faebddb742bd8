"""``mlops republish``: copy a version to another root or store (local disk to S3, one bucket to
another), as the same version, checked file by file while it is copied."""

from __future__ import annotations

from typing import Any

import click

from mlops.cli._common import Settings, json_option, key_option, parse_storage_options, pass_settings
from mlops.cli._format import print_json
from mlops.versions import listing as registry
from mlops.versions.republish import republish


@click.command("republish")
@click.argument("src", metavar="PATH")
@click.argument("new_root", metavar="NEW_ROOT")
@click.option("--version", "version", metavar="NAME", help="Publish under this version name (default: the same name).")
@click.option(
    "--target-storage-option",
    "target_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_storage_options,
    help="Store option for NEW_ROOT only (repeatable); by default NEW_ROOT gets the global -o options.",
)
@key_option
@json_option
@pass_settings
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
        print_json(registry.version_info(url, storage_options=target_options or settings.storage_options).to_json())
    else:
        click.echo(url)


COMMANDS = (republish_command,)
