"""``mlops export --format mlflow``: a published model as an MLflow model folder.

MLflow's answer to "serve my model with its preprocessing" is a hand-written pyfunc, whose
transformer class then fails to import where it is served. mlops stores the processor by value with
the dataset, so the export copies both versions inside the folder and names a loader that ships
with mlops-core (:mod:`mlops.serving.mlflow_pyfunc`)::

    DIR/
      MLmodel              python_function flavor: loader_module mlops.serving.mlflow_pyfunc, data mlops
      requirements.txt     mlops-core and the model's plugin, at the installed versions
      python_env.yaml      for `mlflow models serve --env-manager virtualenv`
      conda.yaml           for `--env-manager conda`
      mlops/
        export.json        which copies these are (paths, content hashes, the input name)
        model/VERSION/     the model version, copied with its manifest (and signature)
        dataset/VERSION/   the dataset version it was trained on, whose processor preprocesses

``mlflow.pyfunc.load_model(DIR)``, ``mlflow models serve -m DIR`` and every server that loads
pyfunc models then predict from raw feature tensors. MLflow is not needed to export: the files are
plain YAML and JSON. The copies are made by :func:`~mlops.versions.republish.republish` (every byte
checked against the source's manifest) into a temporary folder renamed to ``DIR`` when complete.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from mlops._version import __version__
from mlops.errors import ExportError
from mlops.model.versioned_model import VersionedModel
from mlops.store import Location
from mlops.versions.published import TrustedKeys
from mlops.versions.republish import republish

__all__ = ["DATA_FOLDER", "EXPORT_FILE", "LOADER_MODULE", "ExportedModel", "export_mlflow"]

LOADER_MODULE = "mlops.serving.mlflow_pyfunc"
"""The module MLflow imports to load the exported model (its ``_load_pyfunc(data_path)``)."""
DATA_FOLDER = "mlops"
"""The folder inside the export holding the copied versions (the flavor's ``data``)."""
EXPORT_FILE = "export.json"
"""Inside :data:`DATA_FOLDER`: which copies the export holds, and their content hashes."""
EXPORT_FORMAT = 1


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`export_mlflow` wrote."""

    path: str
    model: str
    """``name version`` of the model."""
    dataset: str
    """``name version`` of its dataset."""
    requirements: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": "mlflow",
            "model": self.model,
            "dataset": self.dataset,
            "requirements": list(self.requirements),
        }


def export_mlflow(
    model: str | os.PathLike[str] | Location | VersionedModel,
    out: str | os.PathLike[str],
    *,
    input: str | None = None,  # noqa: A002 - as Predictor's
    storage_options: dict[str, Any] | None = None,
    trusted_keys: TrustedKeys = None,
) -> ExportedModel:
    """Write the model version ``model`` and the dataset version it was trained on as the MLflow
    model folder ``out`` (a local folder that must not exist; see the module for its layout).

    The dataset's recorded hash is checked and the trust policy applied before anything is
    written. ``input`` names the raw feature tensor predictions take when the processor's
    ``get_raw_features`` returns several (as ``Predictor(input=)``)."""
    target = Path(out)
    if "://" in os.fspath(out):
        raise ExportError(f"an MLflow model folder is written on local disk, got the URL {os.fspath(out)!r}")
    if target.exists():
        raise ExportError(f"{target} already exists: export to a new folder")
    if not target.parent.is_dir():
        raise ExportError(f"the folder {target.parent} does not exist")
    versioned = (
        model
        if isinstance(model, VersionedModel)
        else VersionedModel(model, storage_options=storage_options, trusted_keys=trusted_keys)
    )
    dataset = versioned.dataset  # the recorded hash checked, the trust policy applied
    requirements = _requirements(versioned)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        data = temporary / DATA_FOLDER
        data.mkdir(parents=True)
        model_copy = _copy(versioned._loc, data / "model")
        dataset_copy = _copy(dataset._loc, data / "dataset")
        document = {
            "format": EXPORT_FORMAT,
            "mlops_core": __version__,
            "model": {"path": _relative(model_copy, data), "name": versioned.name, "version": versioned.version,
                      "hash": versioned.hash},
            "dataset": {"path": _relative(dataset_copy, data), "name": dataset.name, "version": dataset.version,
                        "hash": dataset.hash},
            "input": input,
        }  # fmt: skip
        (data / EXPORT_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        (temporary / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
        (temporary / "python_env.yaml").write_text(_python_env(), encoding="utf-8")
        (temporary / "conda.yaml").write_text(_conda_env(requirements), encoding="utf-8")
        (temporary / "MLmodel").write_text(_mlmodel(versioned, dataset.name, dataset.version), encoding="utf-8")
        if target.exists():
            raise ExportError(f"{target} was created meanwhile: export to a new folder")
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return ExportedModel(
        os.fspath(target),
        f"{versioned.name} {versioned.version}",
        f"{dataset.name} {dataset.version}",
        tuple(requirements),
    )


def _copy(source: Location, root: Path) -> str:
    """The version at ``source`` republished under the local folder ``root``, every byte checked."""
    options = dict(source.store.storage_options or {}) or None
    return republish(source.url, str(root), storage_options=options, target_storage_options={})


def _relative(url: str, base: Path) -> str:
    return Path(url.removeprefix("file://")).resolve().relative_to(base.resolve()).as_posix()


def _installed(distribution: str) -> str | None:
    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def _requirements(model: VersionedModel) -> list[str]:
    """mlops-core and the plugin that loads the model, pinned to the versions installed here."""
    wanted = ["mlops-core"]
    plugin = model.record.serializer.distribution
    if plugin and plugin not in ("mlops-core", "unknown distribution"):
        wanted.append(plugin)
    if model.dataset.record.tensors and any(t.format == "zarr" for t in model.dataset.record.tensors.values()):
        wanted += ["dask", "zarr"]  # the dataset's chunked tensors need them to open
    pinned = []
    for name in wanted:
        version = _installed(name)
        pinned.append(f"{name}=={version}" if version else name)
    return pinned


def _python_env() -> str:
    pip = _installed("pip") or ""
    return (
        f"python: {platform.python_version()}\n"
        "build_dependencies:\n"
        f"  - pip{'==' + pip if pip else ''}\n"
        "  - setuptools\n"
        "  - wheel\n"
        "dependencies:\n"
        "  - -r requirements.txt\n"
    )


def _conda_env(requirements: list[str]) -> str:
    pinned = "".join(f"  - {json.dumps(r)}\n" for r in requirements)
    return (
        "channels:\n"
        "- conda-forge\n"
        "dependencies:\n"
        f"- python={platform.python_version()}\n"
        "- pip\n"
        "- pip:\n"
        f"{pinned}"
        "name: mlflow-env\n"
    )


def _mlmodel(model: VersionedModel, dataset_name: str, dataset_version: str) -> str:
    """The MLmodel file (YAML; the string values are JSON strings, which YAML reads as such)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    q = json.dumps
    return (
        "flavors:\n"
        "  python_function:\n"
        f"    loader_module: {LOADER_MODULE}\n"
        f"    data: {DATA_FOLDER}\n"
        "    env:\n"
        "      conda: conda.yaml\n"
        "      virtualenv: python_env.yaml\n"
        f"    python_version: {platform.python_version()}\n"
        "metadata:\n"
        f"  mlops_model: {q(model.name)}\n"
        f"  mlops_model_version: {q(model.version)}\n"
        f"  mlops_model_hash: {q(model.hash)}\n"
        f"  mlops_dataset: {q(dataset_name)}\n"
        f"  mlops_dataset_version: {q(dataset_version)}\n"
        f"  mlops_serializer: {q(model.serializer_name)}\n"
        f"model_uuid: {uuid.uuid4().hex}\n"
        f"utc_time_created: {q(now)}\n"
    )
