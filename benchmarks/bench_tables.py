"""Tables (issue 24): a pandas table of ``--table-size`` MB published as Parquet and read back,
against pyarrow itself (``pq.write_table`` with the same compression plus an fsync;
``pq.read_table(...).to_pandas()``), a v2 with 1% more rows, and HF ``datasets`` (informational,
when it is installed).

The table: an int64 id, four float64 measures, a categorical, a short string column (Arrow
strings), a timestamp and a boolean, about 60 bytes a row in memory."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from bench_table_processor import PARAMS_FILE, TableProcessor
from harness import (
    MB,
    Context,
    Stat,
    Target,
    disk_bytes,
    evict,
    files_under,
    fsync_file,
    paired,
    ratios,
    rmtree,
    settle,
    timed,
)

_FRAMES: dict[tuple[int, float], Any] = {}
EXTRA = 0.01
"""Rows v2 adds to v1's, as a share of v1's."""
CITIES = np.array(["Oslo", "Lima", "Pune", "Kyiv", "Baku", "Doha", "Riga", "Nice"])


def frame(size_mb: int, extra: float = 0.0) -> Any:
    """The benchmark table of about ``size_mb`` MB, plus ``extra`` of its rows appended (the first
    rows are the same whatever ``extra``); made once per process."""
    key = (size_mb, extra)
    if key not in _FRAMES:
        import pandas as pd
        import pyarrow as pa

        rows = int(size_mb * MB / 60 * (1 + extra))
        index = np.arange(rows, dtype=np.int64)
        rng = np.random.default_rng(0)
        noise = rng.standard_normal(1 << 20)
        codes = (index * 2654435761 % 8).astype(np.int8)
        _FRAMES[key] = pd.DataFrame(
            {
                "id": index,
                "amount": np.round(np.resize(noise, rows) * 100, 2),
                "score": np.resize(noise[::-1], rows),
                "ratio": (index % 1000) / 1000.0,
                "balance": np.cumsum(np.resize(noise, rows)),
                "segment": pd.Categorical.from_codes(codes % 5, ["a", "b", "c", "d", "e"]),
                "city": pd.arrays.ArrowStringArray(pa.array(CITIES[codes]).cast(pa.large_string())),
                "seen": pd.to_datetime(1_700_000_000 + index * 7, unit="s", utc=True),
                "active": index % 3 == 0,
            }
        )
    return _FRAMES[key]


def run(ctx: Context) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops import VersionedDataset, VersionedDatasetBuilder

    size = int(ctx.shared.get("table_size") or 1024)
    df = frame(size)
    print(f"[tables] pandas table of {size} MB in memory ({len(df)} rows)", flush=True)
    raw = _raw(ctx, size, 0.0)
    out = ctx.scratch("tables")
    plain = out / "plain.parquet"

    def baseline(_: int) -> None:
        pq.write_table(pa.Table.from_pandas(df), plain, compression="zstd")
        fsync_file(plain)

    def publish(i: int) -> None:
        VersionedDatasetBuilder(raw, TableProcessor()).publish(str(out / f"r{i}"), "v1")

    def cleanup(i: int) -> None:
        plain.unlink(missing_ok=True)
        settle()

    base, cand, ratio = paired(baseline, publish, ctx.repeats, after=cleanup)
    add = ctx.results.add_target
    add(Target("24a", "tables", f"publish a {size} MB pandas table / pq.write_table (zstd) + fsync", ratio, 1.15,
               "x", f"mlops {cand.median:.2f} s, pyarrow {base.median:.2f} s"))  # fmt: skip

    # Reading it back: dataset.X against pq.read_table(...).to_pandas() of the same table.
    baseline(0)
    version = str(out / "r0" / "v1")
    files = [*files_under(version), str(plain)]

    def plain_read(_: int) -> None:
        pq.read_table(plain).to_pandas()

    def mlops_read(_: int) -> None:
        VersionedDataset(version).X  # noqa: B018

    def fresh_cache(i: int) -> None:  # the first open on this machine: every part is hashed
        os.environ["MLOPS_CACHE_DIR"] = str(ctx.tmp / f"tables-cache-{i}")
        evict(files)

    base_r, cand_r, ratio_r = paired(plain_read, mlops_read, ctx.repeats, before=fresh_cache)
    add(Target("24b", "tables", "dataset.X (verified, cold) / pq.read_table().to_pandas()", ratio_r, 1.3, "x",
               f"mlops {cand_r.median:.2f} s, pyarrow {base_r.median:.2f} s"))  # fmt: skip
    os.environ["MLOPS_CACHE_DIR"] = str(ctx.tmp / "cache")

    _append(ctx, size, out)
    _hf(ctx, size, version)
    for i in range(ctx.repeats):
        rmtree(out / f"r{i}")


def _raw(ctx: Context, size: int, extra: float) -> str:
    path = ctx.tmp / f"tables-raw-{size}-{extra}"
    path.mkdir(parents=True, exist_ok=True)
    (path / PARAMS_FILE).write_text(json.dumps({"size_mb": size, "extra": extra}))
    return str(path)


def _append(ctx: Context, size: int, out: Path) -> None:
    """v2 = v1 with 1% more rows, published into v1's root: its time against v1's, its extra bytes."""
    from mlops import VersionedDatasetBuilder

    frame(size, EXTRA)

    def publish(root: Path, share: float, version: str) -> None:
        VersionedDatasetBuilder(_raw(ctx, size, share), TableProcessor()).publish(str(root), version)

    first, second, extra = [], [], []
    for i in range(ctx.repeats):
        root = out / f"append{i}"
        os.environ["MLOPS_CACHE_DIR"] = str(ctx.tmp / f"tables-append-cache-{i}")  # v1 starts with nothing known
        settle()
        first.append(timed(functools.partial(publish, root, 0.0, "v1")))
        one = disk_bytes(root)
        settle()
        second.append(timed(functools.partial(publish, root, EXTRA, "v2")))
        extra.append((disk_bytes(root) - one) / one)
        rmtree(root)
    os.environ["MLOPS_CACHE_DIR"] = str(ctx.tmp / "cache")
    add = ctx.results.add_target
    add(Target("24c", "tables", "publish v2 with 1% more rows / v1 publish", ratios(Stat(second), Stat(first)), 0.2,
               "x", f"v1 {Stat(first).median:.2f} s, v2 {Stat(second).median:.2f} s"))  # fmt: skip
    add(Target("24d", "tables", "v2 with 1% more rows: extra bytes on disk / v1's", Stat(extra), 0.05, "x",
               "inodes counted once (hard links)"))  # fmt: skip


def _hf(ctx: Context, size: int, version: str) -> None:
    """HF datasets' save_to_disk / load_from_disk of the same table against mlops' publish / load
    (informational; skipped when ``datasets`` is not installed)."""
    try:
        import datasets
    except ImportError:
        ctx.results.notes.append("tables: HF datasets is not installed; its informational rows were skipped")
        return
    from mlops import VersionedDataset, VersionedDatasetBuilder

    df = frame(size)
    out = ctx.scratch("tables-hf")

    def hf_save(i: int) -> None:
        datasets.Dataset.from_pandas(df).save_to_disk(str(out / f"hf{i}"))

    def mlops_publish(i: int) -> None:
        VersionedDatasetBuilder(_raw(ctx, size, 0.0), TableProcessor()).publish(str(out / f"m{i}"), "v1")

    base, cand, ratio = paired(hf_save, mlops_publish, ctx.repeats, after=lambda _: settle())
    add = ctx.results.add_target
    add(Target("24e", "tables", "publish / HF Dataset.from_pandas().save_to_disk()", ratio, 1.0, "x",
               f"mlops {cand.median:.2f} s, datasets {base.median:.2f} s; mlops stores "
               f"{disk_bytes(out / 'm0') / max(1, disk_bytes(out / 'hf0')):.2f}x the bytes",
               informational=True))  # fmt: skip

    def hf_load(_: int) -> None:
        datasets.load_from_disk(str(out / "hf0")).to_pandas()

    def mlops_load(_: int) -> None:
        VersionedDataset(str(out / "m0" / "v1")).X  # noqa: B018

    base_l, cand_l, ratio_l = paired(hf_load, mlops_load, ctx.repeats)
    add(Target("24f", "tables", "dataset.X / HF load_from_disk().to_pandas()", ratio_l, 1.0, "x",
               f"mlops {cand_l.median:.2f} s, datasets {base_l.median:.2f} s", informational=True))  # fmt: skip
    rmtree(out)
