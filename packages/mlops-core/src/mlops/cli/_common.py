"""What every command shares: the global settings, the options several commands take, and the
one-line messages on stderr (``mlops: error: ...``, ``mlops: warning: ...``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from mlops.errors import MlopsError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Settings:
    """Global options, shared by every command."""

    debug: bool = False
    storage_options: dict[str, Any] | None = None


pass_settings = click.make_pass_decorator(Settings, ensure=True)
"""Passes the group's :class:`Settings` (``-o`` store options, ``--debug``) to a command as its first argument."""


# --- messages on stderr -------------------------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    """A failure in one line: its message, or its type and message when it is not one of ours."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (MlopsError, OSError)):
        return message
    return f"unexpected {type(exc).__name__}: {message} (run again with --debug to see the traceback)"


def error(message: str) -> None:
    click.echo(f"mlops: error: {message}", err=True)


def warning(message: str) -> None:
    click.echo(f"mlops: warning: {message}", err=True)


# --- options --------------------------------------------------------------------------------------------------------


def parse_storage_options(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, Any] | None:
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


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of text.")(function)


def key_option(function: F) -> F:
    return click.option(
        "--key",
        "key",
        metavar="NAME",
        help="Private key (from `mlops keygen`) to sign with; default: MLOPS_SIGNING_KEY.",
    )(function)


def tag_option(function: F) -> F:
    return click.option(
        "--tag",
        "tags",
        multiple=True,
        metavar="TAG",
        help="Only versions carrying this tag (repeatable: all must match).",
    )(function)


input_option = click.option(
    "--input",
    "input_name",
    metavar="NAME",
    help="The raw feature tensor to predict on, when the processor's get_raw_features returns several.",
)
"""``--input NAME``: which raw tensor to score (``mlops predict``, ``mlops serve``)."""


def public_keys_option(*names: str, help: str) -> Callable[[F], F]:
    """A repeatable option naming trusted public keys (``NAME.pub``): ``names`` are click's
    flags and destination, ``help`` says what the keys must have signed."""
    return click.option(*names, multiple=True, metavar="NAME.pub", help=help)
