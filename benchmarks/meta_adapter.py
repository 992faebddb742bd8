"""The one place the benchmarks' many-files area reads or rewrites meta.json fields.

It goes through mlops' typed records (``mlops.metadata.parse`` / ``dump``), so a change of the
meta.json format is absorbed here, not in the benchmark code.
"""

from __future__ import annotations

import dataclasses

from mlops import metadata


def renamed(meta_json: bytes, version: str, where: str) -> bytes:
    """The bytes of ``meta_json`` (found at ``where``) describing the same content as version ``version``."""
    record = metadata.parse(meta_json, where)
    return metadata.dump(dataclasses.replace(record, version=version))


def file_count(meta_json: bytes, where: str) -> int:
    """How many data files the version's manifest lists, according to its meta.json."""
    return metadata.parse(meta_json, where).file_count
