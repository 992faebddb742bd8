"""The name policy (mlops.metadata.names): every rule refused for versions and tensor names with the
named error before anything is written, on local disk, memory:// and the S3 server; the names
issue 20 found accepted (glob characters, 400-byte emoji, look-alikes, Windows device names) are
refused; names that follow the policy publish, list, load and remove; older versions whose names
the policy now refuses keep loading."""

from __future__ import annotations

import ast
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mlops
from mlops import errors
from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.metadata import names
from mlops.versions.writer import timestamp
from names_support import TinyProcessor, breaks_policy, file_hashes

EMOJI = "\U0001f600"
REFUSED = [
    # (name, a fragment of the message that names the rule broken)
    ("", "is empty"),
    ("   ", "is empty"),
    ("a/b", "path separator '/'"),
    ("a\\b", "path separator '\\\\'"),
    ("..", "contains '..'"),
    ("v1..2", "contains '..'"),
    (".hidden", "starts with '.'"),
    ("v1.", "ends with '.'"),
    ("v*", "glob character '*'"),
    ("v?", "glob character '?'"),
    ("v[12]", "glob character '['"),
    ("v]", "glob character ']'"),
    ("v{1,2}", "glob character '{'"),
    ("v}", "glob character '}'"),
    ("v\n1", "U+000A"),
    ("v\x001", "U+0000"),
    ("v\x7f", "category Cc"),
    ("v\x851", "category Cc"),
    ("v\u200b1", "ZERO WIDTH SPACE"),
    ("v\u202e1", "RIGHT-TO-LEFT OVERRIDE"),
    ("\ufeffv1", "category Cf"),
    ("v\u00ad1", "SOFT HYPHEN"),
    ("v\ud8001", "category Cs"),
    ("v\u20281", "LINE SEPARATOR"),
    ("v\u20291", "PARAGRAPH SEPARATOR"),
    ("v\uffff", "noncharacter"),
    ("v\ufffe1", "U+FFFE"),
    ("v\ufdd0", "noncharacter"),
    ("v\U0010ffff", "noncharacter"),
    ("v\u00a01", "NO-BREAK SPACE"),
    ("v\u30001", "IDEOGRAPHIC SPACE"),
    (" v1", "starts with a space"),
    ("v1 ", "ends with a space"),
    ("CON", "device name 'CON'"),
    ("aux", "device name 'AUX'"),
    ("Aux.txt", "device name 'AUX'"),
    ("com1.tar.gz", "device name 'COM1'"),
    ("LPT9", "device name 'LPT9'"),
    ("nul", "device name 'NUL'"),
    ("Prn.json", "device name 'PRN'"),
    ("COM\u00b9", "device name"),
    (EMOJI * 100, "400 bytes"),
    ("x" * 201, "201 bytes"),
    ("cafe\u0301", "'caf\u00e9'"),
]
ACCEPTED = [
    "v1",
    "2021-12-19T06:59:00.451852",
    "caf\u00e9",
    "v 1",
    "x" * 200,
    EMOJI * 50,
    "COM10",
    "CONSOLE",
    "auxiliary",
    "v1.2",
    "donn\u00e9es",
    "\u7248\u672c1",
]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A raw folder of one small file (TinyProcessor does not read it; publish copies it)."""
    folder = tmp_path_factory.mktemp("raw")
    (folder / "notes.txt").write_text("raw data\n")
    return str(folder)


@pytest.fixture(scope="module", params=["local", "memory", "s3"])
def populated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, raw: str) -> Iterator[str]:
    """A root on each store holding one published version, shared by the refusal tests (which must
    leave it exactly as it is)."""
    if request.param == "local":
        base = str(tmp_path_factory.mktemp("names") / "store")
    elif request.param == "memory":
        base = f"memory://names-{uuid.uuid4().hex[:12]}"
    else:
        import boto3

        endpoint = request.getfixturevalue("s3_server")
        bucket = f"names-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        base = f"s3://{bucket}"
    root = base + "/datasets"
    VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones((2, 2))})).publish(root, "v0")
    yield root


@pytest.mark.parametrize(("version", "rule"), REFUSED, ids=[ascii(v)[:30] for v, _ in REFUSED])
def test_versions_breaking_the_policy_are_refused_before_writing(
    version: str, rule: str, populated: str, raw: str
) -> None:
    before = file_hashes(populated)
    builder = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones((2, 2))}))
    with pytest.raises(errors.InvalidVersionError, match="invalid version") as info:
        builder.publish(populated, version)
    assert rule in str(info.value)
    assert "Use a plain name such as 'v1'" in str(info.value)
    assert file_hashes(populated) == before
    assert [v.version for v in mlops.list_versions(populated)] == ["v0"]


@pytest.mark.parametrize(("tensor", "rule"), REFUSED, ids=[ascii(v)[:30] for v, _ in REFUSED])
def test_tensor_names_breaking_the_policy_are_refused_before_writing(
    tensor: str, rule: str, populated: str, raw: str
) -> None:
    before = file_hashes(populated)
    with pytest.raises(errors.TensorNameError, match="is not a safe file name") as info:
        VersionedDatasetBuilder(raw, TinyProcessor({tensor: np.ones(2)})).publish(populated, "v1")
    assert rule in str(info.value)
    assert "Rename it in the processor's output" in str(info.value)
    assert file_hashes(populated) == before


@pytest.mark.parametrize(
    ("tensor", "rule"),
    [
        ("caf\u00e9", r"U\+00E9"),
        ("X" * 101, "101 characters"),
        ("-X", "does not start with"),
        ("a b", r"U\+0020 \(SPACE\)"),
    ],
)
def test_tensor_names_keep_their_ascii_character_set(tensor: str, rule: str, raw: str) -> None:
    with pytest.raises(errors.TensorNameError, match=rule):
        VersionedDatasetBuilder(raw, TinyProcessor({tensor: np.ones(2)}))


@pytest.mark.parametrize("name", ACCEPTED, ids=[ascii(n)[:30] for n in ACCEPTED])
def test_names_following_the_policy_are_accepted(name: str) -> None:
    assert names.check_version(name) == name
    assert names.path_segment_problem(name) is None
    assert not breaks_policy(name)


@pytest.mark.parametrize("version", [None, "caf\u00e9", "v 1", EMOJI * 50, "x" * 200, "CONSOLE", "COM10.v2"])
def test_accepted_versions_publish_list_load_and_remove(version: str | None, populated: str, raw: str) -> None:
    before = file_hashes(populated)
    data = np.arange(6.0).reshape(3, 2)
    path = VersionedDatasetBuilder(raw, TinyProcessor({"COM10": data})).publish(populated, version)
    stored = path.rstrip("/").rsplit("/", 1)[-1]
    assert version is None or stored == version  # the name as given: never normalized or trimmed
    assert {v.version for v in mlops.list_versions(populated)} == {"v0", stored}
    np.testing.assert_array_equal(VersionedDataset(path).COM10, data)
    mlops.remove_version(path)
    assert file_hashes(populated) == before


def test_default_version_is_a_timestamp_that_passes() -> None:
    stamp = timestamp()
    assert ":" in stamp
    assert names.check_version(stamp) == stamp


def test_look_alike_versions_cannot_coexist(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "datasets")
    builder = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)}))
    builder.publish(root, "caf\u00e9")
    for look_alike in ("cafe\u0301", "caf\u00e9 ", "caf\u200b\u00e9", "\u202ecaf\u00e9"):
        with pytest.raises(errors.InvalidVersionError):
            builder.publish(root, look_alike)
    assert [v.version for v in mlops.list_versions(root)] == ["caf\u00e9"]


def test_nfd_is_refused_not_normalized_and_the_message_gives_the_nfc_form() -> None:
    with pytest.raises(errors.InvalidVersionError) as info:
        names.check_version("cafe\u0301")
    message = str(info.value)
    assert "not in Unicode normalization form NFC" in message
    assert "use 'caf\u00e9' ('caf\\xe9')" in message
    assert "refuses it rather than change it" in message


def test_over_long_names_give_their_size_in_bytes() -> None:
    with pytest.raises(errors.InvalidVersionError, match=r"is 400 bytes long in UTF-8 \(100 characters\)"):
        names.check_version(EMOJI * 100)
    assert names.check_version(EMOJI * 50) == EMOJI * 50  # 200 bytes: the limit itself passes


def test_non_strings_are_refused() -> None:
    with pytest.raises(errors.InvalidVersionError, match="must be a string"):
        names.check_version(3)
    with pytest.raises(errors.TensorNameError, match="must be strings"):
        names.check_tensor_name(b"X")


@pytest.mark.parametrize("bad", ["ds\u200b", "\u202eds", "ds\x85", "d\u2028s", "ds\n", ""])
def test_dataset_names_and_tags_refuse_invisible_characters(bad: str, tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "datasets")
    builder = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)}))
    with pytest.raises(errors.InvalidNameError, match="is empty|category C|SEPARATOR"):
        builder.publish(root, "v1", name=bad)
    with pytest.raises(errors.InvalidTagsError, match="is empty|category C|SEPARATOR"):
        builder.publish(root, "v1", tags=["ok", bad])
    assert file_hashes(str(tmp_path)) == {}


def test_dataset_names_and_tags_stay_free_text(tmp_path: Path, raw: str) -> None:
    """Names and tags are metadata, not paths: glob characters, spaces, any length of bytes pass."""
    path = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)})).publish(
        str(tmp_path / "d"), "v1", name="caf\u00e9 [draft] *", tags=["CON", "a b", EMOJI * 60]
    )
    record = VersionedDataset(path).record
    assert record.name == "caf\u00e9 [draft] *"
    assert record.tags == ("CON", "a b", EMOJI * 60)


def test_a_root_whose_folder_name_cannot_be_the_default_name_says_to_pass_name(tmp_path: Path, raw: str) -> None:
    root = str(tmp_path / "data\u200b")
    builder = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)}))
    with pytest.raises(errors.InvalidNameError, match=r"the last folder of .* pass name="):
        builder.publish(root, "v1")
    assert file_hashes(str(tmp_path)) == {}
    builder.publish(root, "v1", name="data")  # the folder itself is a fine root


@pytest.mark.parametrize("kind", ["local", "memory", "s3"])
@pytest.mark.parametrize("folder", ["a\x00b", "a\nb", "a\x1fb", "a\uffffb", "a\ud800b"], ids=ascii)
def test_roots_no_store_can_hold_are_refused_before_writing(
    kind: str, folder: str, tmp_path: Path, raw: str, request: pytest.FixtureRequest
) -> None:
    """A NUL, a control character or a noncharacter cannot be kept by every store (S3's XML requests
    cannot carry them, so such keys could never be removed in a batch): the root is refused up front."""
    if kind == "local":
        base = str(tmp_path / "store")
    elif kind == "memory":
        base = f"memory://names-{uuid.uuid4().hex[:12]}"
    else:
        base = request.getfixturevalue("s3_bucket") + "/store"
    builder = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)}))
    with pytest.raises(errors.InvalidPathError, match="cannot use"):
        builder.publish(f"{base}/d/{folder}", "v1", name="d")
    assert file_hashes(base) == {}


def test_local_roots_with_a_name_over_255_bytes_are_refused_before_writing(tmp_path: Path, raw: str) -> None:
    builder = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)}))
    with pytest.raises(errors.InvalidPathError, match="is 256 bytes long; the limit is 255"):
        builder.publish(str(tmp_path / "store" / ("x" * 256)), "v1", name="d")
    assert file_hashes(str(tmp_path / "store")) == {}


def test_versions_written_before_the_policy_keep_loading(
    populated: str, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    """The policy applies when writing: a version and a tensor named under older rules load, list,
    and are removed as before."""
    before = file_hashes(populated)
    data = np.arange(4.0)
    with monkeypatch.context() as patch:
        patch.setattr(names, "path_segment_problem", lambda name: None)
        path = VersionedDatasetBuilder(raw, TinyProcessor({"aux": data})).publish(populated, "old ")
    assert names.path_segment_problem("old ") is not None  # the policy is back
    assert {v.version for v in mlops.list_versions(populated)} == {"v0", "old "}
    dataset = VersionedDataset(path)
    np.testing.assert_array_equal(dataset.aux, data)
    dataset.verify()
    mlops.remove_version(path)
    assert file_hashes(populated) == before


def test_republish_refuses_an_old_name_and_takes_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    root = str(tmp_path / "datasets")
    with monkeypatch.context() as patch:
        patch.setattr(names, "path_segment_problem", lambda name: None)
        path = VersionedDatasetBuilder(raw, TinyProcessor({"X": np.ones(2)})).publish(root, "v1*")
    with pytest.raises(errors.InvalidVersionError, match="glob character"):
        mlops.republish(path, str(tmp_path / "copy"))
    assert file_hashes(str(tmp_path / "copy")) == {}
    copied = mlops.republish(path, str(tmp_path / "copy"), version="v1")
    assert [v.version for v in mlops.list_versions(str(tmp_path / "copy"))] == ["v1"]
    np.testing.assert_array_equal(VersionedDataset(copied).X, np.ones(2))


def test_the_policy_module_imports_only_the_standard_library_and_mlops_errors() -> None:
    assert names.__file__ is not None
    tree = ast.parse(Path(names.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    foreign = {m for m in imported if m.split(".")[0] not in sys.stdlib_module_names and m != "mlops.errors"}
    assert foreign == set()
