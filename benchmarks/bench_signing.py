"""Signing and verifying versions (target 8, issue 14): the time ``sign_files`` adds to a publish and
``verify_signature`` + ``check_covered`` add to an open, for versions of 10, 1,000 and 100,000
files. The issue's target is "<= 5 ms + O(files)"; the O(files) term is budgeted at 10 us per file
(100,000 files: 1.005 s), a cost per file well below reading or hashing one."""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness import Context, Stat, Target, run_many

FILE_COUNTS = (10, 1000, 100_000)
FIXED_LIMIT_S = 0.005
PER_FILE_LIMIT_S = 10e-6


def _manifest(n: int) -> dict[str, str]:
    """``n`` files spread over nested folders, as a version's manifest lists them."""
    return {f"raw/part-{i % 97:02d}/sample-{i:06d}.bin": hashlib.sha256(b"%d" % i).hexdigest() for i in range(n)} | {
        "meta.json": hashlib.sha256(b"meta").hexdigest()
    }


def run(ctx: Context) -> None:
    from mlops.trust.keys import generate_key_pair, load_signing_key, load_trusted_key
    from mlops.trust.policy import trust_policy
    from mlops.trust.signature import check_covered, sign_files, verify_signature

    folder: Path = ctx.scratch("signing")
    private, public = generate_key_pair(folder / "bench")
    signing_key, trusted = load_signing_key(private), load_trusted_key(public)
    for n in FILE_COUNTS:
        files = _manifest(n)
        print(f"[signing] sign and verify {n} files", flush=True)
        bundle = sign_files(files, signing_key.key, name="v1")
        repeats = ctx.repeats if n < 100_000 else max(3, min(ctx.repeats, 5))
        stats = run_many(
            {
                "sign": lambda _i, files=files: sign_files(files, signing_key.key, name="v1"),
                "verify": lambda _i, b=bundle, files=files: check_covered(verify_signature(b, [trusted]), files),
                "policy": lambda _i: trust_policy([public]),  # MLOPS_TRUSTED_KEYS parsed on each open: cached
            },
            repeats,
        )
        limit = FIXED_LIMIT_S + PER_FILE_LIMIT_S * n
        size = f"mlops.sig {len(bundle) / 1e6:.2f} MB" if len(bundle) > 1e5 else f"mlops.sig {len(bundle)} B"
        for key, what in (("sign", "sign_files (publish)"), ("verify", "verify_signature + check_covered (open)")):
            ctx.results.add_timing(f"signing.{key}.{n}", stats[key])
            ctx.results.add_target(Target(
                f"9{'a' if key == 'sign' else 'b'}-{n}", "signing", f"{what}, {n} files", stats[key], limit, "s",
                f"{size}; limit 5 ms + 10 us x {n} files; {stats[key].median / n * 1e6:.1f} us per file",
            ))  # fmt: skip
        ctx.results.add_timing(f"signing.policy.{n}", stats["policy"])
    ctx.results.add_target(Target(
        "9c", "signing", "trust_policy([key.pub]) again (the key is cached)", Stat(stats["policy"].samples),
        FIXED_LIMIT_S, "s", "what reading MLOPS_TRUSTED_KEYS costs each time a version opens",
    ))  # fmt: skip
