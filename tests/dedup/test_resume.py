"""Resuming a publish: a version whose publisher was killed (SIGKILL) is taken over, the files it
wrote are kept, and of racing resumers exactly one wins."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from counting_proxy import CountingProxy

import mlops
from mlops.errors import PublicationPathAlreadyExistsError
from mlops.store import resolve
from mlops.versions.layout import read_record
from sample_processors import CsvProcessor, write_raw

HERE = Path(__file__).parent
FILES = 20


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path / "mlops-cache"))


def make_raw(folder: Path, size: int = 200_000) -> str:
    write_raw(str(folder))
    rng = np.random.default_rng(5)
    (folder / "bin").mkdir()
    for i in range(FILES):
        (folder / "bin" / f"part-{i:03}.bin").write_bytes(rng.bytes(size))
    return str(folder)


def run_publisher(raw: str, root: str, version: str, kill_after: int, *extra: str, **env: str) -> Any:
    paths = [str(HERE.parent / "support"), str(HERE), os.environ.get("PYTHONPATH", "")]  # the caller's path kept
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths)), **env}
    return subprocess.Popen(
        [sys.executable, str(HERE / "killed_publisher.py"), raw, root, version, str(kill_after), *extra],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def killed(raw: str, root: str, version: str, kill_after: int) -> None:
    process = run_publisher(raw, root, version, kill_after)
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, process.returncode


def test_resume_after_sigkill_keeps_the_files_already_written(tmp_path: Path) -> None:
    raw, root = make_raw(tmp_path / "raw"), str(tmp_path / "datasets")
    killed(raw, root, "v1", kill_after=FILES // 2)
    folder = Path(root, "v1")
    left = {p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*.bin")}
    assert len(left) >= FILES // 2
    with pytest.raises(PublicationPathAlreadyExistsError, match="incomplete"):
        mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1")

    path = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1", resume=True)
    mlops.open_version(path).verify()
    for rel, inode in left.items():
        assert Path(folder, rel).stat().st_ino == inode, rel
    record = read_record(resolve(path))
    assert record.publish is not None and record.publish.files_reused >= len(left)
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_resume_without_an_incomplete_version_publishes_as_usual(tmp_path: Path) -> None:
    raw, root = make_raw(tmp_path / "raw"), str(tmp_path / "datasets")
    path = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1", resume=True)
    mlops.open_version(path).verify()


def test_resume_refuses_while_the_publisher_runs(tmp_path: Path) -> None:
    raw, root = make_raw(tmp_path / "raw"), str(tmp_path / "datasets")
    killed(raw, root, "v1", kill_after=3)
    claim_file = Path(root, "v1", ".mlops-publishing")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as alive:
        try:
            claim = json.loads(claim_file.read_text())
            claim_file.write_text(json.dumps({**claim, "pid": alive.pid}))  # a publisher still running here
            with pytest.raises(PublicationPathAlreadyExistsError, match=f"process {alive.pid}"):
                mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1", resume=True)
        finally:
            alive.kill()


def test_racing_resumers_exactly_one_wins(tmp_path: Path) -> None:
    raw, root = make_raw(tmp_path / "raw"), str(tmp_path / "datasets")
    killed(raw, root, "v1", kill_after=FILES // 2)
    go = tmp_path / "go"
    racers = [run_publisher(raw, root, "v1", 0, "--resume", WAIT_FOR=str(go)) for _ in range(3)]
    go.touch()
    outcomes = [racer.communicate(timeout=120) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), outcomes
    results = [out.split()[0] for out, _err in outcomes]
    assert results.count("ok") == 1, outcomes
    mlops.open_version(os.path.join(root, "v1")).verify()


def test_resume_on_s3_sends_only_the_missing_bytes_and_leaves_no_multipart_upload(
    tmp_path: Path, s3_bucket: str, s3_counted: CountingProxy
) -> None:
    import boto3

    raw = make_raw(tmp_path / "raw", size=500_000)
    root = f"{s3_bucket}/datasets"
    killed(raw, root, "v1", kill_after=FILES // 2)
    bucket = s3_bucket.removeprefix("s3://")
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    client.create_multipart_upload(Bucket=bucket, Key="datasets/v1/raw/bin/part-019.bin")  # a killed upload
    options = {"endpoint_url": s3_counted.endpoint}
    s3_counted.reset()
    path = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "v1", resume=True, storage_options=options)
    sent = s3_counted.counts().upstream
    mlops.open_version(path, storage_options=options).verify()
    total = FILES * 500_000
    assert sent <= 0.55 * total, (sent, total)
    assert client.list_multipart_uploads(Bucket=bucket, Prefix="datasets/").get("Uploads", []) == []
