"""``mlops.sig``: a signature over every file of a version, in the format of OpenSSF ``model_signing``.

The file is a Sigstore bundle (``application/vnd.dev.sigstore.bundle.v0.3+json``) holding a DSSE
envelope whose payload is an in-toto Statement v1 with predicate type
``https://model_signing/signature/v1.0``: one resource ``{name, algorithm: sha256, digest}`` per
file, sorted by path components, and one subject whose sha256 is taken over the raw digests in that
order. That is byte for byte the structure ``model_signing sign key`` writes, so
``model_signing verify key VERSION --signature VERSION/mlops.sig --public_key NAME.pub`` checks a
version on local disk. The serialization records ``ignore_paths: ["mlops.sig"]`` (the signature
cannot cover itself) and nothing else: unlike ``model_signing``'s default, git files are not left
out, because everything in a version folder is covered.

Signing needs only ``{relpath: sha256}`` (the manifest's hashes): no data is read. Everything here
is a pure function over bytes and mappings; the caller reads and writes the files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

from mlops.errors import UntrustedVersionError
from mlops.trust.keys import TrustedKey, crypto, fingerprint

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey, EllipticCurvePublicKey

SIGNATURE_FILE = "mlops.sig"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"

_SHA256 = re.compile(r"[0-9a-f]{64}")


def sign_files(files: Mapping[str, str], private_key: EllipticCurvePrivateKey, *, name: str) -> bytes:
    """The bytes of ``mlops.sig`` signing ``files`` (``{relpath: sha256 hex}``, every file of the
    version but the signature itself) with ``private_key``; ``name`` is the subject's name (the
    version folder's name, as ``model_signing`` records it; informative only)."""
    crypto()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    payload = statement_bytes(files, name=name)
    signature = private_key.sign(pae(payload), ec.ECDSA(hashes.SHA256()))
    # json.dumps of the bundle, compact as model_signing writes it; written out because escaping a
    # base64 string of many MB through the json encoder is needless (base64 has nothing to escape).
    hint = fingerprint(private_key.public_key())
    return (
        f'{{"mediaType":"{BUNDLE_MEDIA_TYPE}","verificationMaterial":{{"publicKey":{{"hint":"{hint}"}},'
        f'"tlogEntries":[]}},"dsseEnvelope":{{"payload":"{base64.b64encode(payload).decode()}",'
        f'"payloadType":"{PAYLOAD_TYPE}","signatures":[{{"sig":"{base64.b64encode(signature).decode()}",'
        '"keyid":""}]}}'
    ).encode()


def statement_bytes(files: Mapping[str, str], *, name: str) -> bytes:
    """The in-toto Statement listing ``files``, serialized as ``model_signing`` does (2-space JSON)."""
    if SIGNATURE_FILE in files:
        raise ValueError(f"{SIGNATURE_FILE} cannot be covered by the signature it holds; leave it out of files")
    bad = _first_bad(list(files), list(files.values()))
    if bad is not None:
        relpath, digest = bad
        _check_relpath(relpath)
        raise ValueError(f"the sha256 of {relpath!r} must be 64 lowercase hex digits, not {digest!r}")
    ordered = _sorted_paths(files)
    root = _root_digest([files[p] for p in ordered])
    return _statement_json(ordered, files, name, root).encode()


def _statement_json(ordered: list[str], files: Mapping[str, str], name: str, root: str) -> str:
    """``json.dumps(statement, indent=2, ensure_ascii=False)`` of the statement, written out directly:
    the json module's indenting encoder is pure Python, about ten times slower for 100,000 files.
    The tests compare both byte for byte."""
    text = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) writes for a string
    # Each resource is NAME + _MID + DIGEST, and _SEP closes one and opens the next: joined in C.
    resources = _SEP.join(map("".join, zip(map(text, ordered), repeat(_MID), map(files.__getitem__, ordered))))
    return (
        "{\n"
        f'  "_type": "{STATEMENT_TYPE}",\n'
        '  "subject": [\n    {\n'
        f'      "name": {text(name)},\n'
        f'      "digest": {{\n        "sha256": "{root}"\n      }}\n'
        "    }\n  ],\n"
        f'  "predicateType": "{PREDICATE_TYPE}",\n'
        '  "predicate": {\n'
        + ('    "resources": [\n' + _OPEN + resources + _CLOSE + "\n    ],\n" if ordered else '    "resources": [],\n')
        + '    "serialization": {\n'
        '      "method": "files",\n'
        '      "hash_type": "sha256",\n'
        '      "allow_symlinks": false,\n'
        f'      "ignore_paths": [\n        "{SIGNATURE_FILE}"\n      ]\n'
        "    }\n  }\n}"
    )


