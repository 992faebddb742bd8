"""Key pairs: what `mlops keygen` writes, and a clear error for every key file that cannot be used."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from mlops.cli import cli
from mlops.errors import (
    InsecureKeyFileError,
    KeyExistsError,
    KeyFileNotFoundError,
    KeyPasswordError,
    SigningKeyError,
)
from mlops.trust.keys import PASSWORD_ENV, fingerprint, generate_key_pair, load_signing_key, load_trusted_key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _private_pem(key: Any, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()))


def _public_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


# --- keygen -------------------------------------------------------------------------------------------


def test_keygen_writes_a_p256_pair_private_0600_pkcs8_public_spki(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["keygen", str(tmp_path / "team")])
    assert result.exit_code == 0, result.output
    private, public = tmp_path / "team", tmp_path / "team.pub"
    assert _mode(private) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, unencrypted
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")  # SubjectPublicKeyInfo
    signing, trusted = load_signing_key(private), load_trusted_key(public)
    assert signing.key.curve.name == trusted.key.curve.name == "secp256r1"
    assert signing.fingerprint == trusted.fingerprint == fingerprint(trusted.key)
    assert trusted.fingerprint in result.output


def test_keygen_is_private_from_the_first_byte_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        generate_key_pair(tmp_path / "k")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "k") == 0o600
    assert _mode(tmp_path / "k.pub") == 0o644


def test_keygen_refuses_to_overwrite_and_force_replaces(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["keygen", str(tmp_path / "team")]).exit_code == 0
    before = load_trusted_key(tmp_path / "team.pub").fingerprint
    again = runner.invoke(cli, ["keygen", str(tmp_path / "team")])
    assert again.exit_code == 1
    assert "already exists" in again.output and "--force" in again.output
    assert load_trusted_key(tmp_path / "team.pub").fingerprint == before  # untouched
    (tmp_path / "team").unlink()  # only the public half left: still refused
    with pytest.raises(KeyExistsError, match="team.pub already exists"):
        generate_key_pair(tmp_path / "team")
    forced = runner.invoke(cli, ["keygen", str(tmp_path / "team"), "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert load_trusted_key(tmp_path / "team.pub").fingerprint != before
    assert _mode(tmp_path / "team") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["team", "team.pub"]  # no temporary file left


def test_keygen_encrypt_takes_the_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    result = CliRunner().invoke(cli, ["keygen", str(tmp_path / "team"), "--encrypt"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "team").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_signing_key(tmp_path / "team").fingerprint == load_trusted_key(tmp_path / "team.pub").fingerprint
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(KeyPasswordError, match="passphrase .* is wrong"):
        load_signing_key(tmp_path / "team")
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(KeyPasswordError, match=f"encrypted private key: set {PASSWORD_ENV}"):
        load_signing_key(tmp_path / "team")
    assert load_signing_key(tmp_path / "team", password=b"correct horse").key is not None


def test_a_password_set_for_another_key_does_not_break_an_unencrypted_one(
    key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "for another key")
    assert load_signing_key(key_pair[0]).fingerprint == load_trusted_key(key_pair[1]).fingerprint


# --- key files that cannot be used ---------------------------------------------------------------------


def test_missing_key_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFileNotFoundError, match="no key file at .*mlops keygen"):
        load_signing_key(tmp_path / "nope")
    with pytest.raises(KeyFileNotFoundError):
        load_trusted_key(tmp_path / "nope.pub")
    with pytest.raises(FileNotFoundError):  # also the builtin
        load_trusted_key(tmp_path / "nope.pub")


def test_private_key_readable_by_others_is_refused_with_the_chmod_to_run(key_pair: tuple[Path, Path]) -> None:
    private, _ = key_pair
    for mode in (0o644, 0o640, 0o604, 0o660):
        private.chmod(mode)
        with pytest.raises(InsecureKeyFileError, match=f"chmod 600 {private}") as info:
            load_signing_key(private)
        assert isinstance(info.value, PermissionError)
    private.chmod(0o400)  # read-only for the owner is fine
    assert load_signing_key(private).key is not None


def test_files_that_are_not_pem(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for data in (der, b"not a key at all\n", b"", os.urandom(300)):
        path = _write(tmp_path / "k", data)
        with pytest.raises(SigningKeyError, match="not a PEM key file"):
            load_signing_key(path)
        with pytest.raises(SigningKeyError, match="not a PEM key file"):
            load_trusted_key(path)


def test_damaged_pem(tmp_path: Path, key_pair: tuple[Path, Path]) -> None:
    private, public = key_pair
    broken = _write(tmp_path / "broken", private.read_bytes().replace(b"\n", b"\n#", 2))
    with pytest.raises(SigningKeyError, match="not a readable PEM private key"):
        load_signing_key(broken)
    broken_pub = _write(tmp_path / "broken.pub", public.read_bytes()[:60] + b"\n-----END PUBLIC KEY-----\n", 0o644)
    with pytest.raises(SigningKeyError, match="not a readable PEM public key"):
        load_trusted_key(broken_pub)


def test_the_wrong_half_of_a_pair(key_pair: tuple[Path, Path]) -> None:
    private, public = key_pair
    public.chmod(0o600)  # so the permission check is not what refuses it
    with pytest.raises(SigningKeyError, match="holds a public key, but signing needs the private key"):
        load_signing_key(public)
    with pytest.raises(SigningKeyError, match="holds a private key; trust the public key instead"):
        load_trusted_key(private)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA"),
        (lambda: ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), "curve secp384r1"),
        (lambda: ec.generate_private_key(ec.SECP256K1()), "curve secp256k1"),
    ],
)
def test_keys_of_another_type_or_curve(tmp_path: Path, make: object, expected: str) -> None:
    key = make()  # type: ignore[operator]
    private = _write(tmp_path / "k", _private_pem(key))
    public = _write(tmp_path / "k.pub", _public_pem(key), 0o644)
    with pytest.raises(SigningKeyError, match=expected) as info:
        load_signing_key(private)
    assert "mlops keygen" in str(info.value)
    with pytest.raises(SigningKeyError, match=expected):
        load_trusted_key(public)


def test_openssl_style_ec_private_key_is_accepted(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = _write(tmp_path / "k", _private_pem(key, serialization.PrivateFormat.TraditionalOpenSSL))
    assert private.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert load_signing_key(private).fingerprint == fingerprint(key.public_key())


def test_a_folder_is_not_a_key(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="is a folder"):
        load_trusted_key(tmp_path)
    with pytest.raises(KeyExistsError, match="is a folder"):
        generate_key_pair(tmp_path)


def test_import_mlops_and_its_cli_do_not_import_cryptography() -> None:
    import subprocess
    import sys

    code = "import sys, mlops, mlops.cli, mlops.trust.policy; print('cryptography' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
