"""mlops.sig: signing a {relpath: sha256} mapping, verifying it, and every reason to refuse a version."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from mlops.errors import TrustPolicyError, UntrustedVersionError
from mlops.trust.keys import load_signing_key, load_trusted_key
from mlops.trust.policy import SIGNING_KEY_ENV, TRUSTED_KEYS_ENV, TrustPolicy, signing_key_from, trust_policy
from mlops.trust.signature import (
    BUNDLE_MEDIA_TYPE,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    check_covered,
    pae,
    sign_files,
    signer_hint,
    verify_signature,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FILES = {
    "X_train.npy": _sha(b"x"),
    "data_processor.pkl": _sha(b"processor"),
    "raw/a.b": _sha(b"1"),
    "raw/a/c.csv": _sha(b"2"),
    "meta.json": _sha(b"{}"),
}


def _payload(bundle: bytes) -> dict:  # type: ignore[type-arg]
    return json.loads(base64.b64decode(json.loads(bundle)["dsseEnvelope"]["payload"]))  # type: ignore[no-any-return]


def _reenvelope(bundle: bytes, statement: dict) -> bytes:  # type: ignore[type-arg]
    doc = json.loads(bundle)
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement, indent=2).encode()).decode()
    return json.dumps(doc).encode()


def test_round_trip_returns_exactly_the_signed_files(key_pair: tuple[Path, Path]) -> None:
    private, public = key_pair
    bundle = sign_files(FILES, load_signing_key(private).key, name="v1")
    covered = verify_signature(bundle, [load_trusted_key(public)])
    assert covered == FILES
    check_covered(covered, FILES)
    check_covered(covered, {**FILES, "mlops.sig": _sha(bundle)})  # the signature itself is never listed
    assert signer_hint(bundle) == load_trusted_key(public).fingerprint
    assert verify_signature(bundle, [load_trusted_key(public).key]) == FILES  # a bare cryptography key works too


def test_the_bundle_has_the_shape_model_signing_writes(key_pair: tuple[Path, Path]) -> None:
    bundle_bytes = sign_files(FILES, load_signing_key(key_pair[0]).key, name="v1")
    bundle = json.loads(bundle_bytes)
    assert bundle["mediaType"] == BUNDLE_MEDIA_TYPE == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"] == {
        "publicKey": {"hint": load_trusted_key(key_pair[1]).fingerprint},
        "tlogEntries": [],
    }
    envelope = bundle["dsseEnvelope"]
    assert envelope["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    assert [set(s) for s in envelope["signatures"]] == [{"sig", "keyid"}]
    statement = _payload(bundle_bytes)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE == "https://model_signing/signature/v1.0"
    names = [r["name"] for r in statement["predicate"]["resources"]]
    # model_signing orders resources as paths, component by component: raw/a/c.csv before raw/a.b
    assert names == ["X_train.npy", "data_processor.pkl", "meta.json", "raw/a/c.csv", "raw/a.b"]
    assert all(
        r["algorithm"] == "sha256" and r["digest"] == FILES[r["name"]] for r in statement["predicate"]["resources"]
    )
    assert statement["predicate"]["serialization"] == {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
        "ignore_paths": ["mlops.sig"],
    }
    root = hashlib.sha256(b"".join(bytes.fromhex(FILES[n]) for n in names)).hexdigest()
    assert statement["subject"] == [{"name": "v1", "digest": {"sha256": root}}]


def test_signing_refuses_bad_input(key_pair: tuple[Path, Path]) -> None:
    key = load_signing_key(key_pair[0]).key
    for files in ({"../x": FILES["meta.json"]}, {"/abs": FILES["meta.json"]}, {"a//b": FILES["meta.json"]}):
        with pytest.raises(ValueError, match="not a relative path"):
            sign_files(files, key, name="v")
    with pytest.raises(ValueError, match="64 lowercase hex"):
        sign_files({"a": "ABC"}, key, name="v")
    with pytest.raises(ValueError, match="cannot be covered by the signature it holds"):
        sign_files({"mlops.sig": FILES["meta.json"]}, key, name="v")


# --- each reason to refuse ------------------------------------------------------------------------------


def _refused(reason: str, call: object) -> UntrustedVersionError:
    with pytest.raises(UntrustedVersionError) as info:
        call()  # type: ignore[operator]
    assert info.value.reason == reason, str(info.value)
    return info.value


def test_unsigned(key_pair: tuple[Path, Path]) -> None:
    policy = TrustPolicy((load_trusted_key(key_pair[1]),))
    error = _refused("unsigned", lambda: policy.check(None, FILES, where="s3://b/datasets/v1"))
    assert "s3://b/datasets/v1 is not signed" in str(error) and str(key_pair[1]) in str(error)


def test_foreign_key_is_named_by_fingerprint(key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]) -> None:
    intruder = load_signing_key(other_key_pair[0])
    bundle = sign_files(FILES, intruder.key, name="v1")
    trusted = load_trusted_key(key_pair[1])
    error = _refused("untrusted-key", lambda: verify_signature(bundle, [trusted]))
    assert error.key == intruder.fingerprint
    assert intruder.fingerprint in str(error) and trusted.fingerprint in str(error) and str(key_pair[1]) in str(error)


def test_foreign_key_claiming_a_trusted_fingerprint(
    key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]
) -> None:
    """An attacker who copies the trusted key's hint into a bundle it signed gets nowhere."""
    trusted = load_trusted_key(key_pair[1])
    doc = json.loads(sign_files(FILES, load_signing_key(other_key_pair[0]).key, name="v1"))
    doc["verificationMaterial"]["publicKey"]["hint"] = trusted.fingerprint
    _refused("invalid-signature", lambda: verify_signature(json.dumps(doc).encode(), [trusted]))
    del doc["verificationMaterial"]["publicKey"]  # no hint at all: every trusted key is tried
    _refused("untrusted-key", lambda: verify_signature(json.dumps(doc).encode(), [trusted]))


