"""``--env recorded``: running a command in the environment its version was published from.

The command checks its arguments, then hands its own command line (global options included) to
:func:`mlops.envs.run_in_recorded_environment`, which builds that environment once (cached by the
lock's hash) and runs ``python -m mlops`` there; the child's exit status is this command's."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from mlops.cli._common import Settings

F = TypeVar("F", bound=Callable[..., Any])


def env_option(function: F) -> F:
    return click.option(
        "--env",
        "env_mode",
        type=click.Choice(["current", "recorded"]),
        default="current",
        show_default=True,
        help="recorded: run in the environment the model was published from (its Python minor and exact "
        "distributions, built once with uv and cached; see `mlops env MODEL --create`).",
    )(function)


def run_recorded(
    settings: Settings,
    version: str,
    command: Sequence[str],
    *,
    trusted_keys: Sequence[str] | None = None,
    extras: Sequence[str] = (),
) -> NoReturn:
    """Run ``mlops COMMAND`` (without ``--env``) in ``version``'s recorded environment and exit with its status."""
    from mlops.envs import run_in_recorded_environment

    argv: list[str] = []
    for key, value in (settings.storage_options or {}).items():
        argv += ["-o", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    if settings.debug:
        argv.append("--debug")
    code = run_in_recorded_environment(
        version,
        [*argv, *command],
        storage_options=settings.storage_options,
        trusted_keys=list(trusted_keys) if trusted_keys else None,
        extras=extras,
    )
    raise click.exceptions.Exit(code)
