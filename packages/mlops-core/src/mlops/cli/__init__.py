"""The ``mlops`` command: browse, check, compare and move versioned datasets and models.

Every command prints text for people by default and JSON with ``--json``. Exit status: 0 on
success, 1 when the operation fails (a missing or damaged version, an unreachable store...), 2 on
a usage error. Failures print one line, ``mlops: error: ...``, on stderr; ``--debug`` shows the
traceback instead.

This module holds the command group, its global options and its error boundary; the commands live
in one module per group (internal: the command line is the interface):

- :mod:`~mlops.cli.versions`: ls, latest, show, lineage, diff, tag
- :mod:`~mlops.cli.trust`: verify, sign, keygen, inspect
- :mod:`~mlops.cli.space`: du, rm, clean, gc
- :mod:`~mlops.cli.aliases`: alias set, alias rm, alias ls, alias log
- :mod:`~mlops.cli.transfer`: republish
- :mod:`~mlops.cli.plugins`: plugins
- :mod:`~mlops.cli.catalog`: ui, report
- :mod:`~mlops.cli.predict`: predict, export
- :mod:`~mlops.cli.env`: env (the environment a version was published from; recreating it)
- :mod:`~mlops.cli.serving`: serve

and what they share in ``_common`` (settings, options, messages) and ``_format`` (tables, JSON).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from mlops._version import __version__
from mlops.cli import aliases, catalog, env, plugins, predict, serving, space, transfer, trust, versions
from mlops.cli._common import Settings, describe, error, parse_storage_options, warning

__all__ = ["cli", "main"]

EPILOG = """\b
Paths are local folders or fsspec URLs (s3://, gs://, memory://, file://...).
A ROOT is the folder versions are published under (what publish() was given),
a PATH is one version in it:  ROOT = s3://bucket/models/points
                               PATH = s3://bucket/models/points/v1
or the version an alias names: PATH = s3://bucket/models/points@production

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
            error(describe(exc))
            raise click.exceptions.Exit(1) from None


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG
)
@click.option(
    "-o",
    "--storage-option",
    "storage_options",
    multiple=True,
    metavar="KEY=VALUE",
    callback=parse_storage_options,
    help="Option for the store, passed to fsspec (repeatable), e.g. -o endpoint_url=http://127.0.0.1:9000 "
    "or -o anon=true. Values that are JSON are decoded.",
)
@click.option("-v", "--verbose", count=True, help="Log what mlops does on stderr (-v: steps, -vv: details).")
@click.option("--debug", is_flag=True, help="Show the full traceback of a failure (and -vv logging).")
@click.version_option(__version__, "-V", "--version", package_name="mlops-core", prog_name="mlops")
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
    warning(" ".join(str(message).split()))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``mlops`` console script and of ``python -m mlops``."""
    warnings.showwarning = _show_warning  # one "mlops: warning: ..." line, not a source excerpt
    cli.main(args=list(argv) if argv is not None else None, prog_name="mlops")


for _group in (versions, trust, space, aliases, transfer, plugins, catalog, serving, predict, env):
    for _command in _group.COMMANDS:
        cli.add_command(_command)