_OPEN = '      {\n        "algorithm": "sha256",\n        "name": '
_MID = ',\n        "digest": "'
_CLOSE = '"\n      }'
_SEP = _CLOSE + ",\n" + _OPEN


def _statement(ordered: list[str], files: Mapping[str, str], name: str, root: str) -> dict[str, Any]:
    """The statement as a dict: what :func:`_statement_json` writes (kept for the tests to compare)."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": root}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "resources": [{"algorithm": "sha256", "name": p, "digest": files[p]} for p in ordered],
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": [SIGNATURE_FILE],
            },
        },
    }


def pae(payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of an in-toto payload: what the signature is over."""
    return b"DSSEv1 %d %s %d %s" % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload), payload)


def signer_hint(bundle: bytes) -> str | None:
    """The fingerprint of the key that claims to have signed ``bundle`` (unverified), if it names one."""
    try:
        hint = json.loads(bundle)["verificationMaterial"]["publicKey"]["hint"]
    except (ValueError, KeyError, TypeError):
        return None
    return hint if isinstance(hint, str) and hint else None


def verify_signature(
    bundle: bytes,
    trusted_keys: Sequence[EllipticCurvePublicKey | TrustedKey],
    *,
    where: str = "the version",
) -> dict[str, str]:
    """The ``{relpath: sha256}`` that ``bundle`` (the bytes of ``mlops.sig``) covers, once its DSSE
    signature verifies with one of ``trusted_keys``.

    Raises :class:`~mlops.errors.UntrustedVersionError` with reason ``untrusted-key`` (naming the
    signer's fingerprint), ``invalid-signature`` (it names a trusted key but does not verify with it:
    the signature or its payload was altered) or ``malformed``. ``where`` names the version in messages.
    """
    crypto()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = [
        (k.path, k.key, k.fingerprint) if isinstance(k, TrustedKey) else (None, k, fingerprint(k)) for k in trusted_keys
    ]
    parsed = _parse_bundle(bundle, where)
    payload, raw_signature, hint = parsed
    candidates = [k for k in keys if k[2] == hint] if hint else keys
    if not candidates:
        raise UntrustedVersionError(
            f"{SIGNATURE_FILE} of {where} was signed by key {hint}, which is not among the trusted keys "
            f"({_key_list(keys)}); trust that key's .pub file if you trust its owner, or do not load this version",
            reason="untrusted-key",
            file=SIGNATURE_FILE,
            key=hint,
        )
    for _path, key, _fp in candidates:
        try:
            key.verify(raw_signature, pae(payload), ec.ECDSA(hashes.SHA256()))
            break
        except InvalidSignature:
            continue
    else:
        if hint:
            raise UntrustedVersionError(
                f"{SIGNATURE_FILE} of {where} names trusted key {hint} but its signature does not verify with it: "
                "the signature or the list of files it signs was altered; do not load this version",
                reason="invalid-signature",
                file=SIGNATURE_FILE,
                key=hint,
            )
        raise UntrustedVersionError(
            f"{SIGNATURE_FILE} of {where} names no key and verifies with none of the trusted keys "
            f"({_key_list(keys)}); do not load this version",
            reason="untrusted-key",
            file=SIGNATURE_FILE,
        )
    return _covered_files(payload, where)


