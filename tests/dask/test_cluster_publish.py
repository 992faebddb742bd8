# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""Publishing dask tensors from a real 2-process LocalCluster to local disk and to the moto S3
server, and the crash guarantees: a worker SIGKILLed mid-publish is survived (its tasks rerun and
rewrite identical chunks), a client SIGKILLed mid-publish leaves only an incomplete version, and
the publish retried succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

from distributed import Client  # noqa: E402

from dask_processors import DaskProcessor, expected, write_raw  # noqa: E402
from mlops import errors  # noqa: E402
from mlops.dataset.versioned_dataset import VersionedDataset  # noqa: E402
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder  # noqa: E402
from mlops.store.local import LocalStore  # noqa: E402
from mlops.versions.incomplete import list_incomplete, remove_incomplete  # noqa: E402

SUPPORT = str(Path(__file__).resolve().parents[1] / "support")


def _check(path: str, raw: str, storage_options: dict[str, str] | None = None) -> None:
    x, y = expected(raw)
    ds = VersionedDataset(path, storage_options=storage_options)
    ds.verify()
    np.testing.assert_array_equal(np.asarray(ds.X_train), x)
    np.testing.assert_array_equal(np.asarray(ds.y_train), y)


def _temporaries(folder: str) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob(".tmp-*"))


def test_a_cluster_publishes_to_local_disk(client: Client, tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, DaskProcessor(chunk=10)).publish(str(tmp_path / "out"), "v1")
    _check(path, raw)
    # Both workers wrote chunks: the graph ran on the cluster, not in this process.
    assert len(client.run(os.getpid)) == 2


