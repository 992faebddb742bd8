"""Signed alias records: signed when a key is given, verified under a trust policy, and every forgery
refused under one: an unsigned record, another key's, an edited one, one copied to another number."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_support import fails, ok

import mlops
from mlops import errors


def _record(root: str, number: int) -> Path:
    return Path(root, "_aliases", "prod", f"{number:06d}.json")


def test_signed_records_verify_under_a_policy(root: str, key_pair: tuple[Path, Path]) -> None:
    private, public = key_pair
    first = mlops.set_alias(root, "prod", "v1", signing_key=private)
    assert first.signer
    mlops.set_alias(root, "prod", "v2", signing_key=private)
    trusted = [str(public)]
    assert mlops.get_alias(root, "prod", trusted_keys=trusted) == "v2"
    assert [e.version for e in mlops.alias_history(root, "prod", trusted_keys=trusted)] == ["v1", "v2"]
    ok("sign", f"{root}/v2", "--key", private)  # the version itself must be trusted too
    dataset = mlops.VersionedDataset(f"{root}@prod", trusted_keys=trusted)
    assert (dataset.version, dataset.signer) == ("v2", first.signer)


def test_forged_records_are_refused_under_a_policy(
    root: str, key_pair: tuple[Path, Path], other_key_pair: tuple[Path, Path]
) -> None:
    private, public = key_pair
    trusted = [str(public)]
    mlops.set_alias(root, "prod", "v1", signing_key=private)

    # an unsigned move on top (anyone with write access to the store can make one)
    mlops.set_alias(root, "prod", "v3")
    assert mlops.get_alias(root, "prod") == "v3"  # without a policy: read as written
    with pytest.raises(errors.UntrustedVersionError, match="not signed") as caught:
        mlops.get_alias(root, "prod", trusted_keys=trusted)
    assert caught.value.reason == "unsigned"
    with pytest.raises(errors.UntrustedVersionError):  # nor is any version opened through it
        mlops.open_version(f"{root}@prod", trusted_keys=trusted)
    with pytest.raises(errors.UntrustedVersionError):  # a mover under the policy refuses to build on it
        mlops.set_alias(root, "prod", "v2", signing_key=private, trusted_keys=trusted)

    # a trusted signer supersedes the forgery on purpose (force), and the alias is trusted again
    mlops.set_alias(root, "prod", "v2", signing_key=private, force=True)
    assert mlops.get_alias(root, "prod", trusted_keys=trusted) == "v2"

    # signed by a key nobody trusts
    intruder, _ = other_key_pair
    mlops.set_alias(root, "prod", "v3", signing_key=intruder)
    with pytest.raises(errors.UntrustedVersionError) as caught:
        mlops.get_alias(root, "prod", trusted_keys=trusted)
    assert caught.value.reason == "untrusted-key"
    mlops.set_alias(root, "prod", "v2", signing_key=private, force=True)

    # a trusted record edited after signing
    number = mlops.alias_history(root, "prod")[-1].number
    record = json.loads(_record(root, number).read_text())
    record["version"] = "v3"
    _record(root, number).write_text(json.dumps(record))
    with pytest.raises(errors.UntrustedVersionError) as caught:
        mlops.get_alias(root, "prod", trusted_keys=trusted)
    assert caught.value.reason == "hash-mismatch"

    # a genuine signed record replayed at a higher number (its signature names its own number)
    replayed = _record(root, number + 1)
    record = json.loads(_record(root, 1).read_text())
    record["number"] = number + 1
    replayed.write_text(json.dumps(record))
    with pytest.raises(errors.UntrustedVersionError):
        mlops.get_alias(root, "prod", trusted_keys=trusted)
    shutil.copyfile(_record(root, 1), replayed)  # copied as is: it says it is record 1
    with pytest.raises(errors.AliasRecordError, match="record 1"):
        mlops.get_alias(root, "prod", trusted_keys=trusted)


def test_the_environment_policy_and_the_commands(
    root: str, key_pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = key_pair
    ok("alias", "set", root, "prod", "v1", "--key", private)
    assert "signed by" in ok("alias", "log", root, "prod")
    ok("alias", "ls", root, "--trusted-key", public)
    mlops.set_alias(root, "prod", "v2")  # unsigned
    assert "not signed" in fails("alias", "ls", root, "--trusted-key", public)
    monkeypatch.setenv("MLOPS_TRUSTED_KEYS", str(public))
    assert "not signed" in fails("show", f"{root}@prod")
    with pytest.raises(errors.UntrustedVersionError):
        mlops.VersionedDataset(f"{root}@prod")
