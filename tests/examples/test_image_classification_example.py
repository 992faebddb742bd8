"""examples/image_classification: raw PNGs -> dataset v1 -> Keras CNN (best epoch kept) -> predictions
by a separate script that knows only the model's path."""

from __future__ import annotations

import csv
import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops import VersionedDataset

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "image_classification"
DIGITS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
ML_FRAMEWORKS = {"tensorflow", "keras", "torch", "sklearn"}
EXAMPLE_MODULES = ("train", "processor", "make_raw_data")
Run = Callable[..., subprocess.CompletedProcess[str]]
CheckPng = Callable[[Path], tuple[int, int]]


@pytest.mark.slow
def test_raw_images_to_predictions(tmp_path: Path, run_example: Run, check_png: CheckPng) -> None:
    out = run_example("image_classification/run.py", "--out", str(tmp_path), "--fast").stdout

    # Step 1: a raw dataset of PNG images with a labels CSV, and unlabelled images apart.
    images = sorted((tmp_path / "raw" / "images").iterdir())
    with open(tmp_path / "raw" / "labels.csv", newline="") as f:
        labels = list(csv.DictReader(f))
    assert len(images) == len(labels) == 500 and {row["label"] for row in labels} == DIGITS
    assert check_png(images[0]) == (8, 8)
    assert len(list((tmp_path / "pred").glob("*.png"))) == 100

    # Step 2: dataset v1 with its tags; the best epoch's checkpoint; the model linked to v1.
    dataset_meta = json.loads((tmp_path / "store" / "datasets" / "digits" / "v1" / "meta.json").read_text())
    assert dataset_meta["tags"] == ["image", "classification", "digits"]
    assert dataset_meta["tensors"]["X_train"]["shape"][1:] == [8, 8, 1]
    assert dataset_meta["tensors"]["y_train"]["shape"][1:] == [10]
    assert (tmp_path / "checkpoints" / "best.weights.h5").is_file()
    assert re.search(r"best epoch: \d of 5 \(val_accuracy 0\.\d+\)", out), out
    (model_dir,) = (tmp_path / "store" / "models" / "digits").iterdir()
    model_meta = json.loads((model_dir / "meta.json").read_text())
    assert model_meta["serializer"]["name"] == "keras" and model_meta["dataset"]["version"] == "v1"
    assert model_meta["training"]["train_args"]["checkpoint_monitor"] == "val_accuracy"
    assert len(model_meta["training"]["history"]["val_accuracy"]) == 5
    assert check_png(tmp_path / "training_history.png")[0] > 400

    # Step 3: a prediction for every new image, as a digit name, scored against the held-out truth.
    with open(tmp_path / "predictions.csv", newline="") as f:
        predictions = list(csv.DictReader(f))
    assert len(predictions) == 100 and {row["prediction"] for row in predictions} <= DIGITS
    found = re.search(r"accuracy on the new images: ([\d.]+) \((\d+) of 100 correct\)", out)
    assert found, out
    assert float(found.group(1)) >= 0.5, out  # 5 epochs on 350 images; the full run gets about 0.98
    truth = _answers(tmp_path)
    assert int(found.group(2)) == sum(p["prediction"] == t for p, t in zip(predictions, truth, strict=True))

    # The prediction script again, copied away from the example's code (processor.py is not
    # importable there) and given the model's path: the dataset's stored processor does the work.
    alone = tmp_path / "somewhere_else"
    alone.mkdir()
    shutil.copy(EXAMPLE / "predict.py", alone / "predict.py")
    again = run_example(
        str(alone / "predict.py"), str(model_dir), "--out", str(alone),
        "--pred", str(tmp_path / "pred"), "--answers", str(tmp_path / "pred_answers.csv"),
    )  # fmt: skip
    assert f"accuracy on the new images: {found.group(1)}" in again.stdout
    assert (alone / "predictions.csv").read_text() == (tmp_path / "predictions.csv").read_text()


def test_predict_imports_no_framework_and_steps_run_out_of_order_explain_themselves(
    tmp_path: Path, run_example: Run, script_imports: Callable[[str], set[str]]
) -> None:
    imports = script_imports("image_classification/predict.py")
    assert not imports & ML_FRAMEWORKS
    assert not imports & {"processor", "train", "make_raw_data"}  # nor the example's own code
    no_data = run_example("image_classification/train.py", "--out", str(tmp_path), expect=1)
    assert f"no raw dataset in {tmp_path / 'raw'}: run make_raw_data.py" in no_data.stderr
    no_model = run_example("image_classification/predict.py", "--out", str(tmp_path), expect=1)
    assert "Train one first (train.py), or give a model's path." in no_model.stderr


def _answers(out: Path) -> list[str]:
    with open(out / "pred_answers.csv", newline="") as f:
        return [row["label"] for row in csv.DictReader(f)]


def test_rerunning_reuses_dataset_v1_or_moves_on_to_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # train.py's publication step, in this process (train.py imports Keras only to train).
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in EXAMPLE_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        train = importlib.import_module("train")
        raw, _, _ = importlib.import_module("make_raw_data").write_raw_data(str(tmp_path), fast=True)
        store = str(tmp_path / "store")
        first = train.publish_dataset(raw, store, "v1")
        again = train.publish_dataset(raw, store, "v1")  # a rerun on the same images
        assert (first.version, again.version, again.hash) == ("v1", "v1", first.hash)

        labels = Path(raw) / "labels.csv"
        labels.write_text("".join(labels.read_text().splitlines(keepends=True)[:-50]))  # other data
        other = train.publish_dataset(raw, store, "v1")
        assert other.version == "v2" and other.hash != first.hash and len(other.y_train) < len(first.y_train)
        assert VersionedDataset(first.path).hash == first.hash  # v1 untouched

        # A version name with no successor (not v<number>) holding other data is an error.
        train.publish_dataset(raw, store, "final")
        labels.write_text("".join(labels.read_text().splitlines(keepends=True)[:-50]))
        with pytest.raises(SystemExit, match="holds other data: versions are immutable"):
            train.publish_dataset(raw, store, "final")
    finally:
        for name in EXAMPLE_MODULES:
            sys.modules.pop(name, None)