def test_tampered_payload(key_pair: tuple[Path, Path]) -> None:
    """Rewriting a hash inside the signed statement (and even its subject digest) breaks the signature."""
    bundle = sign_files(FILES, load_signing_key(key_pair[0]).key, name="v1")
    statement = _payload(bundle)
    forged_digest = _sha(b"payload")
    statement["predicate"]["resources"][1]["digest"] = forged_digest
    names = [r["digest"] for r in statement["predicate"]["resources"]]
    statement["subject"][0]["digest"]["sha256"] = hashlib.sha256(b"".join(bytes.fromhex(d) for d in names)).hexdigest()
    error = _refused(
        "invalid-signature", lambda: verify_signature(_reenvelope(bundle, statement), [load_trusted_key(key_pair[1])])
    )
    assert "was altered" in str(error)


def test_tampered_signature_bytes(key_pair: tuple[Path, Path]) -> None:
    doc = json.loads(sign_files(FILES, load_signing_key(key_pair[0]).key, name="v1"))
    sig = bytearray(base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 1
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    _refused("invalid-signature", lambda: verify_signature(json.dumps(doc).encode(), [load_trusted_key(key_pair[1])]))


@pytest.mark.parametrize(
    "damage, detail",
    [
        (lambda d: b"not json", "not JSON"),
        (lambda d: b"[]", "not a JSON object"),
        (lambda d: json.dumps({**d, "mediaType": "application/json"}).encode(), "media type"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "dsseEnvelope"}).encode(), "no DSSE envelope"),
        (lambda d: json.dumps({**d, "dsseEnvelope": {**d["dsseEnvelope"], "payload": "!!"}}).encode(), "base64"),
        (lambda d: json.dumps({**d, "dsseEnvelope": {**d["dsseEnvelope"], "signatures": []}}).encode(), "no signature"),
        (
            lambda d: json.dumps({**d, "dsseEnvelope": {**d["dsseEnvelope"], "payloadType": "text/plain"}}).encode(),
            "payload type",
        ),
    ],
)
def test_malformed_bundles(key_pair: tuple[Path, Path], damage: object, detail: str) -> None:
    doc = json.loads(sign_files(FILES, load_signing_key(key_pair[0]).key, name="v1"))
    error = _refused("malformed", lambda: verify_signature(damage(doc), [load_trusted_key(key_pair[1])]))  # type: ignore[operator]
    assert detail in str(error) and error.file == "mlops.sig"


def test_a_validly_signed_but_inconsistent_statement_is_malformed(key_pair: tuple[Path, Path]) -> None:
    """The subject digest must match the resources, as model_signing checks (here signed by the trusted key)."""
    key = load_signing_key(key_pair[0]).key
    bundle = json.loads(sign_files(FILES, key, name="v1"))
    statement = _payload(json.dumps(bundle).encode())
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    payload = json.dumps(statement).encode()
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    bundle["dsseEnvelope"]["payload"] = base64.b64encode(payload).decode()
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(
        key.sign(pae(payload), ec.ECDSA(hashes.SHA256()))
    ).decode()
    error = _refused(
        "malformed", lambda: verify_signature(json.dumps(bundle).encode(), [load_trusted_key(key_pair[1])])
    )
    assert "subject digest" in str(error)


def test_file_not_covered() -> None:
    error = _refused("not-covered", lambda: check_covered(FILES, {**FILES, "extra.pkl": _sha(b"e")}, where="V"))
    assert error.file == "extra.pkl" and "extra.pkl in V is not covered" in str(error)


