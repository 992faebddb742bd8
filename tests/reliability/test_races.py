"""Exclusive versions: N processes publishing one version at once give exactly one winner, whose
files are identical to a solo publish; the losers fail before writing and leave nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fsspec
import pytest
from reliability_support import Worker, worker_env

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import PublicationPathAlreadyExistsError
from sample_processors import CsvProcessor

PROCESSES = 8
ROUNDS = 20


def _race(root: str, raw: str, env: dict[str, str], options: dict[str, str]) -> None:
    workers = [Worker(root, raw, env, json.dumps(options)) for _ in range(PROCESSES)]
    try:
        for worker in workers:
            worker.wait_ready()
        solo = VersionedDataset(
            VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, "solo", storage_options=options),
            storage_options=options,
        )
        expected = solo.data_processor.get_preprocessed_features(raw)["X_pred"].tobytes()
        for round_ in range(ROUNDS):
            version = f"race-{round_:02d}"
            for worker in workers:  # every process is waiting on its stdin: they start together
                worker.send(version)
            results = sorted(worker.result().split(" ", 1)[1] for worker in workers)
            assert results == ["exists"] * (PROCESSES - 1) + ["ok"] or results == ["ok"] + ["exists"] * (
                PROCESSES - 1
            ), results
            winner = VersionedDataset(f"{root}/{version}", storage_options=options)
            winner.verify()
            assert winner.hash == solo.hash
            # Every file is byte-identical to a solo publish, but for the processor pickle: cloudpickle
            # embeds a random per-process id in classes pickled by value; it must behave the same.
            pickle = "data_processor.pkl"
            assert {k: v for k, v in winner.files.items() if k != pickle} == {
                k: v for k, v in solo.files.items() if k != pickle
            }
            assert winner.data_processor.get_preprocessed_features(raw)["X_pred"].tobytes() == expected
            fs, path = fsspec.url_to_fs(f"{root}/{version}", **options)
            fs.invalidate_cache()
            assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)) == sorted(
                {rel.split("/")[0] for rel in solo.files} | {"meta.json", "manifest.jsonl"}
            )  # no claim, no temporary file, nothing a loser wrote
    finally:
        for worker in workers:
            worker.close()


@pytest.mark.slow
def test_local_race_has_exactly_one_winner(tmp_path: Path, medium_raw: str) -> None:
    _race(str(tmp_path / "store"), medium_raw, worker_env(), {})


@pytest.mark.slow
def test_s3_race_has_exactly_one_winner(serial_s3: str, serial_bucket: str, medium_raw: str) -> None:
    # The serial server decides each conditional write atomically, as real S3 does (see SerialMotoServer).
    _race(f"{serial_bucket}/store", medium_raw, worker_env(AWS_ENDPOINT_URL=serial_s3), {"endpoint_url": serial_s3})


@pytest.mark.slow
def test_azure_race_has_exactly_one_winner(azure_container: str, medium_raw: str) -> None:
    # azurite decides each conditional write (If-None-Match: *) atomically, as Azure Blob does.
    _race(f"{azure_container}/store", medium_raw, worker_env(), {})


def test_an_empty_folder_made_by_someone_else_is_not_replaced(tmp_path: Path, medium_raw: str) -> None:
    (tmp_path / "store" / "v1").mkdir(parents=True)
    with pytest.raises(PublicationPathAlreadyExistsError, match="not an mlops version"):
        VersionedDatasetBuilder(medium_raw, CsvProcessor()).publish(str(tmp_path / "store"), "v1")
    assert os.listdir(tmp_path / "store" / "v1") == []