def test_a_cluster_publishes_to_s3(client: Client, s3_bucket: str, tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    path = VersionedDatasetBuilder(raw, DaskProcessor(chunk=10)).publish(f"{s3_bucket}/rows", "v1")
    _check(path, raw)
    # Workers read the chunks too (the lazy array computes on the cluster, verified there).
    assert client.compute(VersionedDataset(path).X_train.sum()).result() == pytest.approx(
        float(expected(raw)[0].sum()), rel=1e-5
    )


def test_a_worker_killed_mid_publish_is_survived(client: Client, tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    builder = VersionedDatasetBuilder(raw, DaskProcessor(delay=0.2, chunk=5))  # 20 chunks, ~2 s
    victim = next(iter(client.run(os.getpid).values()))
    killer = threading.Timer(0.8, os.kill, (victim, signal.SIGKILL))
    killer.start()
    try:
        path = builder.publish(str(tmp_path / "out"), "v1")
    finally:
        killer.join()
    assert victim not in client.run(os.getpid).values()  # it really died
    _check(path, raw)
    assert _temporaries(path) == []


CLIENT = """
import sys
from dask_processors import DaskProcessor
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
print("ready", flush=True)
VersionedDatasetBuilder(sys.argv[1], DaskProcessor(delay=float(sys.argv[3]), chunk=5)).publish(sys.argv[2], "v1")
print("published", flush=True)
"""


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_client_killed_mid_publish_leaves_an_incomplete_version_and_a_retry_succeeds(
    where: str, tmp_path: Path, s3_bucket: str
) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    root = str(tmp_path / "out") if where == "local" else f"{s3_bucket}/rows"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SUPPORT, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT, raw, root, "0.3"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while not list_incomplete(root) and time.monotonic() < deadline:  # the claim is made, chunks flow
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with pytest.raises(errors.IncompleteVersionError):
        VersionedDataset(f"{root}/v1")
    assert remove_incomplete(root) == [f"{root}/v1"]
    path = VersionedDatasetBuilder(raw, DaskProcessor(chunk=5)).publish(root, "v1")
    _check(path, raw)


def test_with_a_cluster_the_workers_copy_the_raw_files(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    Path(raw, "extra").mkdir()
    for i in range(40):
        Path(raw, "extra", f"{i:02d}.bin").write_bytes(os.urandom(1000 + i))

    def not_here(*args: object, **kwargs: object) -> None:
        raise AssertionError("a raw file was copied by the client, not by a worker")

    monkeypatch.setattr(LocalStore, "copy_from", not_here)  # in this process only: workers are others
    path = VersionedDatasetBuilder(raw, DaskProcessor(chunk=10)).publish(str(tmp_path / "out"), "v1")
    monkeypatch.undo()
    _check(path, raw)
    raw_files = sorted(f for f in VersionedDataset(path).files if f.startswith("raw/"))
    assert raw_files == [*(f"raw/extra/{i:02d}.bin" for i in range(40)), "raw/rows.npy"]
    for rel in raw_files:
        assert Path(path, rel).read_bytes() == Path(raw, rel.removeprefix("raw/")).read_bytes()


@pytest.mark.parametrize("scheduler", ["threaded", "cluster"])
def test_resume_after_a_killed_client_keeps_the_chunks_and_drops_the_temporaries(
    scheduler: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    root = str(tmp_path / "out")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SUPPORT, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT, raw, root, "0.1"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    chunks = Path(root, "v1", "X_train.zarr", "c")
    deadline = time.monotonic() + 60
    while len(list(chunks.glob("*/0"))) < 4 and time.monotonic() < deadline:  # some chunks are written
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = sorted(p.name for p in chunks.iterdir() if not p.name.startswith("."))
    assert written, "the publisher was killed before it wrote a chunk"
    # What a worker killed inside LocalStore.create_exclusive leaves: its temporary file in the
    # chunk's folder, or the hidden folder it was building the chunk's folder in.
    Path(chunks, written[0], ".tmp-killed-worker").write_bytes(b"half a chunk")
    Path(chunks, ".tmp-killed-staging").mkdir()
    Path(chunks, ".tmp-killed-staging", "0").write_bytes(b"half a chunk")
    # And a chunk the disk never got whole (its publisher's flush comes before the commit, and
    # the machine lost power first): the resumed publish replaces it.
    Path(chunks, written[0], "0").write_bytes(b"torn")
    if scheduler == "cluster":
        request.getfixturevalue("client")
    path = VersionedDatasetBuilder(raw, DaskProcessor(chunk=5)).publish(root, "v1", resume=True)
    _check(path, raw)
    assert _temporaries(path) == []
    dataset = VersionedDataset(path)
    assert not [f for f in dataset.files if ".tmp-" in f]
    stats = dataset.metadata["publish"]
    assert stats["files_written"] + stats["files_reused"] == len(dataset.files), stats  # each counted once


def test_a_temporary_left_in_a_chunk_folder_mid_publish_is_not_in_the_version(tmp_path: Path) -> None:
    raw = write_raw(str(tmp_path / "raw"))
    last = Path(tmp_path, "out", "v1", "X_train.zarr", "c", "19")

    def leave_temporary(block: np.ndarray, block_info: dict[Any, Any] | None = None) -> np.ndarray:
        # Before chunk 19 is written (its task computes this block first): what a worker killed
        # while writing it leaves, a temporary in its folder (then the task reruns elsewhere).
        if block_info is not None and block_info[0]["chunk-location"] == (19, 0):
            last.mkdir(parents=True, exist_ok=True)
            (last / ".tmp-killed-worker").write_bytes(b"half a chunk")
        return block

    class Leaving(DaskProcessor):
        def preprocess_features(self, raw_feature_tensor: Any) -> Any:
            values = super().preprocess_features(raw_feature_tensor)
            return values.map_blocks(leave_temporary) if values.ndim == 2 else values

    path = VersionedDatasetBuilder(raw, Leaving(chunk=5)).publish(str(tmp_path / "out"), "v1")  # threaded
    assert (last / "0").is_file()
    _check(path, raw)
    assert _temporaries(path) == []
