"""Many small files (target 8, issue 11): a dataset whose raw folder holds N files of 1 KB
(``--many-files``, default 100,000) and a 1 MB tensor set, so the cost per file is what shows.

- 8a/8b publish, against two baselines of the same rounds: a Python copy of every file with an
  fsync per file, and ``cp -r`` + one ``sync`` (what a user times by hand);
- 8c ``VersionedDataset(path)`` in a fresh interpreter;
- 8d/8e listing a root of ``--listing-versions`` such versions: no manifest read (an audit hook in
  a child process sees every file opened), and its time;
- 8f ``verify()`` against reading and hashing every file in plain Python;
- 8g/8h what-ifs for the lead, measured in the publish rounds: the Python copy made durable by one
  ``syncfs``, and by fsyncs on helper threads (as publish does), against an fsync per file; 8i the
  size of meta.json.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import meta_adapter
import numpy as np
from bench_processor import BenchProcessor
from harness import (
    Context,
    Stat,
    Target,
    files_under,
    fsync_file,
    paired,
    ratios,
    rmtree,
    run_child,
    run_many,
    settle,
    sha256_files,
    timed,
)
from workloads import make_many_files

from mlops.metadata import MANIFEST_FILE, META_FILE

DEFAULT_FILES = 100_000
PUBLISH_LIMIT = 1.3
"""publish / (Python copy + fsync per file), from the issue."""
BY_HAND_LIMIT = 2.0
"""publish / (``cp -r`` + one ``sync``), from the issue."""
OPEN_LIMIT = 0.050
VERIFY_LIMIT = 1.3
SYNC_THREADS = 4
"""As many fsyncs in flight as mlops.versions.writer.SYNC_THREADS (what 8h compares)."""


def run(ctx: Context) -> None:
    from mlops import VersionedDatasetBuilder

    n = int(ctx.shared.get("many_files", DEFAULT_FILES))
    print(f"[manyfiles] raw folder of {n:,} files of 1 KB", flush=True)
    raw = make_many_files(str(ctx.tmp / f"manyfiles-raw-{n}"), n)
    builder = VersionedDatasetBuilder(raw, BenchProcessor())
    tensors = {**builder.features, **builder.labels}
    try:
        _publish(ctx, n, builder, tensors, raw)
        root = ctx.scratch("manyfiles-versions") / "datasets"
        path = builder.publish(str(root), "v0000", progress=False)
        settle()
        _open(ctx, n, path)
        _verify(ctx, n, path)
        _listing(ctx, n, root, path)
        rmtree(root.parent)
    finally:
        rmtree(raw)


# --- 8a, 8b: publish ----------------------------------------------------------------------------------


def _save_tensors(dest: str, tensors: dict[str, np.ndarray], *, fsync: bool) -> None:
    for name, array in tensors.items():
        file = os.path.join(dest, f"{name}.npy")
        np.save(file, array)
        if fsync:
            fsync_file(file)


def syncfs(path: str) -> None:
    """Flush the whole filesystem holding ``path`` (Linux ``syncfs(2)``, through ctypes)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


DURABILITY = ("fsync_each", "fsync_threads", "syncfs_once")


def python_copy(raw: str, dest: str, tensors: dict[str, np.ndarray], durability: str = "fsync_each") -> int:
    """Baseline: ``np.save`` of each tensor, then a plain Python copy of every raw file; returns the
    raw files copied. ``durability`` says how the files reach the disk: ``fsync_each`` fsyncs each
    file before the next is written (the simple way), ``fsync_threads`` fsyncs each by name on
    4 helper threads while the next ones are written (what publish does), ``syncfs_once`` flushes
    the filesystem once at the end (Linux ``syncfs``)."""
    if durability not in DURABILITY:
        raise ValueError(f"durability must be one of {DURABILITY}, got {durability!r}")
    os.makedirs(dest)
    inline = durability == "fsync_each"
    _save_tensors(dest, tensors, fsync=inline)
    pool = ThreadPoolExecutor(SYNC_THREADS) if durability == "fsync_threads" else None
    syncing: list[Future[None]] = []
    copied = 0
    try:
        for folder, _dirs, names in os.walk(raw):
            out = os.path.join(dest, "raw", os.path.relpath(folder, raw))
            os.makedirs(out, exist_ok=True)
            for name in names:
                target = os.path.join(out, name)
                with open(os.path.join(folder, name), "rb") as fin, open(target, "wb") as fout:
                    fout.write(fin.read())
                    if inline:
                        fout.flush()
                        os.fsync(fout.fileno())
                if pool is not None:
                    syncing.append(pool.submit(fsync_file, target))
                copied += 1
        if pool is not None:
            for name in tensors:
                syncing.append(pool.submit(fsync_file, os.path.join(dest, f"{name}.npy")))
            for future in syncing:
                future.result()
    finally:
        if pool is not None:
            pool.shutdown()
    if durability == "syncfs_once":
        syncfs(dest)
    return copied


