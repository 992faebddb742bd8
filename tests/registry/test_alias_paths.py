"""``ROOT@ALIAS`` wherever a version path is accepted: the classes, the functions and every command
that takes a PATH; and a model trained on a dataset opened through an alias records the version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_support import fails, ok

import mlops
from linear_model import Linear
from mlops import errors
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.versions.listing import version_info
from sample_processors import CsvProcessor

pytestmark = pytest.mark.usefixtures("linear_plugin")


@pytest.fixture
def roots(tmp_path: Path, raw_dir: str) -> tuple[str, str]:
    """``(datasets, models)``: datasets v1 and v2 (alias ``production`` -> v2), and model m1
    trained on v2 through the alias (alias ``production`` -> m1)."""
    datasets, models = str(tmp_path / "datasets"), str(tmp_path / "models")
    for version in ("v1", "v2"):
        VersionedDatasetBuilder(raw_dir, CsvProcessor()).publish(datasets, version, tags=[version])
    mlops.set_alias(datasets, "production", "v2")
    dataset = mlops.VersionedDataset(f"{datasets}@production")
    VersionedModelBuilder(dataset, Linear(np.ones(2))).publish(models, "m1")
    mlops.set_alias(models, "production", "m1")
    return datasets, models


def test_the_python_entry_points(roots: tuple[str, str], tmp_path: Path) -> None:
    datasets, models = roots
    dataset = mlops.VersionedDataset(f"{datasets}@production")
    assert (dataset.version, dataset.path) == ("v2", f"{datasets}/v2")
    model = mlops.VersionedModel(f"{models}@production")
    assert (model.version, model.path) == ("m1", f"{models}/m1")
    assert mlops.open_version(f"{datasets}@production").version == "v2"
    assert mlops.resolve_version(f"{models}@production") == f"{models}/m1"
    assert version_info(f"{datasets}@production").version == "v2"
    assert mlops.update_tags(f"{datasets}@production", add=["gold"]) == ["v2", "gold"]
    assert mlops.VersionedDataset(f"{datasets}/v2").tags == ["v2", "gold"]
    copy = mlops.republish(f"{datasets}@production", str(tmp_path / "copy"))
    assert mlops.VersionedDataset(copy).version == "v2"
    assert mlops.remove_version(f"{datasets}@production", dry_run=True, force=True).version == "v2"


def test_a_model_records_the_version_never_the_alias(roots: tuple[str, str]) -> None:
    datasets, models = roots
    meta = json.loads(Path(models, "m1", "meta.json").read_text())
    assert meta["dataset"]["path"] == f"{datasets}/v2"
    assert "@" not in json.dumps(meta["dataset"])
    mlops.set_alias(datasets, "production", "v1")  # moving the alias later changes nothing of the model
    assert mlops.VersionedModel(f"{models}@production").dataset.version == "v2"


def test_the_commands_that_take_a_path(roots: tuple[str, str], tmp_path: Path) -> None:
    datasets, models = roots
    assert f"{datasets}/v2" in ok("show", f"{datasets}@production")
    shown = json.loads(ok("show", f"{models}@production", "--json"))
    assert (shown["path"], shown["metadata"]["version"]) == (f"{models}/m1", "m1")
    assert "OK" in ok("verify", f"{datasets}@production")
    assert json.loads(ok("diff", f"{datasets}/v1", f"{datasets}@production", "--json"))
    lineage = json.loads(ok("lineage", f"{models}@production", "--json"))
    assert f"{datasets}/v2" in json.dumps(lineage)
    ok("tag", f"{datasets}@production", "--add", "checked")
    assert "checked" in mlops.VersionedDataset(f"{datasets}/v2").tags
    ok("republish", f"{models}@production", str(tmp_path / "models-copy"))
    assert mlops.VersionedModel(str(tmp_path / "models-copy" / "m1")).hash == mlops.VersionedModel(f"{models}/m1").hash
    assert "would remove" in ok("rm", f"{datasets}@production", "--dry-run", "--force")
    assert "no alias 'staging'" in fails("show", f"{datasets}@staging")


def test_rm_through_an_alias_removes_the_version_it_names(roots: tuple[str, str]) -> None:
    datasets, _ = roots
    assert "--force" in fails("rm", f"{datasets}@production")  # an alias names it: only on purpose
    assert sorted(v.version for v in mlops.list_versions(datasets)) == ["v1", "v2"]
    ok("rm", f"{datasets}@production", "--force")
    assert [v.version for v in mlops.list_versions(datasets)] == ["v1"]
    with pytest.raises(errors.VersionNotFoundError):  # the alias now names a version that is gone
        mlops.VersionedDataset(f"{datasets}@production")


def test_a_removed_alias_says_so(roots: tuple[str, str]) -> None:
    datasets, _ = roots
    mlops.remove_alias(datasets, "production", reason="dataset withdrawn")
    message = fails("show", f"{datasets}@production")
    assert "was removed" in message and "dataset withdrawn" in message
