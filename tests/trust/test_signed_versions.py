"""Signed versions on real stores: published signed, forged by someone with write access, refused
under a trust policy before anything is unpickled (local disk and S3, in process and through
MLOPS_TRUSTED_KEYS in a fresh process); tags, republish, the CLI and OpenSSF model_signing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import fsspec
import numpy as np
import pytest
from cli_support import fails, ok

import mlops
from forgery import forge_processor, replace_file
from mlops.errors import SignatureExistsError, SignedVersionError, UntrustedVersionError
from mlops.trust.keys import load_signing_key
from mlops.trust.policy import TRUSTED_KEYS_ENV
from mlops.versions import published as versions
from mlops.versions import signing
from sample_processors import CsvProcessor, write_raw


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store" / "datasets")
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"{bucket}/datasets"


def _publish(root: str, tmp_path: Path, version: str = "v1", **options: object) -> str:
    raw = write_raw(str(tmp_path / f"raw-{version}"))
    return mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(root, version, **options)  # type: ignore[arg-type]


def _names(path: str) -> list[str]:
    fs, base = fsspec.core.url_to_fs(path)
    fs.invalidate_cache()
    return sorted(p.rsplit("/", 1)[-1] for p in fs.ls(base, detail=False))


def test_a_version_signed_at_publish_is_admitted_and_loads(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path = _publish(root, tmp_path, signing_key=key_pair[0])
    assert "mlops.sig" in _names(path) and ".mlops-publishing" not in _names(path)
    dataset = mlops.VersionedDataset(path, trusted_keys=[key_pair[1]])
    assert dataset.signer == load_signing_key(key_pair[0]).fingerprint
    assert type(dataset.data_processor).__name__ == "CsvProcessor"
    covered = signing.covered_files(dataset.record, dataset.files, dataset._meta_bytes)
    assert set(covered) == {*dataset.files, "manifest.jsonl", "meta.json"}  # every file, meta.json included
    with pytest.raises(SignatureExistsError, match="already signed"):
        versions.sign_version(dataset, load_signing_key(key_pair[0]))
    assert mlops.VersionedDataset(path).signer is None  # no policy: nothing checked


def test_signing_an_existing_version_and_the_environment_key(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    later = _publish(root, tmp_path, "v1")
    versions.sign_version(mlops.VersionedDataset(later), load_signing_key(key_pair[0]))
    assert mlops.VersionedDataset(later, trusted_keys=[key_pair[1]]).signer
    monkeypatch.setenv("MLOPS_SIGNING_KEY", str(key_pair[0]))
    from_env = _publish(root, tmp_path, "v2")
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(key_pair[1]))
    assert mlops.VersionedDataset(from_env).signer  # MLOPS_TRUSTED_KEYS is the policy when none is given


def test_a_forged_version_is_refused_before_its_pickle_runs(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path = _publish(root, tmp_path, signing_key=key_pair[0])
    marker = tmp_path / "marker"
    forge_processor(path, str(marker))
    with pytest.raises(UntrustedVersionError) as info:
        mlops.VersionedDataset(path, trusted_keys=[key_pair[1]]).data_processor  # noqa: B018
    assert info.value.reason == "hash-mismatch"
    assert not marker.exists()
    # The forgery is real: the manifest check alone lets the payload run.
    mlops.VersionedDataset(path).data_processor  # noqa: B018
    assert marker.read_text().strip() == "pwned"


def test_a_forged_version_is_refused_in_a_fresh_process_through_the_environment(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path = _publish(root, tmp_path, signing_key=key_pair[0])
    marker = tmp_path / "marker"
    forge_processor(path, str(marker))
    script = textwrap.dedent(
        f"""
        from mlops import VersionedDataset
        VersionedDataset({path!r}).data_processor
        """
    )
    env = {**os.environ, TRUSTED_KEYS_ENV: os.pathsep.join([str(key_pair[1]), str(key_pair[1])])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "UntrustedVersionError" in done.stderr
    assert not marker.exists()


def test_unsigned_foreign_and_uncovered_versions_are_refused(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]
) -> None:
    unsigned = _publish(root, tmp_path, "v1")
    with pytest.raises(UntrustedVersionError, match="is not signed") as info:
        mlops.VersionedDataset(unsigned, trusted_keys=[key_pair[1]])
    assert info.value.reason == "unsigned"
    foreign = _publish(root, tmp_path, "v2", signing_key=other_key_pair[0])
    with pytest.raises(UntrustedVersionError, match="not among the trusted keys") as info:
        mlops.VersionedDataset(foreign, trusted_keys=[key_pair[1]])
    assert info.value.reason == "untrusted-key" and info.value.key == load_signing_key(other_key_pair[0]).fingerprint
    extra = _publish(root, tmp_path, "v3", signing_key=key_pair[0])
    fs, base = fsspec.core.url_to_fs(extra)
    fs.pipe_file(f"{base}/raw/planted.py", b"import os")
    fs.invalidate_cache()
    with pytest.raises(UntrustedVersionError, match="planted.py") as info:
        mlops.VersionedDataset(extra, trusted_keys=[key_pair[1]])
    assert info.value.reason == "not-covered"


def test_a_signature_copied_from_another_version_is_refused(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    """Signed files are bound to their hashes: a valid mlops.sig moved next to other content fails."""
    signed = _publish(root, tmp_path, "v1", signing_key=key_pair[0])
    other = _publish(root, tmp_path, "v2")
    fs, base = fsspec.core.url_to_fs(other)
    fs.pipe_file(f"{base}/mlops.sig", fs.cat_file(fsspec.core.url_to_fs(signed)[1] + "/mlops.sig"))
    fs.invalidate_cache()
    with pytest.raises(UntrustedVersionError) as info:
        mlops.VersionedDataset(other, trusted_keys=[key_pair[1]])
    assert info.value.reason == "hash-mismatch"


def test_a_model_and_the_dataset_it_links_to_are_held_to_the_policy(
    tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    from schema1_support import NpyLinear, npy_linear_plugin

    dataset = mlops.VersionedDataset(_publish(str(tmp_path / "datasets"), tmp_path))  # unsigned
    with npy_linear_plugin():
        path = mlops.VersionedModelBuilder(dataset, NpyLinear(np.eye(2))).publish(
            str(tmp_path / "models"), "m1", signing_key=key_pair[0]
        )
        model = mlops.VersionedModel(path, trusted_keys=[key_pair[1]])
        np.testing.assert_array_equal(model.predict(np.eye(2)), np.eye(2))
        with pytest.raises(UntrustedVersionError, match="is not signed"):
            model.dataset  # noqa: B018


def test_tags_of_a_signed_version_are_signed_again_or_refused(
    root: str, tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    path = _publish(root, tmp_path, signing_key=key_pair[0])
    with pytest.raises(SignedVersionError, match="signing_key"):
        mlops.update_tags(path, add=["prod"])
    assert mlops.VersionedDataset(path, trusted_keys=[key_pair[1]]).tags == []
    assert mlops.update_tags(path, add=["prod"], signing_key=key_pair[0]) == ["prod"]
    assert mlops.VersionedDataset(path, trusted_keys=[key_pair[1]]).tags == ["prod"]


def test_republish_keeps_a_valid_signature(root: str, tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    path = _publish(root, tmp_path, signing_key=key_pair[0])
    copy = mlops.republish(path, tmp_path / "copy")
    assert mlops.VersionedDataset(copy, trusted_keys=[key_pair[1]]).signer
    with pytest.warns(mlops.versions.republish.SignatureDroppedWarning, match="not signed"):
        renamed = mlops.republish(path, tmp_path / "copy", version="v1-renamed")
    assert "mlops.sig" not in os.listdir(renamed)
    resigned = mlops.republish(path, tmp_path / "copy", version="v1-signed", signing_key=key_pair[0])
    assert mlops.VersionedDataset(resigned, trusted_keys=[key_pair[1]]).signer


def test_the_command_line_signs_and_verifies(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    path = _publish(str(tmp_path / "datasets"), tmp_path)
    private, public = key_pair
    assert "is not signed" in fails("verify", path, "--key", public)
    assert "signed dataset datasets v1" in ok("sign", path, "--key", private)
    verified = json.loads(ok("verify", path, "--key", public, "--json"))
    assert verified["signed_by"] == load_signing_key(private).fingerprint
    assert ok("tag", path, "--add", "x", "--key", private).strip() == "x"
    replace_file(path, "raw/data.csv", b"forged")
    assert "raw/data.csv" in fails("verify", path, "--key", public)


def test_model_signing_verifies_a_version_signed_at_publish(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    pytest.importorskip("mlops_sklearn")
    from sklearn.linear_model import LogisticRegression

    dataset = mlops.VersionedDataset(_publish(str(tmp_path / "datasets"), tmp_path))
    model = LogisticRegression(max_iter=200).fit(dataset.X_train, np.argmax(dataset.y_train, axis=1))
    model_path = mlops.VersionedModelBuilder(dataset, model, mlops.TrainingConfig(None, {"max_iter": 200})).publish(
        str(tmp_path / "models"), "m1", signing_key=key_pair[0]
    )
    assert sorted(os.listdir(model_path)) == ["environment", "manifest.jsonl", "meta.json", "mlops.sig", "model.joblib"]
    for target in (model_path, dataset.path):
        if target == dataset.path:
            versions.sign_version(dataset, load_signing_key(key_pair[0]))
        done = subprocess.run(
            [sys.executable, "-m", "model_signing", "verify", "key", target, "--signature",
             f"{target}/mlops.sig", "--public_key", str(key_pair[1])],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Verification succeeded" in done.stdout
