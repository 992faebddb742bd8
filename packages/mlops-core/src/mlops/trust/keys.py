"""Key pairs for signing versions: ECDSA P-256 in PEM files, as OpenSSF ``model_signing`` uses them.

``mlops keygen NAME`` writes the private key ``NAME`` (PKCS#8 PEM, mode 0600) and the public key
``NAME.pub`` (SubjectPublicKeyInfo PEM). P-256 because ``model_signing verify key`` accepts EC keys
only, so a version signed by mlops can be checked by that tool too. All cryptography goes through
the ``cryptography`` library (mlops-core's ``signing`` extra), imported only when a key is used.

A key's *fingerprint* is the sha256 of its public key PEM: the "hint" a signature carries to name
the key that made it (the same value ``model_signing`` writes), shown in errors and by ``keygen``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mlops.errors import (
    InsecureKeyFileError,
    KeyExistsError,
    KeyFileNotFoundError,
    KeyPasswordError,
    MissingDependencyError,
    SigningKeyError,
)
from mlops.utils.install import install_command

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey

PASSWORD_ENV = "MLOPS_SIGNING_KEY_PASSWORD"
"""Environment variable holding the passphrase of an encrypted private key."""

CURVE = "secp256r1"
"""The only curve mlops signs and verifies with (NIST P-256)."""

PUBLIC_SUFFIX = ".pub"

_SIGNING_KEY_ADVICE = (
    "mlops signs with ECDSA P-256 keys (what OpenSSF model_signing accepts): create one with `mlops keygen NAME`"
)
_TRUSTED_KEY_ADVICE = "mlops verifies ECDSA P-256 signatures: trust a key made by `mlops keygen NAME` (its NAME.pub)"


K = TypeVar("K")
EC = TypeVar("EC", "EllipticCurvePrivateKey", "EllipticCurvePublicKey")


@dataclass(frozen=True)
class _KeyFile(Generic[K]):
    """A key loaded from ``path``, and the fingerprint of its public key."""

    path: str
    key: K
    fingerprint: str


class SigningKey(_KeyFile["EllipticCurvePrivateKey"]):
    """A loaded private key, the file it came from, and the fingerprint of its public half."""


class TrustedKey(_KeyFile["EllipticCurvePublicKey"]):
    """A loaded public key, the file it came from, and its fingerprint."""


def crypto() -> Any:
    """The ``cryptography`` package, or the pip command that installs it."""
    try:
        import cryptography
    except ImportError as exc:
        raise MissingDependencyError(
            "signing and verifying versions needs the cryptography library, which is not installed; run: "
            + install_command("signing")
        ) from exc
    return cryptography


def fingerprint(public_key: EllipticCurvePublicKey) -> str:
    """sha256 (hex) of the key's SubjectPublicKeyInfo PEM: the key hint of model_signing bundles."""
    return hashlib.sha256(public_pem(public_key)).hexdigest()


