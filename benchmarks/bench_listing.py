"""Listing versions on the S3 server (target 7): ``mlops.list_versions(root)`` when core has it (else
a reference implementation, clearly named, of what it should do) against a sequential loop that
opens every version's meta.json through ``VersionedDataset``."""

from __future__ import annotations

import json
import math
from typing import Any

from bench_processor import BenchProcessor
from harness import Context, Stat, Target, paired, rmtree
from s3server import copy_versions, count_requests, endpoint, filesystem
from workloads import make_raw_folder

BUCKET = "bench-list"
SPEEDUP_LIMIT = 0.25
"""What 8 concurrent reads should give against a store with network latency. Reported, not
enforced (the issue asks for the ratio, and sets no limit): moto serves one request at a time at
about 5 ms of CPU each, so on the benchmark's server any client is bound by N x 5 ms. 7b and 7c
check what the issue does require: one listing, and meta.json reads in flight concurrently."""


def reference_list_versions(root: str) -> list[dict[str, Any]]:
    """REFERENCE ONLY, not mlops code: one listing of ``root`` and one concurrent batch of meta.json
    reads (``fs.cat`` of many paths), which is what ``mlops.list_versions`` should cost."""
    import fsspec

    fs, path = fsspec.url_to_fs(root)
    fs.invalidate_cache(path)
    folders = [p for p in fs.ls(path, detail=False) if not p.rsplit("/", 1)[-1].startswith(".")]
    blobs = fs.cat([f"{p}/meta.json" for p in folders], on_error="omit")
    return [json.loads(data) for data in blobs.values()]


def _list_versions() -> tuple[Any, str]:
    """``mlops.list_versions`` if core provides a working one, else the reference helper."""
    try:
        import mlops

        return mlops.list_versions, "mlops.list_versions"  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - absent or broken: measured with the reference instead
        name = type(exc).__name__
        return reference_list_versions, f"reference_list_versions (mlops.list_versions unavailable: {name})"


def run(ctx: Context) -> None:
    from mlops import VersionedDataset, VersionedDatasetBuilder

    count = int(ctx.shared.get("listing_versions", 1000))
    print(f"[listing] {count} versions on {endpoint(ctx)}", flush=True)
    fs = filesystem()
    fs.mkdir(BUCKET)
    root = f"s3://{BUCKET}/datasets"
    raw = make_raw_folder(str(ctx.scratch("listing-raw")), 1, files=10)
    try:
        # One real version, then count-1 more made by writing meta.json only (what listing reads):
        # publishing 1,000 full versions through moto would take minutes and measure nothing more.
        VersionedDatasetBuilder(raw, BenchProcessor()).publish(root, "v0000")
        copy_versions(fs, f"{BUCKET}/datasets", count)
        list_versions, label = _list_versions()

        def sequential(_: int) -> list[dict[str, Any]]:
            import fsspec

            lfs, path = fsspec.url_to_fs(root)
            lfs.invalidate_cache(path)
            return [VersionedDataset(f"s3://{p}").metadata for p in lfs.ls(path, detail=False)]

        def listing(_: int) -> Any:
            return list_versions(root)

        with count_requests() as seq_log:
            found_seq = sequential(0)
        with count_requests() as list_log:
            found = listing(0)
        if len(found_seq) != count or len(found) != count:
            ctx.results.notes.append(f"listing: expected {count} versions, sequential found {len(found_seq)}, "
                                     f"{label} found {len(found)}")  # fmt: skip
        base, cand, ratio = paired(sequential, listing, ctx.repeats)
    finally:
        fs.rm(BUCKET, recursive=True)
        rmtree(raw)
    ctx.results.add_timing("listing.sequential", base)
    ctx.results.add_timing("listing.list_versions", cand)
    ctx.results.add_target(Target(
        "7a", "listing", f"list {count} versions: {label.split(' ')[0]} / sequential VersionedDataset loop", ratio,
        SPEEDUP_LIMIT, "x",
        f"{label}: {cand.median:.2f} s; loop: {base.median:.2f} s; requests {sum(list_log.calls.values())} vs "
        f"{sum(seq_log.calls.values())} ({dict(seq_log.calls)}); moto serves one request at a time",
        informational=True,
    ))  # fmt: skip
    ctx.results.add_target(Target(
        "7c", "listing", f"meta.json reads of {count} versions run concurrently (requests in flight at once)",
        Stat([0.0 if list_log.peak_in_flight > 1 else 1.0]), 0, "check",
        f"{label}: up to {list_log.peak_in_flight} requests in flight; the loop: {seq_log.peak_in_flight}",
    ))  # fmt: skip
    lists = list_log.calls["list_objects_v2"] + list_log.calls["list_objects"]
    ctx.results.add_target(Target(
        "7b", "listing", f"list requests to list {count} versions (one paginated listing)",
        Stat([float(lists)]), float(math.ceil(count / 1000)), "count", f"{label}: {dict(list_log.calls)}",
    ))  # fmt: skip
