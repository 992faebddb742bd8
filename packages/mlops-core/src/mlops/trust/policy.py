"""Which keys a loader trusts, and which key a publisher signs with.

A :class:`TrustPolicy` comes from ``trusted_keys=[paths]`` or, when that is not given, from the
``MLOPS_TRUSTED_KEYS`` environment variable (public key files separated by ``os.pathsep``);
neither given means no policy (``None``): versions load as before, checked against their manifest
only. With a policy, a version loads only if its ``mlops.sig`` verifies with one of the keys and
covers exactly the files it holds. Public keys are loaded once per file content and cached.

The variable set to an empty or blank value is an error, not "no policy": a policy a deployment
meant to set (``MLOPS_TRUSTED_KEYS=$KEYS`` with ``KEYS`` unset) must not switch itself off. So is
a blank ``MLOPS_SIGNING_KEY``, rather than "publish unsigned".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlops.errors import SigningKeyError, TrustPolicyError, UntrustedVersionError
from mlops.trust.keys import SigningKey, TrustedKey, load_signing_key, load_trusted_key
from mlops.trust.signature import SIGNATURE_FILE, check_covered, signer_hint, verify_signature

TRUSTED_KEYS_ENV = "MLOPS_TRUSTED_KEYS"
SIGNING_KEY_ENV = "MLOPS_SIGNING_KEY"

KeyPaths = Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class TrustPolicy:
    """The public keys a loader trusts; :meth:`check` admits a version signed by one of them."""

    keys: tuple[TrustedKey, ...]

    @property
    def fingerprints(self) -> list[str]:
        return [k.fingerprint for k in self.keys]

    def check(self, signature: bytes | None, actual: Mapping[str, str], *, where: str = "the version") -> str:
        """Admit a version whose files are ``actual`` (``{relpath: sha256}``, the manifest's hashes
        plus the manifest and meta.json themselves) and whose ``mlops.sig`` holds ``signature``
        (``None`` when it has none). Returns the signer's fingerprint; raises
        :class:`~mlops.errors.UntrustedVersionError` naming the reason otherwise."""
        if signature is None:
            raise UntrustedVersionError(
                f"{where} is not signed (it has no {SIGNATURE_FILE}) and a trust policy is in force "
                f"({_origin(self)}); ask its publisher to sign it (`mlops sign PATH --key NAME`) or load it "
                "without a policy only if you trust everyone who can write to its store",
                reason="unsigned",
                file=SIGNATURE_FILE,
            )
        covered = verify_signature(signature, self.keys, where=where)
        check_covered(covered, actual, where=where)
        return signer_hint(signature) or ""


def trust_policy(trusted_keys: KeyPaths | None = None) -> TrustPolicy | None:
    """The policy in force: ``trusted_keys`` when given, else ``MLOPS_TRUSTED_KEYS``; ``None`` when
    neither names a key. An explicit empty list is refused rather than read as "trust nothing" or
    "no policy", so a policy set in the environment cannot be switched off by accident."""
    if trusted_keys is not None:
        if isinstance(trusted_keys, (str, os.PathLike)):
            trusted_keys = [trusted_keys]
        paths = [os.fspath(p) for p in trusted_keys]
        if not paths:
            raise TrustPolicyError(
                "trusted_keys=[] names no key: pass public key files (e.g. ['team.pub']), or leave it out "
                f"(None) to use {TRUSTED_KEYS_ENV}"
            )
    else:
        value = os.environ.get(TRUSTED_KEYS_ENV)
        if value is None:
            return None
        paths = [p for p in value.split(os.pathsep) if p.strip()]
        if not paths:
            raise TrustPolicyError(
                f"{TRUSTED_KEYS_ENV} is set but names no key ({value!r}), and an empty policy is refused rather "
                f"than read as no policy: set it to public key files separated by {os.pathsep!r} (e.g. "
                f"{TRUSTED_KEYS_ENV}=team.pub), or unset it to load versions without a trust policy"
            )
    keys = tuple(_cached_trusted_key(p) for p in dict.fromkeys(paths))
    return TrustPolicy(keys)


def signing_key_from(signing_key: str | os.PathLike[str] | SigningKey | None = None) -> SigningKey | None:
    """The key to sign a publish with: ``signing_key`` (a private key file) when given, else the file
    named by ``MLOPS_SIGNING_KEY``; ``None`` when neither is set (the version is not signed). The
    variable set to an empty or blank value raises :class:`~mlops.errors.SigningKeyError`."""
    if isinstance(signing_key, SigningKey):
        return signing_key
    if signing_key is None:
        value = os.environ.get(SIGNING_KEY_ENV)
        if value is None:
            return None
        if not value.strip():
            raise SigningKeyError(
                f"{SIGNING_KEY_ENV} is set but empty ({value!r}), so it names no key, and nothing is published "
                f"unsigned by accident: set it to a private key file from `mlops keygen` (e.g. "
                f"{SIGNING_KEY_ENV}=team), or unset it to publish without signing"
            )
        signing_key = value.strip()
    return load_signing_key(signing_key)


_cache: dict[tuple[str, int, int, int, int], TrustedKey] = {}
_cache_lock = threading.Lock()


def _cached_trusted_key(path: str) -> TrustedKey:
    """A public key loaded once per (file, content): opening many versions parses each key once,
    and a key file that is replaced is read again."""
    try:
        st = os.stat(path)
    except OSError:
        return load_trusted_key(path)  # raises the clear error for a missing or unreadable file
    cache_key = (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is None:
        cached = load_trusted_key(path)
        with _cache_lock:
            _cache[cache_key] = cached
    return cached


def _origin(policy: TrustPolicy) -> str:
    return "trusting " + ", ".join(k.path for k in policy.keys)
