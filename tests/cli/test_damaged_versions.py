"""One damaged version does not take down its root: ``ls``, ``du`` and ``report`` show it as
damaged with the reason, warn on stderr (one line per damaged version), list the rest and exit 0;
``verify`` is the command that fails on it. Also: a copied or renamed version folder is shown by
its folder's name and flagged, not listed as a second copy of its version."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from damaged_versions import DAMAGES, garbage_meta
from mlops.cli import cli


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _rows(output: str) -> dict[str, list[str]]:
    """The rows of a table printed by ls or du, by their first column."""
    return {line.split()[0]: line.split() for line in output.splitlines()[1:] if line.strip()}


def _damaged_root(root: str, publish_dataset: Any, damage: str) -> tuple[str, str, str]:
    """v1, v2, v3 under ``root``, v2 damaged; returns the three versions' paths."""
    paths = [publish_dataset(root, f"v{n}", seed=n) for n in (1, 2, 3)]
    DAMAGES[damage].apply(paths[1])
    return paths[0], paths[1], paths[2]


def _check_listing_commands(root: str, v2: str, damage: str, tmp_path: Path) -> None:
    reason, in_meta = DAMAGES[damage].reason, DAMAGES[damage].in_meta
    warning = f"mlops: warning: damaged version {v2}: "

    listed = _run("ls", root)
    assert listed.exit_code == 0, listed.output
    rows = _rows(listed.stdout)
    assert sorted(rows) == ["v1", "v2", "v3"]
    if in_meta:
        assert rows["v2"][1:] == ["-", "-", "-", "-", "DAMAGED"]
        [line] = listed.stderr.splitlines()
        assert line.startswith(warning) and reason in line
    else:  # listing reads meta.json only: a damaged manifest shows in du, report, ui and verify
        assert "DAMAGED" not in listed.stdout and listed.stderr == ""
    as_json = {item["folder"]: item for item in json.loads(_run("ls", root, "--json").stdout)}
    assert as_json["v1"]["damaged"] is None and as_json["v1"]["version"] == "v1"
    if in_meta:
        assert reason in as_json["v2"]["damaged"] and as_json["v2"]["version"] is None

    usage = _run("du", root)
    assert usage.exit_code == 0, usage.output
    rows = _rows(usage.stdout)
    assert rows["v2"][1:] == ["-", "-", "-", "DAMAGED"] and rows["v1"][1] == rows["v3"][1] != "-"
    assert "2 version(s)" in usage.stdout and "1 damaged, not counted" in usage.stdout
    [line] = usage.stderr.splitlines()
    assert line.startswith(warning) and reason in line
    usage_json = json.loads(_run("du", root, "--json").stdout)
    assert [v["version"] for v in usage_json["versions"]] == ["v3", "v1"]
    assert list(usage_json["damaged"]) == [v2] and reason in usage_json["damaged"][v2]

    out = tmp_path / "catalog.html"
    report = _run("report", root, "-o", str(out), "--no-stats")
    assert report.exit_code == 0, report.output
    [line] = report.stderr.splitlines()
    assert line.startswith(warning) and reason in line
    page = out.read_text()
    row = page[page.index('<tr class="damaged"') :].split("</tr>")[0]
    assert '<td class="path">v2</td>' in row and html.escape(reason, quote=True) in row
    assert page.count('<tr class="damaged"') == 1 and page.count("<tr data-version=") == 2

    assert _run("verify", v2).exit_code == 1  # verify is the command that fails on damage
    assert _run("verify", v2.replace("v2", "v1")).exit_code == 0


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_version_is_shown_and_the_rest_listed(damage: str, tmp_path: Path, publish_dataset: Any) -> None:
    root = str(tmp_path / "datasets")
    _, v2, _ = _damaged_root(root, publish_dataset, damage)
    _check_listing_commands(root, v2, damage, tmp_path)


@pytest.mark.parametrize("damage", [name for name, damage in DAMAGES.items() if not damage.local_only])
def test_a_damaged_version_on_s3_is_shown_and_the_rest_listed(
    damage: str, s3_bucket: str, tmp_path: Path, publish_dataset: Any
) -> None:
    root = f"{s3_bucket}/datasets"
    _, v2, _ = _damaged_root(root, publish_dataset, damage)
    _check_listing_commands(root, v2, damage, tmp_path)


def test_a_root_of_damaged_versions_only_is_listed_not_refused(tmp_path: Path, publish_dataset: Any) -> None:
    root = str(tmp_path / "datasets")
    garbage_meta(publish_dataset(root, "v1"))
    listed = _run("ls", root)
    assert listed.exit_code == 0 and _rows(listed.stdout)["v1"][-1] == "DAMAGED"
    report = _run("report", root, "-o", str(tmp_path / "c.html"), "--no-stats")
    assert report.exit_code == 0 and "is not valid JSON" in report.stderr


def test_a_copied_version_folder_is_shown_by_its_name_and_flagged(tmp_path: Path, publish_dataset: Any) -> None:
    root = tmp_path / "datasets"
    publish_dataset(str(root), "v1")
    publish_dataset(str(root), "v2", seed=2)
    shutil.copytree(root / "v1", root / "v1-backup")
    note = "mlops: warning: v1-backup holds version v1 (copied or renamed folder)"

    listed = _run("ls", str(root))
    assert listed.exit_code == 0 and listed.stderr.splitlines() == [note]
    rows = _rows(listed.stdout)
    assert sorted(rows) == ["v1", "v1-backup", "v2"]
    assert rows["v1-backup"][-3:] == ["holds", "version", "v1"] and rows["v1"][-1] != "v1"
    as_json = {item["folder"]: item for item in json.loads(_run("ls", str(root), "--json").stdout)}
    assert as_json["v1-backup"]["version"] == as_json["v1"]["version"] == "v1"
    assert as_json["v1-backup"]["path"] == str(root / "v1-backup")

    usage = _run("du", str(root))
    assert usage.exit_code == 0 and usage.stderr.splitlines() == [note]
    assert _rows(usage.stdout)["v1-backup"][-3:] == ["holds", "version", "v1"]
    usage_json = json.loads(_run("du", str(root), "--json").stdout)
    assert sorted((v["folder"], v["version"]) for v in usage_json["versions"]) == [
        ("v1", "v1"), ("v1-backup", "v1"), ("v2", "v2"),
    ]  # fmt: skip

    out = tmp_path / "catalog.html"
    report = _run("report", str(root), "-o", str(out), "--no-stats")
    assert report.exit_code == 0 and report.stderr.splitlines() == [note]
    page = out.read_text()
    assert '>v1-backup</a> <span class="flag moved"' in page and ">holds version v1</span>" in page
