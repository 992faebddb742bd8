"""Signed versions on real stores: a published dataset signed, then forged by someone with write
access, is refused under a trust policy before its processor is unpickled (local disk and S3, in
process and through MLOPS_TRUSTED_KEYS in a fresh process)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import fsspec
import numpy as np
import pytest

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import SignatureExistsError, UntrustedVersionError
from mlops.model.training_config import TrainingConfig
from mlops.model.versioned_model_builder import VersionedModelBuilder
from mlops.trust import versions
from mlops.trust.keys import load_signing_key
from mlops.trust.policy import TRUSTED_KEYS_ENV, trust_policy
from sample_processors import CsvProcessor, write_raw


class _WriteMarker:
    """The attacker's payload: unpickling it runs a shell command that creates a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"echo pwned > {self.marker}",)


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store" / "datasets")
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"{bucket}/datasets"


def _publish(root: str, tmp_path: Path, version: str = "v1") -> str:
    return VersionedDatasetBuilder(write_raw(str(tmp_path / f"raw-{version}")), CsvProcessor()).publish(root, version)


def _forge(path: str, marker: Path) -> None:
    """What an attacker with write access does: swap data_processor.pkl for a payload padded to the
    same size, and rewrite its hash (and the content hash) in meta.json so the manifest check passes."""
    fs, base = fsspec.core.url_to_fs(path)
    meta = json.loads(fs.cat_file(f"{base}/meta.json"))
    size = meta["files"]["data_processor.pkl"]["size"]
    payload = pickle.dumps(_WriteMarker(str(marker)), protocol=4)
    assert len(payload) < size
    payload += b"\0" * (size - len(payload))  # pickle stops at STOP: the padding is never read
    fs.pipe_file(f"{base}/data_processor.pkl", payload)
    meta["files"]["data_processor.pkl"]["sha256"] = hashlib.sha256(payload).hexdigest()
    meta["hash"] = hashlib.sha256(meta["hash"].encode()).hexdigest()
    fs.pipe_file(f"{base}/meta.json", json.dumps(meta, indent=2).encode())


def test_a_signed_version_is_admitted_and_loads(root: str, tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    path = _publish(root, tmp_path)
    dataset = VersionedDataset(path)
    versions.sign_version(dataset, load_signing_key(key_pair[0]))
    policy = trust_policy([key_pair[1]])
    assert versions.check_version(VersionedDataset(path), policy) == policy.fingerprints[0]  # type: ignore[union-attr]
    assert type(VersionedDataset(path).data_processor).__name__ == "CsvProcessor"
    assert set(versions.signed_files(dataset)) == {*dataset.metadata["files"], "meta.json"}
    with pytest.raises(SignatureExistsError, match="already signed"):
        versions.sign_version(dataset, load_signing_key(key_pair[0]))
    assert versions.check_version(dataset, None) is None  # no policy: nothing to check


def test_a_forged_version_is_refused_before_its_pickle_runs(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path = _publish(root, tmp_path)
    versions.sign_version(VersionedDataset(path), load_signing_key(key_pair[0]))
    marker = tmp_path / "marker"
    _forge(path, marker)
    forged = VersionedDataset(path)
    with pytest.raises(UntrustedVersionError) as info:
        versions.check_version(forged, trust_policy([key_pair[1]]))
        forged.data_processor  # noqa: B018 - what a loader does once the version is admitted
    assert info.value.reason == "hash-mismatch" and info.value.file == "data_processor.pkl"
    assert "changed after signing" in str(info.value) and "1 more file(s)" in str(info.value)  # meta.json too
    assert not marker.exists()
    # The forgery is real: the manifest check alone lets the payload run.
    VersionedDataset(path).data_processor  # noqa: B018
    assert marker.read_text().strip() == "pwned"


def test_a_forged_version_is_refused_in_a_fresh_process_through_the_environment(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path = _publish(root, tmp_path)
    versions.sign_version(VersionedDataset(path), load_signing_key(key_pair[0]))
    marker = tmp_path / "marker"
    _forge(path, marker)
    script = textwrap.dedent(
        f"""
        from mlops.dataset.versioned_dataset import VersionedDataset
        from mlops.trust import versions
        from mlops.trust.policy import trust_policy

        dataset = VersionedDataset({path!r})
        versions.check_version(dataset, trust_policy())
        dataset.data_processor
        """
    )
    env = {**os.environ, TRUSTED_KEYS_ENV: os.pathsep.join([str(key_pair[1])])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "UntrustedVersionError: data_processor.pkl" in done.stderr
    assert not marker.exists()


def test_unsigned_and_foreign_key_versions_are_refused(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]
) -> None:
    unsigned = VersionedDataset(_publish(root, tmp_path, "v1"))
    policy = trust_policy([key_pair[1]])
    with pytest.raises(UntrustedVersionError, match="is not signed") as info:
        versions.check_version(unsigned, policy)
    assert info.value.reason == "unsigned"
    foreign = VersionedDataset(_publish(root, tmp_path, "v2"))
    intruder = load_signing_key(other_key_pair[0])
    versions.sign_version(foreign, intruder)
    with pytest.raises(UntrustedVersionError, match="not among the trusted keys") as info:
        versions.check_version(foreign, policy)
    assert info.value.reason == "untrusted-key" and info.value.key == intruder.fingerprint


def test_a_signature_copied_from_another_version_is_refused(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    """Signed files are bound to their hashes: a valid mlops.sig moved next to other content fails."""
    signed = VersionedDataset(_publish(root, tmp_path, "v1"))
    versions.sign_version(signed, load_signing_key(key_pair[0]))
    other = _publish(root, tmp_path, "v2")
    fs, base = fsspec.core.url_to_fs(other)
    fs.pipe_file(f"{base}/mlops.sig", versions.read_signature(signed) or b"")
    with pytest.raises(UntrustedVersionError) as info:
        versions.check_version(VersionedDataset(other), trust_policy([key_pair[1]]))
    assert info.value.reason == "hash-mismatch"


def test_model_signing_verifies_a_signed_model_version_on_local_disk(
    tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    pytest.importorskip("mlops_sklearn")
    from sklearn.linear_model import LogisticRegression

    dataset_path = _publish(str(tmp_path / "datasets"), tmp_path)
    dataset = VersionedDataset(dataset_path)
    model = LogisticRegression(max_iter=200).fit(dataset.X_train, np.argmax(dataset.y_train, axis=1))
    model_path = VersionedModelBuilder(dataset, model, TrainingConfig(None, {"max_iter": 200})).publish(
        str(tmp_path / "models"), "m1"
    )
    versions.sign_version(versions.open_version(model_path), load_signing_key(key_pair[0]))
    assert sorted(os.listdir(model_path)) == ["meta.json", "mlops.sig", "model.joblib"]
    done = subprocess.run(
        [sys.executable, "-m", "model_signing", "verify", "key", model_path, "--signature",
         f"{model_path}/mlops.sig", "--public_key", str(key_pair[1])],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verification succeeded" in done.stdout
