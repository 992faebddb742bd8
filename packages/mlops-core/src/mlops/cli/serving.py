"""The serving command: ``mlops serve`` (a published model over HTTP, with its dataset's
preprocessing). FastAPI and uvicorn load inside the command (``mlops-core[serve]``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from mlops.cli._common import Settings, input_option, pass_settings, warning
from mlops.cli._recorded import env_option, run_recorded

if TYPE_CHECKING:
    from mlops.serving.predictor import Predictor


@click.command("serve")
@click.argument("model")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but a loopback address lets other machines query the model (warned).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port.")
@click.option(
    "--workers",
    type=click.IntRange(1, None),
    default=1,
    show_default=True,
    help="Worker processes, each with its own copy of the model (predictions run one at a time per worker).",
)
@input_option
@click.option(
    "--max-body-size",
    type=click.IntRange(1, None),
    default=16 * 1024 * 1024,
    show_default=True,
    metavar="BYTES",
    help="Largest request body accepted; a larger one is answered 413.",
)
@click.option(
    "-k",
    "--trusted-key",
    "trusted_keys",
    multiple=True,
    metavar="NAME.pub",
    help="Serve only if the model and its dataset are signed by this public key (repeatable: any of them); "
    "default: MLOPS_TRUSTED_KEYS, if set.",
)
@env_option
@pass_settings
def serve_command(
    settings: Settings,
    model: str,
    host: str,
    port: int,
    workers: int,
    input_name: str | None,
    max_body_size: int,
    trusted_keys: tuple[str, ...],
    env_mode: str,
) -> None:
    """Serve the model version MODEL over HTTP, with the preprocessing of its dataset.

    \b
    POST /predict        {"inputs": {"X_pred": [[...], ...]}} -> {"predictions": [...], "labels": [...]}
    POST /predict/files  raw files (multipart), read by the processor's get_raw_features
    GET  /health, GET /metadata, GET /docs (OpenAPI)

    Before listening, the model's files are checked against their sha256, the dataset's content
    hash against the one recorded with the model, and, with --trusted-key (or MLOPS_TRUSTED_KEYS),
    both signatures: if anything fails, nothing is served (status 1). `labels` are the processor's
    unpreprocess_labels, for invertible processors. Bad input is answered 4xx with
    {"error": "..."}. SIGTERM or Ctrl-C answers the requests in flight, then stops.

    With --env recorded, the server runs in the environment the model was published from (its
    Python and distributions, plus what serving needs, resolved without changing any of them).
    """
    if env_mode == "recorded":
        from mlops.envs.build import extra_requirements

        keys = [os.path.abspath(key) for key in trusted_keys]
        command = ["serve", model, "--host", host, "--port", str(port), "--workers", str(workers)]
        command += ["--max-body-size", str(max_body_size), *(["--input", input_name] if input_name else [])]
        command += [arg for key in keys for arg in ("-k", key)]
        extras = extra_requirements("serve") or ("fastapi", "uvicorn", "python-multipart")
        run_recorded(settings, model, command, trusted_keys=keys, extras=extras)
    from mlops.serving.config import ServeConfig
    from mlops.serving.server import check_installed, exposure_warning, serve

    check_installed()
    exposed = exposure_warning(host)
    if exposed:
        warning(exposed)
    config = ServeConfig(
        model=model,
        input=input_name,
        max_body_size=max_body_size,
        storage_options=settings.storage_options,
        trusted_keys=tuple(os.path.abspath(key) for key in trusted_keys) or None,
    )

    def ready(predictor: Predictor) -> None:
        signed = f", signed by {predictor.model.signer[:16]}" if predictor.model.signer else ""
        click.echo(
            f"model {predictor.model.name} {predictor.model.version} checked and loaded (dataset "
            f"{predictor.dataset.name} {predictor.dataset.version}{signed}); serving it at "
            f"http://{_url_host(host)}:{port}  (API docs: /docs; Ctrl-C to stop)"
        )

    serve(config, host=host, port=port, workers=workers, on_ready=ready)
    click.echo("stopped")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


COMMANDS = (serve_command,)