def cp_and_sync(raw: str, dest: str, tensors: dict[str, np.ndarray]) -> None:
    """Baseline: ``np.save`` of each tensor, ``cp -r`` of the raw folder and one ``sync``: what a
    user measures by hand (``sync`` flushes every filesystem, with whatever else is dirty)."""
    os.makedirs(dest)
    _save_tensors(dest, tensors, fsync=False)
    subprocess.run(["cp", "-r", raw, os.path.join(dest, "raw")], check=True)
    subprocess.run(["sync"], check=True)


def _publish(ctx: Context, n: int, builder: Any, tensors: dict[str, np.ndarray], raw: str) -> None:
    print(f"[manyfiles] publish and its baselines, {ctx.repeats} rounds", flush=True)
    out = ctx.scratch("manyfiles-publish")

    def cleanup(_: int) -> None:
        for child in out.iterdir():
            rmtree(child)
        settle()

    def copy(durability: str) -> Any:
        return lambda i: python_copy(raw, str(out / f"{durability}-{i}"), tensors, durability)

    fns = {
        **{f"copy_{durability}": copy(durability) for durability in DURABILITY},
        "cp_sync": lambda i: cp_and_sync(raw, str(out / f"cp-{i}"), tensors),
        "mlops": lambda i: builder.publish(str(out / "store"), f"v{i}", progress=False),
    }
    settle()
    stats = run_many(fns, ctx.repeats, after=cleanup)
    rmtree(out)
    for name, stat in stats.items():
        ctx.results.add_timing(f"manyfiles.publish.{n}.{name}", stat)
    mlops, each, by_hand = stats["mlops"], stats["copy_fsync_each"], stats["cp_sync"]
    threads, once = stats["copy_fsync_threads"], stats["copy_syncfs_once"]
    detail = (f"mlops {mlops.median:.2f} s ({mlops.median / n * 1e6:.0f} us a file); Python copy + fsync each "
              f"{each.median:.2f} s, + fsyncs on {SYNC_THREADS} threads {threads.median:.2f} s, + one syncfs "
              f"{once.median:.2f} s; cp -r + sync {by_hand.median:.2f} s")  # fmt: skip
    ctx.results.add_target(Target(f"8a-{n}", "manyfiles", f"publish {n:,} files of 1 KB / Python copy + fsync per file",
                                  ratios(mlops, each), PUBLISH_LIMIT, "x", detail))  # fmt: skip
    ctx.results.add_target(Target(f"8b-{n}", "manyfiles", f"publish {n:,} files of 1 KB / cp -r + one sync",
                                  ratios(mlops, by_hand), BY_HAND_LIMIT, "x", detail))  # fmt: skip
    ctx.results.add_target(Target(f"8g-{n}", "manyfiles", f"what-if: Python copy of {n:,} files + one syncfs / "
                                  "+ an fsync per file", ratios(once, each), 1.0, "x",
                                  f"publish / (copy + one syncfs): {ratios(mlops, once).median:.2f}x",
                                  informational=True))  # fmt: skip
    ctx.results.add_target(Target(f"8h-{n}", "manyfiles", f"what-if: Python copy + fsyncs on {SYNC_THREADS} "
                                  "helper threads (as publish) / + inline fsyncs", ratios(threads, each), 1.0, "x",
                                  f"publish / (copy + fsyncs on threads): {ratios(mlops, threads).median:.2f}x",
                                  informational=True))  # fmt: skip


# --- 8c, 8i: opening, and what it reads -----------------------------------------------------------------


def _open(ctx: Context, n: int, path: str) -> None:
    print("[manyfiles] open", flush=True)
    opens = [run_child("open_dataset", {"path": path}) for _ in range(ctx.repeats)]
    fresh = Stat([o["first"] for o in opens])
    ctx.results.add_timing(f"manyfiles.open.{n}.fresh_process", fresh)
    meta = Path(path, META_FILE).read_bytes()
    manifest_bytes = os.path.getsize(os.path.join(path, MANIFEST_FILE))
    ctx.results.add_target(Target(
        f"8c-{n}", "manyfiles", f"VersionedDataset(path) of a {n:,}-file version, fresh process", fresh,
        OPEN_LIMIT, "s", f"second open in-process: {Stat([o['second'] for o in opens]).median * 1000:.1f} ms",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        f"8i-{n}", "manyfiles", f"meta.json of a {n:,}-file version (opening and listing read only this)",
        Stat([len(meta) / 1000]), 0, "kB",
        f"manifest.jsonl: {manifest_bytes / 1e6:.1f} MB for {meta_adapter.file_count(meta, path):,} files",
        informational=True,
    ))  # fmt: skip


