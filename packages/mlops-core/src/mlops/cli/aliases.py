"""The ``alias`` commands: name versions of a root (``production``), move those names atomically,
and ask where they pointed at any time: ``alias set``, ``alias rm``, ``alias ls``, ``alias log``.

Aliases are records under ``ROOT/_aliases`` (see :mod:`mlops.versions.aliases`); ``ROOT@ALIAS``
then opens the version an alias names in every command that takes a PATH.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from mlops.cli._common import Settings, json_option, key_option, pass_settings, public_keys_option
from mlops.cli._format import print_json, print_table
from mlops.versions.aliases import AliasEvent

_trusted_option = public_keys_option(
    "--trusted-key",
    "trusted",
    help="Require every record read to be signed by this public key (repeatable: any of them); "
    "default: MLOPS_TRUSTED_KEYS.",
)


def _parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time such as 2026-11-01T12:00 (local time) or 2026-11-01T12:00+00:00"
        ) from None


def _event_text(event: AliasEvent) -> str:
    moved = f"-> {event.version}" if event.version is not None else "removed"
    previous = f" (was {event.previous})" if event.previous else ""
    flags = " [protected]" if event.protected else ""
    signed = f" signed by {event.signer[:16]}" if event.signer else ""
    reason = f": {event.reason}" if event.reason else ""
    when = event.at.isoformat(timespec="seconds")
    return f"#{event.number}  {when}  {event.who}  {moved}{previous}{flags}{signed}{reason}"


@click.group("alias")
def alias_group() -> None:
    """Name versions of a root (e.g. production) and move the names atomically, with their history.

    \b
    mlops alias set ROOT production v3 --expect v2 --reason "better recall"
    mlops alias ls ROOT
    mlops alias log ROOT production --at 2026-11-01T12:00
    mlops show ROOT@production
    """


def _root_and_alias(function: Callable[..., Any]) -> Callable[..., Any]:
    """The arguments ROOT ALIAS that the commands on one alias start with."""
    return click.argument("root")(click.argument("alias")(function))


_reason_option = click.option("--reason", metavar="TEXT", help="Why, recorded in the alias's history.")


def _change_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """What every alias change takes after its own options: --key (signs the record), --json, the settings."""
    return key_option(json_option(pass_settings(function)))


def _echo_event(event: AliasEvent, as_json: bool, text: str) -> None:
    """Report the record an alias change wrote: as JSON, or as ``text``."""
    if as_json:
        print_json(event.to_json())
    else:
        click.echo(text)


@alias_group.command("set")
@_root_and_alias
@click.argument("version")
@click.option("--expect", metavar="VERSION", help="Move only if the alias names VERSION now (else exit 1).")
@_reason_option
@click.option("--protect/--unprotect", default=None, help="Protect the alias (it then moves only with --force).")
@click.option("--force", is_flag=True, help="Move (or unprotect) a protected alias.")
@_change_options
def set_command(
    settings: Settings, root: str, alias: str, version: str, key: str | None, as_json: bool, **change: Any
) -> None:
    """Point ALIAS of ROOT at VERSION (a version's folder name under ROOT)."""
    from mlops.versions.aliases import set_alias

    # change: expect, reason, protect and force, named as set_alias names them
    event = set_alias(root, alias, version, signing_key=key, storage_options=settings.storage_options, **change)
    _echo_event(event, as_json, f"{alias} -> {version}" + (f" (was {event.previous})" if event.previous else ""))


@alias_group.command("rm")
@_root_and_alias
@click.option("--expect", metavar="VERSION", help="Remove only if the alias names VERSION now (else exit 1).")
@_reason_option
@click.option("--force", is_flag=True, help="Remove a protected alias.")
@_change_options
def rm_command(settings: Settings, root: str, alias: str, key: str | None, as_json: bool, **change: Any) -> None:
    """Remove ALIAS from ROOT (its history stays; no version is touched)."""
    from mlops.versions.aliases import remove_alias

    # change: expect, reason and force, named as remove_alias names them
    event = remove_alias(root, alias, signing_key=key, storage_options=settings.storage_options, **change)
    _echo_event(event, as_json, f"removed {alias} (it named {event.previous})")


@alias_group.command("ls")
@click.argument("root")
@_trusted_option
@json_option
@pass_settings
def ls_command(settings: Settings, root: str, trusted: tuple[str, ...], as_json: bool) -> None:
    """List the aliases of ROOT and the version each names."""
    from mlops.versions.aliases import current_events

    events = current_events(root, settings.storage_options, list(trusted) or None)
    live = {alias: event for alias, event in sorted(events.items()) if event.version is not None}
    if as_json:
        print_json({alias: event.to_json() for alias, event in live.items()})
        return
    rows = [
        (alias, event.version, "yes" if event.protected else "", event.at.isoformat(timespec="seconds"), event.who)
        for alias, event in live.items()
    ]
    print_table(["ALIAS", "VERSION", "PROTECTED", "SINCE", "BY"], rows)


@alias_group.command("log")
@_root_and_alias
@click.option(
    "--at",
    "at",
    callback=_parse_time,
    metavar="TIME",
    help="Only say which version ALIAS named at TIME (ISO 8601; without a zone, local time).",
)
@_trusted_option
@json_option
@pass_settings
def log_command(
    settings: Settings, root: str, alias: str, at: datetime | None, trusted: tuple[str, ...], as_json: bool
) -> None:
    """Show the history of ALIAS of ROOT, oldest first, or (--at) the version it named then."""
    from mlops.errors import AliasNotFoundError
    from mlops.versions.aliases import alias_history, version_at

    events = alias_history(root, alias, storage_options=settings.storage_options, trusted_keys=list(trusted) or None)
    if not events:
        raise AliasNotFoundError(f"{root} has no alias {alias!r}; `mlops alias ls {root}` lists its aliases")
    if at is not None:
        named = version_at(events, at)
        if as_json:
            print_json({"alias": alias, "at": at.isoformat(), "version": named})
        elif named is None:
            raise AliasNotFoundError(f"alias {alias!r} of {root} named no version at {at.isoformat()}")
        else:
            click.echo(named)
        return
    if as_json:
        print_json([event.to_json() for event in events])
        return
    for event in events:
        click.echo(_event_text(event))


COMMANDS = (alias_group,)
