"""The trust variables fail closed: ``MLOPS_TRUSTED_KEYS`` or ``MLOPS_SIGNING_KEY`` set to an empty or
blank value (``MLOPS_TRUSTED_KEYS=$KEYS`` where ``KEYS`` is unset) is an error naming the variable,
never "no policy" or "publish unsigned". Unset, they keep their documented meaning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import mlops
from forgery import forge_processor
from mlops.cli import cli
from mlops.errors import SigningKeyError, TrustPolicyError
from mlops.trust.policy import SIGNING_KEY_ENV, TRUSTED_KEYS_ENV
from sample_processors import CsvProcessor, write_raw

BLANKS = ["", " ", "\t", os.pathsep, f" {os.pathsep} "]


@pytest.fixture
def forged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """An unsigned dataset whose processor was swapped for a payload that writes a marker file."""
    monkeypatch.delenv(TRUSTED_KEYS_ENV, raising=False)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    raw = write_raw(str(tmp_path / "raw"))
    path = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(str(tmp_path / "store"), "v1")
    marker = tmp_path / "marker"
    forge_processor(path, str(marker))
    return path, marker


@pytest.mark.parametrize("value", BLANKS, ids=repr)
def test_a_blank_trusted_keys_variable_refuses_to_load(
    forged: tuple[str, Path], value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, marker = forged
    monkeypatch.setenv(TRUSTED_KEYS_ENV, value)
    with pytest.raises(TrustPolicyError, match=f"{TRUSTED_KEYS_ENV} is set but names no key") as caught:
        mlops.VersionedDataset(path).data_processor  # noqa: B018
    assert "unset it" in str(caught.value)
    with pytest.raises(TrustPolicyError, match=TRUSTED_KEYS_ENV):
        mlops.open_version(path)
    assert not marker.exists()


def test_a_blank_trusted_keys_variable_refuses_in_a_fresh_process(forged: tuple[str, Path]) -> None:
    path, marker = forged
    script = f"from mlops import VersionedDataset; VersionedDataset({path!r}).data_processor"
    env = {**os.environ, TRUSTED_KEYS_ENV: ""}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"TrustPolicyError: {TRUSTED_KEYS_ENV} is set but names no key" in done.stderr
    assert not marker.exists()
    shown = CliRunner().invoke(cli, ["show", path], env={TRUSTED_KEYS_ENV: " "})
    assert shown.exit_code == 1 and TRUSTED_KEYS_ENV in shown.output


def test_unset_trusted_keys_still_means_no_policy(forged: tuple[str, Path]) -> None:
    path, marker = forged
    assert mlops.VersionedDataset(path).signer is None
    mlops.VersionedDataset(path).data_processor  # noqa: B018 - documented: no policy, the manifest check only
    assert marker.read_text().strip() == "pwned"  # the forgery is real: a policy is what stops it


@pytest.mark.parametrize("value", ["", "  "], ids=repr)
def test_a_blank_signing_key_variable_refuses_to_publish(
    tmp_path: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TRUSTED_KEYS_ENV, raising=False)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    raw = write_raw(str(tmp_path / "raw"))
    root = tmp_path / "store"
    unsigned = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(str(root), "v1")  # unset: unsigned
    assert not os.path.exists(os.path.join(unsigned, "mlops.sig"))

    monkeypatch.setenv(SIGNING_KEY_ENV, value)
    with pytest.raises(SigningKeyError, match=f"{SIGNING_KEY_ENV} is set but empty") as caught:
        mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(str(root), "v2")
    assert "unset it to publish without signing" in str(caught.value)
    assert sorted(os.listdir(root)) == ["v1"]  # refused before anything was written
    with pytest.raises(SigningKeyError, match=SIGNING_KEY_ENV):
        mlops.republish(unsigned, str(tmp_path / "copy"))
    assert not (tmp_path / "copy").exists()
    signed = CliRunner().invoke(cli, ["sign", unsigned])
    assert signed.exit_code == 1 and f"{SIGNING_KEY_ENV} is set but empty" in signed.output
    assert not os.path.exists(os.path.join(unsigned, "mlops.sig"))


def test_the_signing_key_variable_still_signs(
    tmp_path: Path, key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SIGNING_KEY_ENV, f" {key_pair[0]} ")  # surrounding blanks are ignored, as before
    raw = write_raw(str(tmp_path / "raw"))
    path = mlops.VersionedDatasetBuilder(raw, CsvProcessor()).publish(str(tmp_path / "store"), "v1")
    assert mlops.VersionedDataset(path, trusted_keys=[key_pair[1]]).signer
