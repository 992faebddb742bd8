"""The ``mlops`` commands against versions on local disk and on the moto S3 server, run in this
process through click's CliRunner (tests/cli/test_console_script.py starts the real script).

Commands whose work happens above the store run on local disk only; the Python API under them is
tested on every store in test_registry.py and test_transfer.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from cli_support import fails, mlops, ok

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model_builder import VersionedModelBuilder

COMMANDS = [
    *["ls", "latest", "show", "lineage", "diff", "tag", "verify", "sign", "keygen", "inspect"],
    *["du", "rm", "clean", "republish", "plugins", "ui", "report", "serve"],
    *["alias", "gc"],
    *["predict", "export", "env"],
]
HISTORY = {"loss": [0.7, 0.5, 0.4], "val_accuracy": [0.6, 0.7, 0.75]}


def _fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    return fs, path


@dataclass
class Published:
    datasets: str
    models: str
    v1: str
    v2: str
    model: str


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"{bucket}/store"


def _publish_all(root: str, publish_dataset: Any) -> Published:
    """Two versions of a dataset and a scikit-learn model trained on the first."""
    from sklearn.linear_model import LogisticRegression

    datasets, models = f"{root}/datasets/points", f"{root}/models/points"
    v1 = publish_dataset(datasets, "v1", tags=["tabular"])
    v2 = publish_dataset(datasets, "v2", tags=["tabular", "bigger"], n=16, seed=1)
    data = VersionedDataset(v1)
    classifier = LogisticRegression().fit(data.X_train, data.y_train.argmax(axis=1))
    model = VersionedModelBuilder(data, classifier, TrainingConfig(HISTORY, {"C": 1.0})).publish(models, "m1")
    return Published(datasets, models, v1, v2, model)


@pytest.fixture
def published(root: str, publish_dataset: Any) -> Published:
    """Versions on local disk and on S3, for commands whose store handling is worth a second run."""
    return _publish_all(root, publish_dataset)


@pytest.fixture
def published_locally(tmp_path: Path, publish_dataset: Any) -> Published:
    """Versions on local disk, for commands whose work happens above the store (its S3 side is
    covered by the Python API tests)."""
    return _publish_all(str(tmp_path / "store"), publish_dataset)


# --- help ---------------------------------------------------------------------------------------------------------


def test_every_command_has_a_help_page() -> None:
    overview = ok("--help")

    listed = overview.split("Commands:\n")[1].split("\n\n")[0]
    assert [line.split()[0] for line in listed.splitlines()] == sorted(COMMANDS)
    for command in COMMANDS:
        page = ok(command, "--help")
        assert page.startswith(f"Usage: mlops {command} ") and len(page.splitlines()) > 4
    assert "Exit status: 0 success, 1 failure" in overview and "--storage-option" in overview
    assert ok("-h").splitlines()[0] == overview.splitlines()[0] == "Usage: mlops [OPTIONS] COMMAND [ARGS]..."


# --- ls, latest, show --------------------------------------------------------------------------------------------


def test_ls_and_latest(published: Published) -> None:
    lines = ok("ls", published.datasets).splitlines()

    assert lines[0].split() == ["VERSION", "CREATED", "TAGS", "HASH", "SIZE"]
    assert [line.split()[0] for line in lines[1:]] == ["v2", "v1"]  # newest first
    assert VersionedDataset(published.v2).hash[:12] in lines[1] and "tabular, bigger" in lines[1]

    listed = json.loads(ok("ls", published.datasets, "--tag", "bigger", "--json"))
    assert [(v["version"], v["path"], v["tags"]) for v in listed] == [("v2", published.v2, ["tabular", "bigger"])]
    assert ok("latest", published.datasets).strip() == published.v2
    assert ok("latest", published.datasets, "--tag", "tabular", "--json").count('"version": "v2"') == 1
    assert "no version under" in fails("latest", published.datasets, "--tag", "gold")


def test_show_a_dataset(published: Published) -> None:
    text = ok("show", published.v1)

    assert text.startswith("dataset    points v1\n")
    assert "tags       tabular" in text and "raw        copy of " in text
    assert "processor  sample_processors.CsvProcessor (cloudpickle, Python" in text
    assert any(
        line.split() == ["X_train", "features", "9", "x", "2", "float32", "200", "B"] for line in text.splitlines()
    )
    assert "raw/extra/deep/blob.bin" in text

    shown = json.loads(ok("show", published.v1, "--json"))
    assert shown["path"] == published.v1 and shown["metadata"] == VersionedDataset(published.v1).metadata


def test_show_a_model_with_its_training_curves(published_locally: Published, tmp_path: Path) -> None:
    plot = tmp_path / "curves.png"
    text = ok("show", published_locally.model, "--plot", str(plot))

    assert "serializer  sklearn (from mlops-sklearn 0.1.0)" in text
    assert "framework   scikit-learn " in text and f"at {published_locally.v1}" in text and "train args  C=1.0" in text
    assert "Final metrics (after 3 epochs)" in text and any(
        line.split() == ["val_accuracy", "0.75"] for line in text.splitlines()
    )
    assert text.rstrip().endswith(f"training curves written to {plot}")
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert "a dataset" in fails("show", published_locally.v1, "--plot", str(plot), code=2)


# --- verify, lineage, diff -------------------------------------------------------------------------------------------


def test_verify_reports_ok_or_the_damaged_file(published: Published) -> None:
    assert ok("verify", published.v1).startswith("OK  dataset points v1: 9 files (")
    assert json.loads(ok("verify", published.model, "--json"))["ok"] is True

    fs, path = _fs(published.v1.rstrip("/") + "/y_train.npy")
    data = bytes(fs.cat_file(path))
    fs.pipe_file(path, data[:-1] + bytes([data[-1] ^ 1]))

    assert "y_train.npy does not match its sha256" in fails("verify", published.v1)
    result = mlops("verify", published.v1, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["file"] == "y_train.npy"


def test_lineage_from_model_to_raw_data(published_locally: Published) -> None:
    lines = ok("lineage", published_locally.model).splitlines()

    assert (
        lines[0].startswith("model points m1") and "dataset points v1" in lines[1] and "raw data: copy of" in lines[2]
    )
    chain = json.loads(ok("lineage", published_locally.model, "--json"))["chain"]
    assert [node["kind"] for node in chain] == ["model", "dataset", "raw"] and chain[1]["status"] == "ok"

    text = ok("lineage", published_locally.v1, "--models", published_locally.models)
    assert "models trained on it under" in text and published_locally.model in text
    assert ok("lineage", published_locally.v2, "--models", published_locally.models).splitlines()[-1].endswith(": 0")

    fs, path = _fs(published_locally.v1)
    fs.rm(path, recursive=True)
    assert "[missing: no dataset at this path any more]" in ok("lineage", published_locally.model)


def test_diff_of_two_dataset_versions(published_locally: Published) -> None:
    text = ok("diff", published_locally.v1, published_locally.v2)

    assert "content differs" in text
    assert "~ X_train  9 x 2 -> 12 x 2 float32" in text and "MEAN" in text
    assert "~ raw/data.csv" in text and "+bigger" in text and "version: 'v1' -> 'v2'" in text

    result = json.loads(ok("diff", published_locally.v1, published_locally.v2, "--json"))
    [x_train] = [t for t in result["tensors"]["changed"] if t["name"] == "X_train"]
    expected = VersionedDataset(published_locally.v2).X_train
    assert x_train["b"]["shape"] == [12, 2] and x_train["b"]["mean"] == pytest.approx(
        float(np.mean(expected, dtype=np.float64))
    )
    assert x_train["b"]["max"] == pytest.approx(float(expected.max()))
    assert "data_processor.pkl" not in result["files"]["changed"]  # same processor, same bytes

    same = ok("diff", published_locally.v1, published_locally.v1)
    assert "same content" in same and "unchanged: X_train, X_test, y_train, y_test" in same
    assert "cannot compare a dataset with a model" in fails("diff", published_locally.v1, published_locally.model)


# --- plugins ---------------------------------------------------------------------------------------------------------


def test_plugins_lists_what_is_installed() -> None:
    text = ok("plugins")

    assert any(
        line.split()[:4] == ["sklearn", "mlops_sklearn.serializer.SklearnSerializer", "mlops-sklearn", "0.1.0"]
        for line in text.splitlines()
    )
    assert "* (every other)  mlops.store.FsspecStore" in text and "file             mlops.store.LocalStore" in text
    data = json.loads(ok("plugins", "--json"))
    assert {
        "name": "sklearn",
        "module": "mlops_sklearn.plugin",
        "distribution": "mlops-sklearn",
        "version": "0.1.0",
    } in data["plugins"]


# --- republish, tag, clean -------------------------------------------------------------------------------------------


def test_republish_to_s3_then_tag_the_copy(tmp_path: Path, publish_dataset: Any, s3_bucket: str) -> None:
    original = publish_dataset(str(tmp_path / "points"), "v1", tags=["tabular"])

    copy = ok("republish", original, f"{s3_bucket}/points").strip()

    assert copy == f"{s3_bucket}/points/v1"
    assert ok("verify", copy).startswith("OK  dataset points v1")
    assert "already exists" in fails("republish", original, f"{s3_bucket}/points")
    assert ok("tag", copy, "--add", "gold", "--add", "s3", "--remove", "tabular").strip() == "gold, s3"
    assert json.loads(ok("tag", copy, "--json")) == ["gold", "s3"]
    assert ok("ls", f"{s3_bucket}/points", "--tag", "gold").splitlines()[1].split()[0] == "v1"
    VersionedDataset(copy).verify()  # tags changed, manifest and hash still valid
    assert VersionedDataset(copy).hash == VersionedDataset(original).hash
    renamed = json.loads(ok("republish", copy, str(tmp_path / "back"), "--version", "v1-from-s3", "--json"))
    assert renamed["version"] == "v1-from-s3" and renamed["tags"] == ["gold", "s3"]


def test_clean_removes_incomplete_versions(published: Published) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    claim = {
        "token": "t",
        "host": os.uname().nodename,
        "pid": int(dead.stdout),
        "started_at": "2024-01-01T00:00:00.000000",
    }
    fs, path = _fs(published.datasets)
    fs.makedirs(f"{path}/v3", exist_ok=True)
    fs.pipe_file(f"{path}/v3/.mlops-publishing", json.dumps(claim).encode())
    fs.pipe_file(f"{path}/v3/X_train.npy", b"partial")

    assert "(1 incomplete, not listed" in ok("ls", published.datasets)
    listed = ok("ls", published.datasets, "--incomplete")
    assert listed.splitlines()[1].split()[:3] == ["v3", "2024-01-01", "00:00:00"] and "abandoned" in listed
    assert ok("clean", published.datasets, "--dry-run").strip().startswith("would remove ")
    assert ok("clean", published.datasets).strip().startswith("removed ")
    assert ok("ls", published.datasets, "--incomplete").startswith("no incomplete versions")
    assert [line.split()[0] for line in ok("ls", published.datasets).splitlines()[1:]] == ["v2", "v1"]


# --- failures, options ----------------------------------------------------------------------------------


def test_bad_input_gives_one_line_and_status_1(published: Published, root: str) -> None:
    assert "nothing does not exist: check the path" in fails("ls", f"{root}/nothing")
    assert "is a version, not a publication root" in fails("ls", published.v1)
    assert "is a publication root holding 2 version(s)" in fails("show", published.datasets)
    assert "does not exist" in fails("verify", f"{root}/nothing/v1")

    fs, path = _fs(published.datasets)
    fs.makedirs(f"{path}/v9", exist_ok=True)
    fs.pipe_file(f"{path}/v9/meta.json", b"{damaged")
    assert "is not valid JSON" in fails("show", published.datasets.rstrip("/") + "/v9")
    listing = mlops("ls", published.datasets)
    assert listing.exit_code == 0 and listing.stderr.startswith("mlops: warning: damaged version ")
    assert listing.stdout.splitlines()[-1].split() == ["v9", "-", "-", "-", "-", "DAMAGED"]


def test_usage_errors_give_status_2() -> None:
    assert "Missing argument 'ROOT'" in fails("ls", code=2)
    assert "No such command" in fails("nonsense", code=2)
    assert "is not KEY=VALUE" in fails("-o", "oops", "plugins", code=2)
    assert "is not a duration" in fails("clean", "somewhere", "--older-than", "soon", code=2)


def test_missing_bucket_is_one_line(s3_bucket: str) -> None:
    assert "mlops: error:" in fails("ls", f"{s3_bucket}-missing/datasets")


def test_storage_options_reach_the_store(s3_bucket: str, s3_server: str, publish_dataset: Any) -> None:
    publish_dataset(f"{s3_bucket}/points", "v1")
    options = ["-o", f"endpoint_url={s3_server}", "-o", "use_listings_cache=false"]

    text = ok(*options, "ls", f"{s3_bucket}/points", env={"AWS_ENDPOINT_URL": None})  # only -o says where S3 is

    assert text.splitlines()[1].split()[0] == "v1"