def check_covered(covered: Mapping[str, str], actual: Mapping[str, str], *, where: str = "the version") -> None:
    """Check that ``covered`` (what the signature lists) is exactly ``actual`` (``{relpath: sha256}``
    of the files the version holds; ``mlops.sig`` itself is left out).

    Raises :class:`~mlops.errors.UntrustedVersionError` naming the first file not covered
    (``not-covered``), whose hash differs (``hash-mismatch``) or that is signed but absent
    (``missing``), with how many more problems there are.
    """
    present = actual
    if SIGNATURE_FILE in actual:
        present = dict(actual)
        del present[SIGNATURE_FILE]
    if present == covered:
        return
    problems: list[tuple[str, str, str]] = []
    for path in sorted(set(present) - set(covered), key=_report_order):
        problems.append(
            (
                "not-covered",
                path,
                f"{path} in {where} is not covered by its signature ({SIGNATURE_FILE}): it was added or renamed "
                "after signing. Do not load this version; if the change is yours, sign the version again",
            )
        )
    for path in sorted(set(present) & set(covered), key=_report_order):
        if present[path] != covered[path]:
            problems.append(
                (
                    "hash-mismatch",
                    path,
                    f"{path} in {where} has sha256 {present[path][:12]}..., but its signature ({SIGNATURE_FILE}) "
                    f"says {covered[path][:12]}...: it was changed after signing. Do not load this version",
                )
            )
    for path in sorted(set(covered) - set(present), key=_report_order):
        problems.append(
            (
                "missing",
                path,
                f"{path} is covered by the signature of {where} ({SIGNATURE_FILE}) but missing from it: a file "
                "was removed or renamed after signing. Do not load this version",
            )
        )
    if problems:
        reason, path, message = problems[0]
        if len(problems) > 1:
            message += f" ({len(problems) - 1} more file(s) differ from the signature)"
        raise UntrustedVersionError(message, reason=reason, file=path)


# --- internals ------------------------------------------------------------------------------------------


def _report_order(relpath: str) -> tuple[bool, tuple[str, ...]]:
    """Problems are reported data files first: a changed data file also changes the manifest and
    meta.json that record its hash, and the data file is what the reader needs to hear about."""
    return relpath in _BOOKKEEPING, _path_order(relpath)


_BOOKKEEPING = frozenset({"manifest.jsonl", "meta.json"})


def _path_order(relpath: str) -> tuple[str, ...]:
    """model_signing sorts resources as ``PurePosixPath`` objects: component by component."""
    return tuple(relpath.split("/"))


def _sorted_paths(paths: Iterable[str]) -> list[str]:
    """``sorted(paths, key=_path_order)``, faster: with "/" replaced by NUL (which no path holds, and
    which sorts before every other character) plain string order is component order."""
    return [p.replace("\0", "/") for p in sorted(p.replace("/", "\0") for p in paths)]


def _root_digest(digests: Sequence[str]) -> str:
    """sha256 over the raw bytes of ``digests`` in order: model_signing's subject digest."""
    return hashlib.sha256(bytes.fromhex("".join(digests))).hexdigest()


_HEX = b"0123456789abcdef"
# Substrings of "\n" + "\n".join(paths) + "\n" that betray an unsafe path: absolute, empty component,
# "." or "..", backslash, NUL. (A path that holds a newline also trips them and is checked alone.)
_UNSAFE = ("\n/", "/\n", "//", "\n\n", "\\", "\0", "\n./", "/./", "/.\n", "\n.\n", "\n../", "/../", "/..\n", "\n..\n")


def _first_bad(paths: Sequence[Any], digests: Sequence[Any]) -> tuple[Any, Any] | None:
    """The first (path, digest) pair that is not a safe relative path with a sha256 hex digest, or
    None. Checked with a few C-speed passes over all of them; only on a hit is each pair checked."""
    if all(isinstance(p, str) for p in paths) and all(isinstance(d, str) for d in digests):
        joined = "".join(digests)
        lines = "\n" + "\n".join(paths) + "\n"
        if (
            len(joined) == 64 * len(digests)
            and all(len(d) == 64 for d in digests)
            and joined.isascii()
            and not joined.encode().translate(None, _HEX)
            and (not paths or not any(u in lines for u in _UNSAFE))
        ):
            return None
    for path, digest in zip(paths, digests, strict=True):
        if not _is_relpath(path) or not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            return path, digest
    return None


