"""Checks of written files against the format's published JSON Schema (shipped inside mlops-core)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(resources.files("mlops.metadata").joinpath("meta.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_against_json_schema(meta: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``meta`` (a decoded meta.json) fits the schema."""
    _validator().validate(meta)


def manifest_of(path: str, *, environment: bool = False) -> dict[str, dict[str, Any]]:
    """``{relpath: {"sha256", "size"}}`` of the version at ``path`` (any store), read from its
    ``manifest.jsonl`` as a reader of the documented format would; the publishing environment's
    files (``environment/``, in every version) only with ``environment=True``."""
    import fsspec

    with fsspec.open(f"{path.rstrip('/')}/manifest.jsonl", "rb") as f:
        lines = [json.loads(line) for line in f.read().splitlines()]
    return {
        line["path"]: {"sha256": line["sha256"], "size": line["size"]}
        for line in lines
        if environment or not line["path"].startswith("environment/")
    }
