"""The loader MLflow imports for a model exported by ``mlops export --format mlflow`` (the
``loader_module`` of its ``python_function`` flavor): ``_load_pyfunc(data_path)`` opens the copied
model and dataset versions, verifies every file of both against their manifests (and applies the
trust policy of ``MLOPS_TRUSTED_KEYS``, if set), and returns an object whose ``predict`` MLflow calls.

MLflow is not imported here: this module is mlops' side of the pyfunc contract.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.errors import ExportError
from mlops.model.versioned_model import VersionedModel
from mlops.serving.predictor import Predictor

__all__ = ["MlopsPyfuncModel"]

EXPORT_FILE = "export.json"  # as mlops.serving.mlflow_export writes it
EXPORT_FORMAT = 1


class MlopsPyfuncModel:
    """A :class:`~mlops.serving.predictor.Predictor` behind MLflow's pyfunc ``predict``."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        """Predict from raw feature tensors, as ``mlops serve``'s ``/predict`` takes them: a dict of
        name -> array (``{"inputs": {"X_pred": [[...]]}}`` in a request to MLflow's server), one
        array (``{"inputs": [[...]]}``), or a pandas DataFrame (``dataframe_split``,
        ``dataframe_records``), read as one 2-D array of its values. Returns the labels when the
        dataset's processor is invertible, else the model's predictions."""
        if (
            not isinstance(model_input, Mapping)
            and hasattr(model_input, "to_numpy")
            and hasattr(model_input, "columns")
        ):
            model_input = model_input.to_numpy()
        prediction = self.predictor.predict_raw(model_input)
        return prediction.predictions if prediction.labels is None else prediction.labels

    def unwrap_python_model(self) -> Predictor:
        """The predictor (what ``PyFuncModel.unwrap_python_model()`` returns)."""
        return self.predictor


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> MlopsPyfuncModel:
    """Open the export's copies under ``data_path`` (the flavor's ``data`` folder), verified."""
    document = _read_export(data_path)
    model = VersionedModel(_inside(data_path, document["model"]["path"]))
    dataset = VersionedDataset(_inside(data_path, document["dataset"]["path"]))
    for version, recorded in ((model, document["model"]), (dataset, document["dataset"])):
        if version.hash != recorded["hash"]:
            raise ExportError(
                f"the {version.kind} copied in {data_path} has content hash {version.hash[:12]}, not the "
                f"{recorded['hash'][:12]} exported: the export was altered; export the model again"
            )
        version.verify()  # every byte, before anything is unpickled
    return MlopsPyfuncModel(Predictor(model, input=document.get("input"), dataset=dataset))


def _read_export(data_path: str) -> dict[str, Any]:
    where = os.path.join(data_path, EXPORT_FILE)
    try:
        with open(where, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {where} ({exc}): this is not a complete mlops export") from exc
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ExportError(
            f"{where} is not an mlops export of format {EXPORT_FORMAT}: export the model again with this mlops"
        )
    return document


def _inside(data_path: str, relpath: Any) -> str:
    """``relpath`` under ``data_path``, refused when it would lead out of it."""
    base = os.path.realpath(data_path)
    found = os.path.realpath(os.path.join(base, str(relpath)))
    if not isinstance(relpath, str) or os.path.commonpath([base, found]) != base:
        raise ExportError(f"{EXPORT_FILE} in {data_path} names {relpath!r}, outside the export")
    return found