def _is_relpath(path: Any) -> bool:
    return isinstance(path, str) and bool(_RELPATH.fullmatch(path))


# A relative POSIX path of non-empty components, none of them "." or "..", without backslashes or NULs.
_RELPATH = re.compile(r"(?:(?!\.\.?/)[^/\\\x00]+/)*(?!\.\.?$)[^/\\\x00]+")


def _check_relpath(relpath: Any) -> str:
    if not isinstance(relpath, str) or not _RELPATH.fullmatch(relpath):
        raise ValueError(f"{relpath!r} is not a relative path inside the version folder")
    return relpath


def _malformed(where: str, detail: str) -> UntrustedVersionError:
    return UntrustedVersionError(
        f"{SIGNATURE_FILE} of {where} is malformed ({detail}); it is not a signature mlops or model_signing "
        "wrote. Do not load this version; sign it again if it is yours",
        reason="malformed",
        file=SIGNATURE_FILE,
    )


def _parse_bundle(bundle: bytes, where: str) -> tuple[bytes, bytes, str | None]:
    """(payload, DER signature, key hint) of a bundle, structurally checked (not yet verified)."""
    try:
        doc = json.loads(bundle)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _malformed(where, f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _malformed(where, "not a JSON object")
    if doc.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise _malformed(where, f"media type {doc.get('mediaType')!r}, expected {BUNDLE_MEDIA_TYPE!r}")
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        raise _malformed(where, "no DSSE envelope")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise _malformed(where, f"payload type {envelope.get('payloadType')!r}, expected {PAYLOAD_TYPE!r}")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures or not isinstance(signatures[0], dict):
        raise _malformed(where, "no signature in the envelope")
    try:
        payload = base64.b64decode(envelope.get("payload", ""), validate=True)
        raw_signature = base64.b64decode(signatures[0].get("sig", ""), validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise _malformed(where, f"bad base64: {exc}") from exc
    if not payload or not raw_signature:
        raise _malformed(where, "empty payload or signature")
    material = doc.get("verificationMaterial")
    public_key = material.get("publicKey") if isinstance(material, dict) else None
    hint = public_key.get("hint") if isinstance(public_key, dict) else None
    return payload, raw_signature, hint if isinstance(hint, str) and hint else None


def _covered_files(payload: bytes, where: str) -> dict[str, str]:
    """The files a verified payload lists, after checking it is a model_signing v1.0 statement of
    sha256 file digests whose subject digest matches its resources."""
    try:
        statement = json.loads(payload)
        if statement["_type"] != STATEMENT_TYPE:
            raise _malformed(where, f"statement type {statement['_type']!r}")
        if statement["predicateType"] != PREDICATE_TYPE:
            raise _malformed(where, f"predicate type {statement['predicateType']!r}, expected {PREDICATE_TYPE!r}")
        (subject,) = statement["subject"]
        expected_root = subject["digest"]["sha256"]
        predicate = statement["predicate"]
        serialization = predicate["serialization"]
        if serialization["method"] != "files" or serialization["hash_type"] != "sha256":
            raise _malformed(
                where, f"serialization {serialization['method']}/{serialization['hash_type']}, expected files/sha256"
            )
        resources = predicate["resources"]
        names = [r["name"] for r in resources]
        digests = [r["digest"] for r in resources]
        if any(r["algorithm"] != "sha256" for r in resources):
            raise _malformed(where, "a resource is not hashed with sha256")
        bad = _first_bad(names, digests)
        if bad is not None:
            raise _malformed(where, f"resource {bad[0]!r} is not a relative path with a sha256 digest")
        covered = dict(zip(names, digests, strict=True))
        if len(covered) != len(names):
            raise _malformed(where, "a resource is listed twice")
    except UntrustedVersionError:
        raise
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise _malformed(where, f"unexpected statement: {type(exc).__name__}: {exc}") from exc
    if _root_digest(digests) != expected_root:
        raise _malformed(where, "its subject digest does not match the resources it lists")
    return covered


def _key_list(keys: Sequence[tuple[str | None, Any, str]]) -> str:
    return ", ".join(f"{path}: {fp}" if path else fp for path, _key, fp in keys) or "none"
