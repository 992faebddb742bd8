"""mlops.sig and OpenSSF model_signing (the real package) accept each other's signatures."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.trust.keys import load_signing_key, load_trusted_key
from mlops.trust.signature import check_covered, sign_files, verify_signature


def _folder(root: Path) -> Path:
    """A model-like folder: nested files, a name that sorts differently as a string and as a path,
    a hidden file, and a meta.json."""
    folder = root / "v1"
    (folder / "raw" / "a").mkdir(parents=True)
    (folder / "model.joblib").write_bytes(random.Random(0).randbytes(5000))
    (folder / "raw" / "a" / "c.csv").write_text("1,2\n3,4\n")
    (folder / "raw" / "a.b").write_bytes(b"\x00\x01")
    (folder / ".hidden").write_text("hidden files are covered too")
    (folder / "meta.json").write_text('{"schema": 1}\n')
    return folder


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "mlops.sig"
    }


def _model_signing_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model_signing", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_model_signing_cli_verifies_an_mlops_signature_and_catches_a_flipped_byte(
    tmp_path: Path, key_pair: tuple[Path, Path]
) -> None:
    folder = _folder(tmp_path)
    (folder / "mlops.sig").write_bytes(sign_files(_hashes(folder), load_signing_key(key_pair[0]).key, name="v1"))
    args = ["verify", "key", str(folder), "--signature", str(folder / "mlops.sig"), "--public_key", str(key_pair[1])]
    ok = _model_signing_cli(*args)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verification succeeded" in ok.stdout
    data = bytearray((folder / "model.joblib").read_bytes())
    data[1234] ^= 0x01
    (folder / "model.joblib").write_bytes(bytes(data))
    flipped = _model_signing_cli(*args)
    assert flipped.returncode == 1
    assert "Hash mismatch for" in flipped.stderr and "model.joblib" in flipped.stderr


def test_model_signing_api_verifies_and_refuses_an_added_file(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    from model_signing import hashing, verifying

    folder = _folder(tmp_path)
    (folder / "mlops.sig").write_bytes(sign_files(_hashes(folder), load_signing_key(key_pair[0]).key, name="v1"))
    config = verifying.Config().use_elliptic_key_verifier(public_key=key_pair[1])  # type: ignore[no-untyped-call]
    config.verify(folder, folder / "mlops.sig")  # raises on failure; the signature's ignore_paths skip mlops.sig
    (folder / "raw" / "extra.pkl").write_bytes(b"added after signing")
    config = verifying.Config().use_elliptic_key_verifier(public_key=key_pair[1])  # type: ignore[no-untyped-call]
    config.set_hashing_config(hashing.Config().set_ignored_paths(paths=["mlops.sig"]))  # type: ignore[no-untyped-call]
    with pytest.raises(ValueError, match="Extra files found"):
        config.verify(folder, folder / "mlops.sig")


def test_model_signing_refuses_an_mlops_signature_by_another_key(
    tmp_path: Path, key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]
) -> None:
    folder = _folder(tmp_path)
    (folder / "mlops.sig").write_bytes(sign_files(_hashes(folder), load_signing_key(other_key_pair[0]).key, name="v1"))
    refused = _model_signing_cli(
        "verify", "key", str(folder), "--signature", str(folder / "mlops.sig"), "--public_key", str(key_pair[1])
    )
    assert refused.returncode == 1
    assert "Key mismatch" in refused.stderr


def test_mlops_verifies_what_model_signing_sign_key_wrote(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    folder = _folder(tmp_path)
    signed = _model_signing_cli(
        "sign", "key", str(folder), "--signature", str(folder / "mlops.sig"), "--private_key", str(key_pair[0])
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    bundle = (folder / "mlops.sig").read_bytes()
    covered = verify_signature(bundle, [load_trusted_key(key_pair[1])])
    assert covered == _hashes(folder)
    check_covered(covered, _hashes(folder))
    (folder / "meta.json").write_text('{"schema": 1, "forged": true}\n')
    from mlops.errors import UntrustedVersionError

    with pytest.raises(UntrustedVersionError, match="meta.json .* changed after signing"):
        check_covered(covered, _hashes(folder))
