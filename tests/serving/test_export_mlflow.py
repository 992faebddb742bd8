"""``mlops export --format mlflow`` without MLflow installed: the folder's layout and files, the
loader it names predicting exactly the hand-wired output, damaged or altered copies refused when
loaded, bad targets refused before anything is written. (tests/mlflow loads it with real MLflow.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_support import fails, ok
from serving_models import by_hand, publish_flowers, publish_model

from mlops import VersionedModel
from mlops.errors import ExportError, IntegrityError
from mlops.serving.mlflow_pyfunc import MlopsPyfuncModel, _load_pyfunc


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(export folder, model path, raw folder) for a decision tree with an invertible processor."""
    base = tmp_path_factory.mktemp("export")
    dataset, raw = publish_flowers(base)
    model_path = publish_model(base, dataset, "sklearn")
    out = base / "exported"
    summary = json.loads(ok("export", model_path, "--format", "mlflow", "-o", out, "--json"))
    model = VersionedModel(model_path)
    assert summary == {
        "path": str(out),
        "format": "mlflow",
        "model": f"{model.name} {model.version}",
        "dataset": f"{dataset.name} {dataset.version}",
        "requirements": ["mlops-core==0.1.0", "mlops-sklearn==0.1.0"],
    }
    return out, model_path, raw


def test_the_folder_is_an_mlflow_model_with_both_versions_inside(exported: tuple[Path, str, str]) -> None:
    out, model_path, _ = exported
    assert sorted(p.name for p in out.iterdir()) == [
        "MLmodel",
        "conda.yaml",
        "mlops",
        "python_env.yaml",
        "requirements.txt",
    ]
    mlmodel = (out / "MLmodel").read_text()
    assert "loader_module: mlops.serving.mlflow_pyfunc\n    data: mlops\n" in mlmodel
    assert (out / "requirements.txt").read_text() == "mlops-core==0.1.0\nmlops-sklearn==0.1.0\n"
    assert "  - -r requirements.txt\n" in (out / "python_env.yaml").read_text()
    document = json.loads((out / "mlops" / "export.json").read_text())
    model = VersionedModel(model_path)
    assert document["model"] == {"path": "model/sklearn", "name": model.name, "version": "sklearn", "hash": model.hash}
    assert document["dataset"]["path"] == "dataset/v1" and document["dataset"]["hash"] == model.dataset_hash
    copied = VersionedModel(out / "mlops" / "model" / "sklearn")
    copied.verify()  # a complete version, with its manifest
    assert copied.hash == model.hash


def test_the_loader_predicts_the_hand_wired_labels(exported: tuple[Path, str, str]) -> None:
    out, model_path, raw = exported
    _, labels = by_hand(model_path, raw)
    loaded = _load_pyfunc(str(out / "mlops"))
    assert isinstance(loaded, MlopsPyfuncModel)
    x = loaded.predictor.processor.get_raw_features(raw)["X_pred"]
    np.testing.assert_array_equal(loaded.predict(x), labels)
    np.testing.assert_array_equal(loaded.predict({"X_pred": x.tolist()}), labels)
    assert loaded.unwrap_python_model().dataset.path.startswith(str(out))  # the copy, not the original


def test_a_damaged_copy_is_refused_on_load(exported: tuple[Path, str, str], tmp_path: Path) -> None:
    import shutil

    out, _, _ = exported
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    (pkl,) = (damaged / "mlops" / "dataset" / "v1").glob("data_processor*")
    pkl.write_bytes(pkl.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityError, match="data_processor"):
        _load_pyfunc(str(damaged / "mlops"))
    export_json = damaged / "mlops" / "export.json"
    document = json.loads(export_json.read_text())
    document["model"]["hash"] = "0" * 64
    export_json.write_text(json.dumps(document))
    with pytest.raises(ExportError, match="the export was altered"):
        _load_pyfunc(str(damaged / "mlops"))
    document["model"]["path"] = "../../elsewhere"
    export_json.write_text(json.dumps(document))
    with pytest.raises(ExportError, match="outside the export"):
        _load_pyfunc(str(damaged / "mlops"))


def test_bad_targets_are_refused_before_anything_is_written(exported: tuple[Path, str, str], tmp_path: Path) -> None:
    out, model_path, _ = exported
    assert "already exists" in fails("export", model_path, "-o", out, code=2)
    assert "'onnx' is not 'mlflow'" in fails("export", model_path, "--format", "onnx", "-o", tmp_path / "x", code=2)
    assert "does not exist" in fails("export", model_path, "-o", tmp_path / "no" / "x")
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []


def test_a_model_on_s3_is_exported_to_local_disk(s3_bucket: str, tmp_path: Path) -> None:
    dataset, raw = publish_flowers(tmp_path / "local")
    from mlops import VersionedDataset, republish

    on_s3 = VersionedDataset(republish(dataset.path, f"{s3_bucket}/datasets"))
    model_path = publish_model(s3_bucket, on_s3, "sklearn")
    assert model_path.startswith(f"{s3_bucket}/models/")
    out = tmp_path / "exported"
    ok("export", model_path, "-o", out)
    loaded = _load_pyfunc(str(out / "mlops"))
    np.testing.assert_array_equal(loaded.predict({"X_pred": _raw(raw)}), by_hand(model_path, raw)[1])  # type: ignore[arg-type]


def _raw(raw: str) -> np.ndarray:
    return np.loadtxt(Path(raw) / "flowers.csv", delimiter=",", ndmin=2)[:, :4]
