# mypy: disable-error-code="no-untyped-call"
# (dask and distributed ship no type hints)
"""Raw data already on an object store is copied inside that store: through the client, and from
the workers of a real 2-process LocalCluster, a raw folder on the moto S3 server published into the
same server moves almost no bytes (CopyObject, with the SHA-256 the service computes), counted by a
byte-counting proxy in front of the server. Where the store has a server-side copy but no SHA-256
(azurite's Azure Blob), the copy is read back once to hash it and nothing is uploaded."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
import pytest

pytest.importorskip("distributed")

from counting_proxy import CountingProxy  # noqa: E402

from mlops.dataset.versioned_dataset import VersionedDataset  # noqa: E402
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder  # noqa: E402
from sample_processors import FixedProcessor  # noqa: E402

FILES, SIZE = 24, 64 * 1024


def _upload_raw(fs: Any, root: str) -> dict[str, bytes]:
    """A raw folder of FILES random files (some in a sub-folder) at ``root``, written directly."""
    files = {f"{'deep/' if i % 3 == 0 else ''}img-{i:03d}.bin": os.urandom(SIZE + i) for i in range(FILES)}
    for rel, data in files.items():
        fs.pipe_file(f"{root}/{rel}", data)
    return files


def _processor() -> FixedProcessor:
    return FixedProcessor({"X_train": np.arange(6.0)}, {"y_train": np.arange(6)})


def _check_raw(path: str, files: dict[str, bytes], options: dict[str, Any] | None) -> None:
    """The manifest lists each raw file with the sha256 of its bytes, and every copy holds them."""
    dataset = VersionedDataset(path, storage_options=options)
    manifest = {rel: entry for rel, entry in dataset.files.items() if rel.startswith("raw/")}
    assert manifest == {f"raw/{rel}": (hashlib.sha256(data).hexdigest(), len(data)) for rel, data in files.items()}
    dataset.verify()


@pytest.fixture
def s3fs_direct(s3_server: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True)


@pytest.mark.parametrize("on", ["client", "cluster"])
def test_raw_data_on_s3_is_copied_inside_s3(
    on: str, request: pytest.FixtureRequest, s3_bucket: str, s3_counted: CountingProxy, s3fs_direct: Any
) -> None:
    if on == "cluster":
        request.getfixturevalue("client")  # a LocalCluster of 2 worker processes, active: workers copy
    files = _upload_raw(s3fs_direct, f"{s3_bucket.removeprefix('s3://')}/raw")
    raw_bytes = sum(len(data) for data in files.values())
    options = {"endpoint_url": s3_counted.endpoint}  # every request, of the client and of the workers, counted
    builder = VersionedDatasetBuilder(f"{s3_bucket}/raw", _processor(), storage_options=options)
    s3_counted.reset()
    path = builder.publish(f"{s3_bucket}/datasets", "v1", storage_options=options)
    counts = s3_counted.counts()
    # 1.5 MB of raw files; what crossed the wire is requests (a CopyObject and a HEAD per file)
    # and the publish's own small files (tensors, processor, manifest, meta.json).
    assert counts.upstream + counts.downstream < raw_bytes / 10, counts
    _check_raw(path, files, options)


def test_raw_data_on_azure_is_copied_inside_azure_and_read_once_to_hash_it(
    azure_container: str, azure_counted: CountingProxy, azurite_server: Any
) -> None:
    from adlfs import AzureBlobFileSystem
    from azurite_support import connection_string

    direct = AzureBlobFileSystem(connection_string=azurite_server.connection_string, skip_instance_cache=True)
    files = _upload_raw(direct, f"{azure_container.removeprefix('az://')}/raw")
    raw_bytes = sum(len(data) for data in files.values())
    options = {"connection_string": connection_string(azure_counted.endpoint)}
    builder = VersionedDatasetBuilder(f"{azure_container}/raw", _processor(), storage_options=options)
    azure_counted.reset()
    path = builder.publish(f"{azure_container}/datasets", "v1", storage_options=options)
    counts = azure_counted.counts()
    # Azure copies server-side but computes no SHA-256: each copy is downloaded once to hash it,
    # nothing is uploaded (a streamed copy would send every byte both ways).
    assert counts.upstream < raw_bytes / 10, counts
    assert raw_bytes <= counts.downstream < raw_bytes * 1.2, counts
    _check_raw(path, files, options)
