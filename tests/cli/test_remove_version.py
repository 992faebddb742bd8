"""Removing one version: meta.json first, then its files; other versions are untouched; a dataset a
model was trained on is kept when asked (``--if-unused-by``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import mlops
from mlops.cli import cli
from mlops.errors import IncompleteVersionError, VersionInUseError, VersionNotFoundError
from mlops.store import Location
from mlops.store.local import LocalStore

PublishDataset = Callable[..., str]
PublishModel = Callable[..., str]


def test_remove_version_deletes_it_and_leaves_the_others_loadable(
    tmp_path: Path, publish_dataset: PublishDataset
) -> None:
    root = str(tmp_path / "datasets")
    v1 = publish_dataset(root, "v1")
    v2 = publish_dataset(root, "v2")
    removed = mlops.remove_version(v1)
    assert (removed.version, removed.kind, removed.dry_run) == ("v1", "dataset", False)
    assert removed.files >= 4 and removed.bytes > 0
    assert not os.path.exists(v1)
    assert [info.version for info in mlops.list_versions(root)] == ["v2"]
    mlops.open_version(v2).verify()
    with pytest.raises(VersionNotFoundError):
        mlops.open_version(v1)


def test_dry_run_removes_nothing(tmp_path: Path, publish_dataset: PublishDataset) -> None:
    v1 = publish_dataset(str(tmp_path / "datasets"), "v1")
    before = sorted(p.name for p in Path(v1).rglob("*"))
    removed = mlops.remove_version(v1, dry_run=True)
    assert removed.dry_run and removed.files == sum(1 for p in Path(v1).rglob("*") if p.is_file())
    assert sorted(p.name for p in Path(v1).rglob("*")) == before
    mlops.open_version(v1).verify()


def test_meta_json_goes_first(tmp_path: Path, publish_dataset: PublishDataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """A removal that dies after deleting meta.json leaves a folder that is no version (not listed,
    not loadable) but an incomplete one, claimed before meta.json went, that ``remove_incomplete``
    (``mlops clean``) removes: never a damaged version."""
    root = str(tmp_path / "datasets")
    v1 = publish_dataset(root, "v1")
    removed: list[list[str]] = []
    original = LocalStore.delete_files

    def dying_delete(self: LocalStore, locs: list[Location], **kwargs: object) -> None:
        removed.append([loc.name for loc in locs])
        if len(removed) > 1:
            raise KeyboardInterrupt
        original(self, locs, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalStore, "delete_files", dying_delete)
    with pytest.raises(KeyboardInterrupt):
        mlops.remove_version(v1)
    assert removed[0] == ["meta.json"]
    with pytest.raises(IncompleteVersionError):
        mlops.open_version(v1)
    assert mlops.list_versions(root) == []
    monkeypatch.setattr(LocalStore, "delete_files", original)
    assert mlops.remove_incomplete(root) == [v1]
    assert not os.path.exists(v1)


def test_if_unused_by_refuses_while_a_model_was_trained_on_it(
    tmp_path: Path, publish_dataset: PublishDataset, publish_model: PublishModel
) -> None:
    datasets, models = str(tmp_path / "datasets"), str(tmp_path / "models")
    used = publish_dataset(datasets, "v1")
    unused = publish_dataset(datasets, "v2", seed=1)
    publish_model(used, models, "m1")
    with pytest.raises(VersionInUseError, match="m1"):
        mlops.remove_version(used, if_unused_by=models)
    mlops.open_version(used).verify()
    assert mlops.remove_version(unused, if_unused_by=models).version == "v2"


def test_mlops_rm_command(tmp_path: Path, publish_dataset: PublishDataset, publish_model: PublishModel) -> None:
    datasets, models = str(tmp_path / "datasets"), str(tmp_path / "models")
    v1 = publish_dataset(datasets, "v1")
    publish_model(v1, models, "m1")
    runner = CliRunner()
    dry = runner.invoke(cli, ["rm", v1, "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("would remove dataset"), dry.output
    assert os.path.exists(os.path.join(v1, "meta.json"))
    refused = runner.invoke(cli, ["rm", v1, "--if-unused-by", models])
    assert refused.exit_code == 1 and "Remove those models first" in refused.output, refused.output
    done = runner.invoke(cli, ["rm", v1])
    assert done.exit_code == 0 and done.output.startswith("removed dataset"), done.output
    assert not os.path.exists(v1)


def test_a_version_an_alias_names_is_refused_unless_forced(tmp_path: Path, publish_dataset: PublishDataset) -> None:
    """Removing production's version by mistake would break every `ROOT@production` reader; as gc
    keeps what an alias names, rm refuses it, naming the aliases, until they move or --force."""
    root = str(tmp_path / "datasets")
    v1, v2 = publish_dataset(root, "v1"), publish_dataset(root, "v2", seed=1)
    mlops.set_alias(root, "production", "v1")
    mlops.set_alias(root, "canary", "v1")
    mlops.set_alias(root, "staging", "v2")
    mlops.remove_alias(root, "staging")  # a removed alias names nothing: it does not hold v2
    for path in (v1, f"{root}@production"):
        for dry_run in (True, False):
            with pytest.raises(VersionInUseError, match=r"'canary', 'production'.*mlops alias set"):
                mlops.remove_version(path, dry_run=dry_run)
    mlops.open_version(v1).verify()
    runner = CliRunner()
    refused = runner.invoke(cli, ["rm", v1])
    assert refused.exit_code == 1 and "--force" in refused.output and os.path.exists(v1), refused.output
    assert mlops.remove_version(v2).version == "v2"
    v2 = publish_dataset(root, "v2", seed=1)
    mlops.set_alias(root, "canary", "v2")
    with pytest.raises(VersionInUseError, match="'production'"):  # production still names v1
        mlops.remove_version(v1)
    forced = runner.invoke(cli, ["rm", v1, "--force"])
    assert forced.exit_code == 0 and not os.path.exists(v1), forced.output
    assert mlops.get_alias(root, "production") == "v1"  # the alias is left as it was, naming what is gone