# --- 8d, 8e: listing ---------------------------------------------------------------------------------------


def make_listing_root(root: Path, real: str, count: int) -> None:
    """Make ``root`` hold ``count`` versions: the real one at ``real`` and ``count - 1`` folders
    sharing its top-level files by hard link (tensors, processor, manifest) with their own meta.json
    naming their version. Their ``raw/`` trees are left out: ``count`` x N hard links would take
    far longer than the listing, and the audit (8d) checks that listing opens nothing inside a
    version but its meta.json, so what else a version holds cannot change what listing costs."""
    meta = Path(real, META_FILE).read_bytes()
    shared = [e.name for e in os.scandir(real) if e.is_file() and e.name != META_FILE]
    for i in range(1, count):
        version = f"v{i:04d}"
        folder = root / version
        folder.mkdir()
        for name in shared:
            os.link(os.path.join(real, name), folder / name)
        (folder / META_FILE).write_bytes(meta_adapter.renamed(meta, version, str(folder)))


def listing_violations(audit: dict[str, Any], root: Path, count: int) -> int:
    """What an audited listing did beyond one listing of ``root`` and ``count`` meta.json reads:
    manifests or other files opened, folders other than the root listed, versions not found."""
    root_path = os.path.realpath(root)
    return int(
        audit["manifest"]
        + len(audit["other_files"])
        + sum(p != root_path for p in audit["listed"])
        + abs(count - audit["result"])
        + abs(count - audit["meta_json"])
    )


def _listing(ctx: Context, n: int, root: Path, real: str) -> None:
    import mlops

    count = int(ctx.shared.get("listing_versions", 1000))
    print(f"[manyfiles] listing {count} versions", flush=True)
    make_listing_root(root, real, count)
    settle()
    audits = [run_child("audit_opens", {"call": "list_versions", "path": str(root), "under": str(root)})
              for _ in range(ctx.repeats)]  # fmt: skip
    warm = Stat([timed(lambda: mlops.list_versions(root)) for _ in range(ctx.repeats)])
    ctx.results.add_timing(f"manyfiles.listing.{n}.fresh_process", Stat([a["seconds"] for a in audits]))
    ctx.results.add_timing(f"manyfiles.listing.{n}.warm", warm)
    audit = audits[0]
    ctx.results.add_target(Target(
        f"8d-{n}", "manyfiles", f"listing {count} versions of {n:,} files reads no manifest (audit hook)",
        Stat([float(listing_violations(a, root, count)) for a in audits]), 0, "check",
        f"opened {audit['meta_json']} meta.json, {audit['manifest']} manifest, {len(audit['other_files'])} other "
        f"files {audit['other_files'][:3]}; listed {len(audit['listed'])} folder(s) {audit['listed'][:3]}; found "
        f"{audit['result']} of {count} versions",
    ))  # fmt: skip
    ctx.results.add_target(Target(
        f"8e-{n}", "manyfiles", f"mlops.list_versions of {count} versions of {n:,} files, fresh process",
        Stat([a["seconds"] for a in audits]), 0, "s", f"warm, in-process: {warm.median * 1000:.0f} ms",
        informational=True,
    ))  # fmt: skip


# --- 8f: verify ----------------------------------------------------------------------------------------


def _verify(ctx: Context, n: int, path: str) -> None:
    from mlops import VersionedDataset

    print(f"[manyfiles] verify, {ctx.repeats} rounds", flush=True)

    def plain(_: int) -> int:
        return len(sha256_files(files_under(path)))

    def verify(_: int) -> None:
        VersionedDataset(path).verify(progress=False)

    plain(0)  # the page cache holds every file for both sides from here on
    base, cand, ratio = paired(plain, verify, ctx.repeats)
    ctx.results.add_timing(f"manyfiles.verify.{n}.read_sha256", base)
    ctx.results.add_timing(f"manyfiles.verify.{n}.mlops", cand)
    ctx.results.add_target(Target(
        f"8f-{n}", "manyfiles", f"verify {n:,} files / read + sha256 of every file (warm cache)", ratio,
        VERIFY_LIMIT, "x",
        f"mlops {cand.median:.2f} s ({cand.median / n * 1e6:.0f} us a file), plain Python {base.median:.2f} s",
    ))  # fmt: skip
