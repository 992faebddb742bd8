"""Shared by the name-policy tests: a tiny processor, a snapshot of every file under a folder on any
store, and the policy restated as a plain predicate (the tests' oracle, written apart from mlops)."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from typing import Any

import fsspec
import numpy as np

from mlops.dataset.data_processor import DataProcessor
from mlops.dataset.versioned_dataset import VersionedDataset

GLOB = set("*?[]{}")
DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789¹²³"
}


def breaks_policy(name: str) -> bool:
    """True when ``name`` may not become a version folder or tensor file (the documented policy)."""
    if not name.strip() or len(name) != len(name.strip(" ")):
        return True
    for char in name:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return True
        if char != " " and (char.isspace() or unicodedata.category(char) == "Zs"):
            return True
        if char in GLOB or char in "/\\":
            return True
        if 0xFDD0 <= ord(char) <= 0xFDEF or ord(char) % 0x10000 in (0xFFFE, 0xFFFF):  # noncharacters
            return True
    if ".." in name or name.startswith(".") or name.endswith("."):
        return True
    if name.split(".")[0].rstrip(" ").upper() in DEVICES:
        return True
    return unicodedata.normalize("NFC", name) != name or len(name.encode("utf-8")) > 200


def breaks_tensor_rules(name: str, others: set[str]) -> bool:
    """True when ``name`` may not name a tensor returned next to tensors named ``others``."""
    return (
        breaks_policy(name)
        or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}", name)
        or name.startswith("_")
        or name in {n for n in dir(VersionedDataset) if not n.startswith("_")} | {"raw", "meta", "data_processor"}
        or name.lower() in {o.lower() for o in others}
    )


def _fail(block: np.ndarray) -> np.ndarray:
    if block.size:  # dask calls it once on an empty block to learn the output's type
        raise RuntimeError("a processor's lazy tensor failed mid-publish")
    return block


class TinyProcessor(DataProcessor):
    """Returns ``features`` and a small label tensor ``y``; with ``fail``, also a dask tensor
    ``boom`` that raises when publish computes it (after the version is claimed)."""

    def __init__(self, features: dict[str, Any], fail: bool = False) -> None:
        self.features = features
        self.fail = fail

    def get_raw_features_and_labels(self, dataset_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
        features = dict(self.features)
        if self.fail:
            import dask.array as da

            features["boom"] = da.ones((4,), chunks=2).map_blocks(_fail, dtype=float)
        return features, {"y": np.arange(3, dtype=np.int8)}

    def get_raw_features(self, dataset_path: str) -> dict[str, Any]:
        return dict(self.features)

    def preprocess_features(self, raw_feature_tensor: Any) -> Any:
        return raw_feature_tensor

    def preprocess_labels(self, raw_label_tensor: Any) -> Any:
        return raw_label_tensor


def file_hashes(url: str) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``url`` (folders as ``"<dir>"``), on any store;
    empty when nothing is there. Walks the tree, never expands a pattern."""
    if "://" not in url:
        found: dict[str, str] = {}
        for folder, dirs, files in os.walk(url):
            for d in dirs:
                found[os.path.relpath(os.path.join(folder, d), url)] = "<dir>"
            for f in files:
                with open(os.path.join(folder, f), "rb") as fh:
                    found[os.path.relpath(os.path.join(folder, f), url)] = hashlib.sha256(fh.read()).hexdigest()
        return found
    fs, base = fsspec.url_to_fs(url)
    fs.invalidate_cache()
    if not fs.exists(base):
        return {}
    result = {}
    for path, info in fs.find(base, withdirs=True, detail=True).items():
        rel = path[len(base.rstrip("/")) + 1 :]
        is_dir = info.get("type") == "directory"
        result[rel] = "<dir>" if is_dir else hashlib.sha256(fs.cat_file(path)).hexdigest()
    return result
