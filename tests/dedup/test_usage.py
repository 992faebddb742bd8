"""Saying what happened: meta.json records what a publish wrote and reused, ``mlops show`` prints
it, and ``mlops du`` reports each version's bytes and the bytes only it holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mlops.cli import cli
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.metadata import PublishStats
from mlops.store import resolve
from mlops.versions.layout import read_record
from mlops.versions.usage import disk_usage
from sample_processors import CsvProcessor, write_raw

SIZE = 100_000


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "mlops-cache"))


def raw_folder(tmp_path: Path) -> Path:
    raw = Path(write_raw(str(tmp_path / "raw")))
    rng = np.random.default_rng(3)
    for i in range(4):
        (raw / f"part-{i}.bin").write_bytes(rng.bytes(SIZE))
    return raw


def publish(raw: Path, root: Path, version: str) -> str:
    return VersionedDatasetBuilder(str(raw), CsvProcessor()).publish(str(root), version)


def test_meta_json_records_written_and_reused(tmp_path: Path) -> None:
    raw, root = raw_folder(tmp_path), tmp_path / "datasets"
    v1 = publish(raw, root, "v1")
    (raw / "part-0.bin").write_bytes(np.random.default_rng(4).bytes(SIZE))
    v2 = publish(raw, root, "v2")
    first, second = read_record(resolve(v1)), read_record(resolve(v2))
    assert first.publish == PublishStats(
        files_written=first.file_count, bytes_written=first.total_bytes, files_reused=0, bytes_reused=0
    )
    assert second.publish is not None
    assert (second.publish.files_written, second.publish.bytes_written) == (1, SIZE)
    assert second.publish.files_reused == second.file_count - 1
    assert second.publish.bytes_reused == second.total_bytes - SIZE
    assert json.loads(Path(v2, "meta.json").read_bytes())["publish"]["bytes_written"] == SIZE

    shown = CliRunner().invoke(cli, ["show", v2])
    assert shown.exit_code == 0, shown.output
    assert f"1 file written (100.0 kB), {second.file_count - 1} reused from earlier versions" in shown.output


def test_du_reports_version_and_unique_bytes(tmp_path: Path) -> None:
    raw, root = raw_folder(tmp_path), tmp_path / "datasets"
    publish(raw, root, "v1")
    (raw / "part-0.bin").write_bytes(np.random.default_rng(4).bytes(SIZE))
    publish(raw, root, "v2")
    usage = disk_usage(root)
    v2, v1 = usage.versions
    assert (v1.version, v2.version) == ("v1", "v2")
    assert v1.bytes == v2.bytes
    assert v1.unique_bytes == v2.unique_bytes == SIZE  # the one file that differs
    assert usage.bytes == v1.bytes + v2.bytes
    assert usage.distinct_bytes == v1.bytes + SIZE

    listed = CliRunner().invoke(cli, ["du", str(root), "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["distinct_bytes"] == usage.distinct_bytes
    text = CliRunner().invoke(cli, ["du", str(root)])
    assert text.exit_code == 0 and f"{usage.bytes - usage.distinct_bytes} shared between versions" in text.output
