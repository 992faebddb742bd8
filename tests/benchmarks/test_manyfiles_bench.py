"""The many-files benchmark measures what it claims: its listing audit sees every file that mlops
opens (a manifest read would be caught), its listing root holds real versions, and its baselines
copy every file. Run on a few dozen files; the benchmark itself runs with ``nox -s bench``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
FILES = 40


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """The benchmark module, imported as run.py imports it (its folder on sys.path)."""
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import bench_manyfiles

        return bench_manyfiles
    finally:
        sys.path.remove(str(BENCH_DIR))


@pytest.fixture
def raw(bench: ModuleType, tmp_path: Path) -> str:
    from workloads import make_many_files

    return make_many_files(str(tmp_path / "raw"), FILES)


@pytest.fixture
def published(raw: str, tmp_path: Path) -> tuple[Path, str]:
    from bench_processor import BenchProcessor

    from mlops import VersionedDatasetBuilder

    root = tmp_path / "datasets"
    return root, VersionedDatasetBuilder(raw, BenchProcessor()).publish(str(root), "v0000", progress=False)


def audit(call: str, path: Path | str, under: Path) -> dict[str, Any]:
    from harness import run_child

    return run_child("audit_opens", {"call": call, "path": str(path), "under": str(under)})


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_raw_folder_holds_distinct_files_of_1_kb(raw: str) -> None:
    files = [p for p in Path(raw, "files").rglob("*") if p.is_file()]
    assert len(files) == FILES
    assert {p.stat().st_size for p in files} == {1024}
    assert len({p.read_bytes() for p in files}) == FILES


def test_listing_root_holds_real_versions_and_listing_reads_only_their_meta_json(
    bench: ModuleType, published: tuple[Path, str]
) -> None:
    from mlops import VersionedDataset, list_versions

    root, real = published
    bench.make_listing_root(root, real, 5)
    copy = VersionedDataset(root / "v0003")
    assert (copy.version, copy.hash) == ("v0003", VersionedDataset(real).hash)
    assert sorted(v.version for v in list_versions(root)) == [f"v{i:04d}" for i in range(5)]

    seen = audit("list_versions", root, root)
    assert (seen["result"], seen["meta_json"], seen["manifest"], seen["other_files"]) == (5, 5, 0, [])
    assert seen["listed"] == [os.path.realpath(root)]
    assert bench.listing_violations(seen, root, 5) == 0


def test_the_audit_catches_a_manifest_read(bench: ModuleType, published: tuple[Path, str]) -> None:
    root, real = published
    seen = audit("files", real, root)  # VersionedDataset(path).files reads manifest.jsonl
    assert seen["manifest"] == 1
    # raw files, params.json, six tensors, the processor, the environment (pylock.toml, python.json)
    assert seen["result"] == FILES + 1 + 6 + 1 + 2
    assert bench.listing_violations(seen, root, 1) >= 1


@pytest.mark.parametrize("durability", ["fsync_each", "fsync_threads", "syncfs_once", "cp -r + sync"])
def test_baselines_copy_every_file(bench: ModuleType, raw: str, tmp_path: Path, durability: str) -> None:
    from bench_processor import BenchProcessor

    from mlops import VersionedDatasetBuilder

    builder = VersionedDatasetBuilder(raw, BenchProcessor())
    tensors = {**builder.features, **builder.labels}
    dest = tmp_path / "copy"
    if durability == "cp -r + sync":
        bench.cp_and_sync(raw, str(dest), tensors)
    else:
        assert bench.python_copy(raw, str(dest), tensors, durability) == FILES + 1
    assert tree(dest / "raw") == tree(Path(raw))
    assert sorted(os.listdir(dest)) == sorted([*(f"{n}.npy" for n in tensors), "raw"])


def test_an_unknown_durability_is_refused(bench: ModuleType, raw: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        bench.python_copy(raw, str(tmp_path / "copy"), {}, "none")