def test_hash_differs() -> None:
    actual = {**FILES, "data_processor.pkl": _sha(b"payload"), "meta.json": _sha(b"{forged}")}
    error = _refused("hash-mismatch", lambda: check_covered(FILES, actual))
    assert error.file == "data_processor.pkl" and "1 more file(s)" in str(error)


def test_signed_but_missing() -> None:
    actual = {k: v for k, v in FILES.items() if k != "X_train.npy"}
    error = _refused("missing", lambda: check_covered(FILES, actual))
    assert error.file == "X_train.npy" and "missing" in str(error)


def test_untrusted_version_error_is_an_integrity_error() -> None:
    from mlops.errors import IntegrityError

    error = _refused("missing", lambda: check_covered(FILES, {}))
    assert isinstance(error, IntegrityError)


# --- policies ---------------------------------------------------------------------------------------------


def test_policy_from_argument_or_environment(
    key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TRUSTED_KEYS_ENV, raising=False)
    assert trust_policy() is None
    monkeypatch.setenv(TRUSTED_KEYS_ENV, "")
    with pytest.raises(TrustPolicyError, match=f"{TRUSTED_KEYS_ENV} is set but names no key"):
        trust_policy()  # set but empty fails closed: it never means "no policy"
    import os

    monkeypatch.setenv(TRUSTED_KEYS_ENV, os.pathsep.join([str(key_pair[1]), "", str(other_key_pair[1])]))
    from_env = trust_policy()
    assert from_env is not None
    assert from_env.fingerprints == [
        load_trusted_key(key_pair[1]).fingerprint,
        load_trusted_key(other_key_pair[1]).fingerprint,
    ]
    explicit = trust_policy([key_pair[1]])  # an explicit argument wins over the environment
    assert explicit is not None and explicit.fingerprints == [load_trusted_key(key_pair[1]).fingerprint]
    with pytest.raises(TrustPolicyError, match="names no key"):
        trust_policy([])


def test_policy_check_admits_a_signed_version(key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]) -> None:
    policy = trust_policy([other_key_pair[1], key_pair[1]])
    assert policy is not None
    signer = load_signing_key(key_pair[0])
    assert policy.check(sign_files(FILES, signer.key, name="v1"), FILES) == signer.fingerprint


def test_policy_reads_each_key_once_and_again_when_replaced(key_pair: tuple[Path, Path], tmp_path: Path) -> None:
    first = trust_policy([key_pair[1]])
    second = trust_policy([key_pair[1]])
    assert first is not None and second is not None and first.keys[0] is second.keys[0]
    from mlops.trust.keys import generate_key_pair

    generate_key_pair(key_pair[0], force=True)
    replaced = trust_policy([key_pair[1]])
    assert replaced is not None and replaced.fingerprints != first.fingerprints


def test_policy_with_a_bad_key_file_fails_clearly(
    tmp_path: Path, key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.errors import KeyFileNotFoundError, SigningKeyError

    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(tmp_path / "missing.pub"))
    with pytest.raises(KeyFileNotFoundError):
        trust_policy()
    with pytest.raises(SigningKeyError, match="holds a private key"):
        trust_policy([key_pair[0]])


def test_signing_key_from_argument_or_environment(key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    assert signing_key_from(None) is None
    monkeypatch.setenv(SIGNING_KEY_ENV, str(key_pair[0]))
    from_env = signing_key_from(None)
    assert from_env is not None and from_env.fingerprint == load_trusted_key(key_pair[1]).fingerprint
    assert signing_key_from(from_env) is from_env
    explicit = signing_key_from(str(key_pair[0]))
    assert explicit is not None and explicit.path == str(key_pair[0])


# --- the fast writers match the json module ------------------------------------------------------------


def test_the_statement_and_bundle_are_byte_for_byte_what_json_dumps_writes(key_pair: tuple[Path, Path]) -> None:
    from pathlib import PurePosixPath

    from mlops.trust.signature import _root_digest, _sorted_paths, _statement, _statement_json

    odd = {f'dir-{i % 3}/ré"q{i}.bin': _sha(b"%d" % i) for i in range(20)} | {"a.b": _sha(b"1"), "a/b": _sha(b"2")}
    for files in ({}, FILES, odd):
        ordered = _sorted_paths(files)
        assert ordered == [str(p) for p in sorted(PurePosixPath(p) for p in files)]  # model_signing's order
        root = _root_digest([files[p] for p in ordered])
        for name in ("v1", 'ü"name'):
            expected = json.dumps(_statement(ordered, files, name, root), indent=2, ensure_ascii=False)
            assert _statement_json(ordered, files, name, root) == expected
    bundle = sign_files(odd, load_signing_key(key_pair[0]).key, name="v1")
    assert json.dumps(json.loads(bundle), separators=(",", ":")).encode() == bundle
