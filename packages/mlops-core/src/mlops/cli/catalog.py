"""The catalog commands: ``mlops ui`` (serve it in the browser) and ``mlops report`` (write it as one
HTML file).

Both build the same catalog from the roots with the global ``-o KEY=VALUE`` store options; the
heavy parts (Jinja2, the server) load inside the commands, so ``mlops --help`` stays fast.
"""

from __future__ import annotations

import os
import time

import click

from mlops.cli._common import Settings, pass_settings, warning

_STATS_HELP = "Skip tensor statistics (mean/std/min/max), which read every dataset tensor."


@click.command("ui")
@click.argument("roots", nargs=-1, required=True, metavar="ROOT [ROOT ...]")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but a loopback address lets other machines read the catalog (warned).",
)
@click.option("--no-stats", is_flag=True, help=_STATS_HELP)
@pass_settings
def ui_command(settings: Settings, roots: tuple[str, ...], port: int, host: str, no_stats: bool) -> None:
    """Serve a read-only catalog of the ROOTs in the browser, on 127.0.0.1 by default.

    Views: the roots and their versions, each dataset (tensors with statistics, raw data, files)
    and model, a leaderboard of every model version (sortable, filterable, training curves,
    parallel coordinates of hyperparameters), the lineage graph and the diff of any two
    versions. Only GET and HEAD are answered: nothing in the store is ever written. The store is
    read once at start; restart to see newer versions. Ctrl-C stops the server. A damaged version
    is shown as damaged with the reason (also warned on stderr); `mlops verify` checks a version.
    """
    from mlops.catalog.data import build_catalog, catalog_warnings
    from mlops.catalog.render import environment
    from mlops.catalog.server import CatalogServer, exposure_warning

    environment()  # fails now, with the pip command, if Jinja2 is missing
    exposed = exposure_warning(host)
    if exposed:
        warning(exposed)
    catalog = build_catalog(list(roots), storage_options=settings.storage_options, tensor_stats=not no_stats)
    for line in catalog_warnings(catalog):
        warning(line)
    server = CatalogServer(catalog, host, port)
    try:  # the URL is printed inside: a Ctrl-C as soon as it shows still stops cleanly
        click.echo(
            f"serving the catalog of {len(catalog.datasets)} datasets and {len(catalog.models)} models "
            f"at {server.url}  (read-only; Ctrl-C to stop)"
        )
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


@click.command("report")
@click.argument("roots", nargs=-1, required=True, metavar="ROOT [ROOT ...]")
@click.option(
    "-o",
    "--output",
    default="catalog.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The HTML file to write.",
)
@click.option("--no-stats", is_flag=True, help=_STATS_HELP)
@pass_settings
def report_command(settings: Settings, roots: tuple[str, ...], output: str, no_stats: bool) -> None:
    """Write the catalog of the ROOTs as one self-contained HTML file.

    The same views as `mlops ui`, with the data and the charting library inside the file: it
    opens from disk (file://) or from a bucket with no network request. It holds the diff of
    each version with the one before it (`mlops ui` compares any two). A damaged version is shown
    as damaged with the reason (also warned on stderr); `mlops verify` checks a version.
    """
    from mlops.catalog.report import write_report

    started = time.perf_counter()
    path = write_report(
        list(roots), output, storage_options=settings.storage_options, tensor_stats=not no_stats, on_warning=warning
    )
    size = os.path.getsize(path)
    click.echo(f"catalog written to {path} ({size / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)")


COMMANDS = (ui_command, report_command)
