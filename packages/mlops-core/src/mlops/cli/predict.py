"""``mlops predict`` (score raw data with a published model and its dataset's stored preprocessing,
into a file) and ``mlops export`` (the model as a folder other serving tools load)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from mlops.cli._common import Settings, input_option, json_option, pass_settings
from mlops.cli._format import print_json
from mlops.cli._recorded import env_option, run_recorded
from mlops.errors import MissingDependencyError, PredictionOutputError
from mlops.utils.install import install_command


def trusted_keys_option(function: Any) -> Any:
    return click.option(
        "-k",
        "--trusted-key",
        "trusted_keys",
        multiple=True,
        metavar="NAME.pub",
        help="Require the model and its dataset to be signed by this public key (repeatable: any of them); "
        "default: MLOPS_TRUSTED_KEYS, if set.",
    )(function)


@click.command("predict")
@click.argument("model", metavar="MODEL")
@click.argument("raw", metavar="INPUT")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    metavar="OUT",
    help="Where to write: the extension chooses the format (.npy, .csv, .json, .parquet, .zarr).",
)
@input_option
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Score a dask input on this Dask cluster (a distributed scheduler address, e.g. tcp://10.0.0.5:8786).",
)
@click.option("--force", is_flag=True, help="Replace OUT if it exists (once the new output is complete).")
@click.option(
    "--progress/--no-progress", "show_progress", default=None, help="Show a progress bar (default: on a terminal)."
)
@trusted_keys_option
@env_option
@json_option
@pass_settings
def predict_command(
    settings: Settings,
    model: str,
    raw: str,
    out: str,
    input_name: str | None,
    scheduler: str | None,
    force: bool,
    show_progress: bool | None,
    trusted_keys: tuple[str, ...],
    env_mode: str,
    as_json: bool,
) -> None:
    """Predict with the model at MODEL on the raw data at INPUT; write the result to OUT.

    INPUT is what the processor of the model's dataset reads with get_raw_features (a folder,
    a file...); it is preprocessed as the training data was. OUT holds the predictions and, for
    an invertible processor, the labels (a .npy file holds the labels then, else the predictions).
    When the processor returns dask arrays, the rows are scored block by block on the active Dask
    scheduler (or the cluster at --scheduler) and OUT must be a Zarr folder (.zarr).
    OUT is written under a temporary name and renamed when complete; an existing OUT is kept
    unless --force. With --env recorded, the prediction runs in the environment the model was
    published from (its Python and exact distributions; see `mlops env`).
    """
    from mlops.serving.batch import output_format, predict_to_file
    from mlops.serving.predictor import Predictor

    try:
        output_format(out)
        if os.path.exists(out) and not force:
            raise PredictionOutputError(f"{out} already exists: choose another output, or overwrite it with --force")
    except PredictionOutputError as exc:
        raise click.BadParameter(str(exc), param_hint="'-o' / '--output'") from None
    if env_mode == "recorded":
        keys = [os.path.abspath(key) for key in trusted_keys]
        command = ["predict", model, raw, "-o", out, *(["--input", input_name] if input_name else [])]
        command += [*(["--scheduler", scheduler] if scheduler else []), *(["--force"] if force else [])]
        command += [*([] if show_progress is None else ["--progress" if show_progress else "--no-progress"])]
        command += [*(arg for key in keys for arg in ("-k", key)), *(["--json"] if as_json else [])]
        run_recorded(settings, model, command, trusted_keys=keys, extras=_output_extras(out))
    with _scheduler(scheduler):
        predictor = Predictor(
            model,
            input=input_name,
            trusted_keys=list(trusted_keys) or None,
            storage_options=settings.storage_options,
        )
        result = predict_to_file(predictor, raw, out, overwrite=force, show_progress=show_progress)
    if as_json:
        print_json(result.to_json())
    else:
        what = "predictions and labels" if result.labels else "predictions"
        blocks = f" in {result.blocks} blocks" if result.blocks > 1 else ""
        click.echo(f"wrote {what} for {result.rows} rows{blocks} to {result.path}")


def _output_extras(out: str) -> tuple[str, ...]:
    """What writing OUT needs beside the model's own libraries, in a recorded environment."""
    from mlops.envs.build import extra_requirements

    if out.endswith(".parquet"):
        return extra_requirements("tables") or ("pyarrow",)
    if out.rstrip("/").endswith(".zarr"):
        return extra_requirements("dask") or ("zarr",)
    return ()


@contextmanager
def _scheduler(address: str | None) -> Iterator[None]:
    """A ``distributed.Client`` connected to ``address``, active for the block (nothing without one)."""
    if address is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise MissingDependencyError(f"--scheduler needs distributed ({exc}); run: {install_command('dask')}") from exc
    with Client(address, timeout="30s"):  # type: ignore[no-untyped-call]
        yield


@click.command("export")
@click.argument("model", metavar="MODEL")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mlflow"]),
    default="mlflow",
    show_default=True,
    help="The model format to export to.",
)
@click.option("-o", "--output", "out", required=True, metavar="DIR", help="The folder to create (must not exist).")
@click.option(
    "--input",
    "input_name",
    metavar="NAME",
    help="The raw feature tensor the exported model predicts on, when get_raw_features returns several.",
)
@trusted_keys_option
@json_option
@pass_settings
def export_command(
    settings: Settings,
    model: str,
    fmt: str,
    out: str,
    input_name: str | None,
    trusted_keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Export the model at MODEL, with the dataset version whose processor preprocesses its input,
    as an MLflow model folder DIR.

    `mlflow.pyfunc.load_model(DIR)` and `mlflow models serve -m DIR` then predict from raw feature
    tensors with the stored preprocessing (labels for an invertible processor, else predictions).
    Both versions are copied into DIR with their manifests and verified when it is loaded.
    MLflow is not needed to export.
    """
    from mlops.serving.mlflow_export import export_mlflow

    if os.path.exists(out):
        raise click.BadParameter(f"{out} already exists: choose a new folder", param_hint="'-o' / '--output'")
    exported = export_mlflow(
        model,
        out,
        input=input_name,
        storage_options=settings.storage_options,
        trusted_keys=list(trusted_keys) or None,
    )
    if as_json:
        print_json(exported.to_json())
    else:
        click.echo(f"exported model {exported.model} with dataset {exported.dataset} to {exported.path} ({fmt})")


COMMANDS = (predict_command, export_command)
