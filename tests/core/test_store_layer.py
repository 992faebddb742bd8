"""The shape of mlops-core: one store layer owns every byte of I/O, modules import each other
without a circle, and opening a version reads meta.json only, however many files it has."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops.dataset.versioned_dataset import VersionedDataset
from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.store import FsspecStore, LocalStore, Location, S3Store, Store, resolve
from run_once import once_per_run
from sample_processors import FixedProcessor

SOURCES = Path(__file__).resolve().parents[2] / "packages"
CORE = SOURCES / "mlops-core" / "src" / "mlops"


def _sources() -> list[Path]:
    return sorted(p for p in SOURCES.glob("*/src/**/*.py"))


def test_nothing_outside_the_store_package_touches_fsspec() -> None:
    store = CORE / "store"
    pattern = re.compile(r"\.fs\.|url_to_fs|is_local|^\s*(import fsspec|from fsspec)", re.MULTILINE)
    offenders = [
        f"{path.relative_to(SOURCES)}: {match.group(0).strip()}"
        for path in _sources()
        if store not in path.parents
        for match in pattern.finditer(path.read_text())
    ]
    assert offenders == []


MUST_IMPLEMENT = {
    "locate", "exists", "is_dir", "list_dir", "list_files", "read_bytes", "open_read",
    "create_exclusive", "open_write", "replace_file", "delete_files", "fetch_verified",
}  # fmt: skip


def test_store_is_an_abc_of_the_primitives_every_store_must_implement() -> None:
    assert Store.__abstractmethods__ == MUST_IMPLEMENT
    for implementation in (LocalStore, FsspecStore, S3Store):
        assert not implementation.__abstractmethods__


def test_a_store_missing_a_primitive_cannot_be_instantiated() -> None:
    """Refused at once, naming what is missing: not halfway through a publish."""

    class HalfStore(Store):
        @classmethod
        def locate(cls, url: str, storage_options: Any) -> Location:
            return Location(cls(), url, url)

        def exists(self, loc: Location) -> bool:
            return False

    with pytest.raises(TypeError, match=r"HalfStore.*create_exclusive.*delete_files") as raised:
        HalfStore.locate("half://x", None)
    assert "exists" not in str(raised.value) and "locate" not in str(raised.value)


def test_resolve_picks_s3_store_for_s3_and_fsspec_store_for_other_urls() -> None:
    """The kind of filesystem is decided once, in resolve; FsspecStore knows nothing of S3."""
    pytest.importorskip("s3fs")
    for url in ("s3://bucket/models/points", "s3a://bucket/models/points"):
        assert type(resolve(url).store) is S3Store
    assert type(resolve("memory://models/points").store) is FsspecStore
    assert type(resolve("simplecache::memory://models/points").store) is FsspecStore
    assert type(resolve(str(Path.cwd())).store) is LocalStore
    source = (CORE / "store" / "fsspec_store.py").read_text()
    assert not re.search(r"s3|call_s3|_strip_protocol", source, re.IGNORECASE)


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The mlops-core modules ``path`` imports, at module level or inside functions (imports
    under ``if TYPE_CHECKING:`` are for type checkers only and are left out)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
    return {name for name in found if name in modules and name != "mlops"}


def test_core_modules_import_each_other_without_a_circle() -> None:
    paths = {_module_name(p): p for p in CORE.rglob("*.py")}
    modules = set(paths)
    graph = {name: _imports(path, modules) - {name} for name, path in paths.items()}
    assert graph["mlops.store.urls"] >= {"mlops.plugins.manager"}  # the plugin lookup happens in resolve
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _publish_many_files(base: Path) -> str:
    raw = base / "raw"
    for folder in range(20):
        (raw / f"class-{folder:02d}").mkdir(parents=True)
        for i in range(1000):
            (raw / f"class-{folder:02d}" / f"img-{i:04d}.bin").write_bytes(b"%d-%d" % (folder, i))
    processor = FixedProcessor({"X": np.arange(12.0).reshape(4, 3)}, {"y": np.arange(4)})
    return VersionedDatasetBuilder(str(raw), processor).publish(str(base / "store"), "v1", progress=False)


@pytest.fixture(scope="module")
def many_files_version(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A version of 20,000 raw files, published once per run (its tests only read it)."""
    path: str = once_per_run(tmp_path_factory, "many-files-version", _publish_many_files)
    return path


def test_meta_json_stays_small_whatever_the_number_of_files(many_files_version: str) -> None:
    size = os.path.getsize(os.path.join(many_files_version, "meta.json"))
    assert size <= 64 * 1024, size
    meta = json.loads(Path(many_files_version, "meta.json").read_text())
    assert meta["manifest"]["count"] == 20_000 + 5 and meta["raw"]["files"] == 20_000
    assert len(VersionedDataset(many_files_version).files) == 20_005


OPEN_AND_RECORD = """
import os, sys
version = os.path.realpath(sys.argv[1])
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(version + os.sep):
            opened.append(os.path.relpath(path, version))
sys.addaudithook(hook)
from mlops import VersionedDataset, list_versions
dataset = VersionedDataset(sys.argv[1])
print(sorted(set(opened)))
opened.clear()
assert [v.version for v in list_versions(os.path.dirname(sys.argv[1]))] == ["v1"]
print(sorted(set(opened)))
opened.clear()
dataset.X
print(sorted(set(opened)))
"""


def test_opening_and_listing_read_meta_json_only(many_files_version: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", OPEN_AND_RECORD, many_files_version], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["['meta.json']", "['meta.json']", "['X.npy']"]  # a tensor loads without the manifest
