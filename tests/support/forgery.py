"""What an attacker with write access to a store does to a version: replace a file and rewrite
every hash in the version's JSON (the manifest, its reference in meta.json, the processor's entry)
so that the manifest checks alone pass."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from typing import Any

import fsspec


class WriteMarker:
    """The payload: unpickling it runs a shell command that creates a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"echo pwned > {self.marker}",)


def replace_file(path: str, relpath: str, data: bytes) -> None:
    """Put ``data`` at ``path/relpath`` and rewrite the version's hashes to match it."""
    fs, base = fsspec.core.url_to_fs(path)
    fs.pipe_file(f"{base}/{relpath}", data)
    entry = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = [json.loads(line) for line in fs.cat_file(f"{base}/manifest.jsonl").splitlines()]
    for line in manifest:
        if line["path"] == relpath:
            line.update(entry)
    manifest_bytes = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in manifest).encode()
    fs.pipe_file(f"{base}/manifest.jsonl", manifest_bytes)
    meta = json.loads(fs.cat_file(f"{base}/meta.json"))
    meta["manifest"].update(sha256=hashlib.sha256(manifest_bytes).hexdigest(), size=len(manifest_bytes))
    if meta.get("processor", {}).get("file") == relpath:
        meta["processor"].update(entry)
    meta["hash"] = hashlib.sha256(meta["hash"].encode()).hexdigest()
    fs.pipe_file(f"{base}/meta.json", json.dumps(meta, indent=2).encode())
    fs.invalidate_cache()


def forge_processor(path: str, marker: str) -> None:
    """Swap ``data_processor.pkl`` for a payload padded to the same size, hashes rewritten."""
    fs, base = fsspec.core.url_to_fs(path)
    size = fs.size(f"{base}/data_processor.pkl")
    payload = pickle.dumps(WriteMarker(marker), protocol=4)
    assert len(payload) < size
    replace_file(path, "data_processor.pkl", payload + b"\0" * (size - len(payload)))  # pickle stops at STOP
