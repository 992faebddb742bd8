"""``mlops env``: the environment a version was published from, how this one differs, and a
virtual environment recreating it."""

from __future__ import annotations

import click

from mlops.cli._common import Settings, json_option, pass_settings, warning
from mlops.cli._format import print_json, print_table
from mlops.envs.recorded import create_environment, environment_differences, recorded_lock
from mlops.metadata.pylock import LOCK_FILE
from mlops.model import lineage
from mlops.versions.published import read_verified


@click.command("env")
@click.argument("path")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pylock", "requirements", "json"]),
    default="pylock",
    show_default=True,
    help="pylock: the recorded pylock.toml (PEP 751); requirements: a pip/uv requirements file pinning every "
    "distribution; json: both the interpreter and the distributions, for scripts.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="List what differs from the environment running this command, what matters for the version first "
    "(Python minor, its framework, numpy, what its pickles reference).",
)
@click.option(
    "--create",
    "target",
    metavar="DIR",
    help="Build a virtual environment from the lock in DIR, with uv, for the recorded Python minor (built "
    "once per lock in the user cache: a second call is immediate).",
)
@click.option(
    "--with",
    "with_paths",
    multiple=True,
    metavar="PATH",
    help="With --create: install this source folder, wheel or sdist for the local distribution of the same name "
    "whose recorded path is gone (repeatable).",
)
@json_option
@pass_settings
def env_command(
    settings: Settings,
    path: str,
    fmt: str,
    diff: bool,
    target: str | None,
    with_paths: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show the environment the version at PATH was published from.

    Every version records every distribution installed where it was published, with its exact
    version and origin (environment/pylock.toml), and the interpreter (environment/python.json).
    Under a trust policy (MLOPS_TRUSTED_KEYS) the version is admitted before its lock is read.

    \b
    Examples:
      mlops env models/churn/v7                       # the pylock.toml
      mlops env models/churn/v7 --format requirements > requirements.txt
      mlops env models/churn/v7 --diff
      mlops env models/churn/v7 --create .venv-churn  # then .venv-churn/bin/python ...
    """
    if with_paths and target is None:
        raise click.UsageError("--with is for --create: it supplies a distribution to install")
    version = lineage.open_version(path, storage_options=settings.storage_options)
    if target is not None:
        built = create_environment(version, target, with_paths=with_paths)
        for line in built.unpinned:
            warning(f"not installed: {line}")
        if as_json:
            print_json(built.to_json())
            return
        state = "already there" if built.reused else f"ready in {built.seconds:.1f}s"
        click.echo(f"{built.path}  (Python {built.python_version}, {state})")
        click.echo(f"run: {built.python} ...")
        return
    if diff:
        found = environment_differences(version)
        if as_json:
            print_json(
                [
                    {"name": d.name, "recorded": d.recorded, "current": d.current, "matters": d.matters, "why": d.why}
                    for d in found
                ]
            )
            return
        if not found:
            click.echo("no differences: this environment has the recorded Python and distributions")
            return
        rows = [[d.name, d.recorded or "-", d.current or "-", d.why or ""] for d in found]
        print_table(["DISTRIBUTION", "RECORDED", "HERE", "MATTERS"], rows)
        return
    lock = recorded_lock(version)
    if as_json or fmt == "json":
        print_json(lock.to_json())
    elif fmt == "requirements":
        click.echo(lock.to_requirements(), nl=False)
    else:  # the recorded bytes, as published
        click.echo(read_verified(version, LOCK_FILE).decode(), nl=False)


COMMANDS = (env_command,)