def public_pem(public_key: EllipticCurvePublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM bytes of ``public_key``."""
    crypto()
    from cryptography.hazmat.primitives import serialization

    return bytes(public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


# --- generating ---------------------------------------------------------------------------------------


def generate_key_pair(
    name: str | os.PathLike[str], *, force: bool = False, password: bytes | None = None
) -> tuple[str, str]:
    """Write a new ECDSA P-256 key pair: the private key at ``name`` (PKCS#8 PEM, created with mode
    0600, encrypted when ``password`` is given) and the public key at ``name.pub``.

    Refuses to replace either file unless ``force``; then each is replaced atomically. Returns the
    two paths.
    """
    crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private_path = os.fspath(name)
    public_path = private_path + PUBLIC_SUFFIX
    if os.path.isdir(private_path):
        raise KeyExistsError(f"{private_path} is a folder; give the key a file name, e.g. {private_path}/team")
    if not force:
        for path in (private_path, public_path):
            if os.path.lexists(path):
                raise KeyExistsError(
                    f"{path} already exists; choose another name, or pass --force (force=True) to replace "
                    "the key pair (versions signed with the old key then no longer verify with the new one)"
                )
    key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _write_new(private_path, private_pem, 0o600, replace=force)
    _write_new(public_path, public_pem(key.public_key()), 0o644, replace=force)
    return private_path, public_path


def _write_new(path: str, data: bytes, mode: int, *, replace: bool) -> None:
    """Create ``path`` holding ``data`` with ``mode`` from the first byte on (never briefly readable
    by others); exclusive unless ``replace``, in which case a temporary sibling is renamed over it."""
    folder = os.path.dirname(os.path.abspath(path))
    if replace:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mlops-key-")  # mkstemp creates files 0600
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), mode)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as exc:
        raise KeyExistsError(f"{path} already exists; choose another name, or pass --force to replace it") from exc
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # the umask may have removed bits of a public key's 0644
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# --- loading --------------------------------------------------------------------------------------------


def load_signing_key(path: str | os.PathLike[str], *, password: bytes | None = None) -> SigningKey:
    """Load the private key at ``path`` for signing.

    The file must be a PEM private key of the ECDSA P-256 curve, not readable by group or others.
    An encrypted key needs ``password`` or the ``MLOPS_SIGNING_KEY_PASSWORD`` environment variable.
    Each problem raises its own :class:`~mlops.errors.SigningKeyError` saying what to do.
    """
    crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = os.fspath(path)
    data = _read_key_file(path)
    _check_private_mode(path)
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise SigningKeyError(
            f"{path} holds a public key, but signing needs the private key: pass the key file without "
            f"{PUBLIC_SUFFIX} (the one `mlops keygen` wrote with mode 0600)"
        )
    if b"-----BEGIN" in data and b"PRIVATE KEY-----" not in data:
        raise SigningKeyError(f"{path} is a PEM file but holds no private key; pass a key written by `mlops keygen`")
    if password is None and os.environ.get(PASSWORD_ENV):
        password = os.environ[PASSWORD_ENV].encode()
    try:
        key = serialization.load_pem_private_key(data, password)
    except TypeError as exc:
        if password is None:
            raise KeyPasswordError(f"{path} is an encrypted private key: set {PASSWORD_ENV} to its passphrase") from exc
        # A passphrase was given for a key that is not encrypted (e.g. the variable is set for another key).
        key = serialization.load_pem_private_key(data, None)
    except ValueError as exc:
        if b"ENCRYPTED" in data and password is not None:
            raise KeyPasswordError(
                f"{path} could not be decrypted: the passphrase (from {PASSWORD_ENV} or password=) is wrong"
            ) from exc
        raise SigningKeyError(
            f"{path} is not a readable PEM private key ({exc}); create one with `mlops keygen`"
        ) from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for keys it cannot handle
        raise SigningKeyError(f"{path} holds a private key mlops cannot use: {exc}") from exc
    key = _p256(path, key, ec.EllipticCurvePrivateKey, _SIGNING_KEY_ADVICE)
    return SigningKey(path, key, fingerprint(key.public_key()))


def load_trusted_key(path: str | os.PathLike[str]) -> TrustedKey:
    """Load the public key at ``path`` (a ``NAME.pub`` written by ``mlops keygen``) to verify with.

    Refuses private keys (hand out and configure only ``.pub`` files), non-PEM files and keys that
    are not ECDSA P-256, each with its own :class:`~mlops.errors.SigningKeyError`.
    """
    crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = os.fspath(path)
    data = _read_key_file(path)
    if b"PRIVATE KEY-----" in data:
        raise SigningKeyError(
            f"{path} holds a private key; trust the public key instead ({path}{PUBLIC_SUFFIX} if `mlops keygen` "
            "wrote it). A private key belongs only on the machine that signs."
        )
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningKeyError(f"{path} is not a readable PEM public key ({exc}); pass a NAME.pub file") from exc
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm for keys it cannot handle
        raise SigningKeyError(f"{path} holds a public key mlops cannot use: {exc}") from exc
    key = _p256(path, key, ec.EllipticCurvePublicKey, _TRUSTED_KEY_ADVICE)
    return TrustedKey(path, key, fingerprint(key))


def _read_key_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except FileNotFoundError as exc:
        raise KeyFileNotFoundError(
            f"no key file at {path}; create a key pair with `mlops keygen NAME` (NAME private, NAME.pub public)"
        ) from exc
    except IsADirectoryError as exc:
        raise SigningKeyError(f"{path} is a folder, not a key file") from exc
    if b"-----BEGIN" not in data:
        raise SigningKeyError(
            f"{path} is not a PEM key file (no '-----BEGIN' line); mlops reads keys written by `mlops keygen` "
            "(PEM); convert a DER key with `openssl pkey -inform DER -in KEY -out KEY.pem`"
        )
    return data


def _check_private_mode(path: str) -> None:
    """Refuse a private key that group or others can read or write, as ssh does."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise InsecureKeyFileError(
            f"{path} is a private key readable or writable by others (mode {mode:04o}); restrict it with "
            f"`chmod 600 {path}`, and if others may have read it, make a new key pair"
        )


def _p256(path: str, key: Any, kind: type[EC], advice: str) -> EC:
    """``key`` if it is a ``kind`` (an EC private or public key class) on the P-256 curve; else a
    :class:`~mlops.errors.SigningKeyError` saying what it is, then ``advice``."""
    if not isinstance(key, kind):
        raise SigningKeyError(f"{path} holds {_describe(key)}; {advice}")
    curve = key.curve.name
    if curve != CURVE:
        raise SigningKeyError(
            f"{path} is an EC key on curve {curve}; mlops uses P-256 (secp256r1) only: create a key with "
            "`mlops keygen NAME`"
        )
    return key


def _describe(key: Any) -> str:
    return f"a key of type {type(key).__name__.lstrip('_')}"
