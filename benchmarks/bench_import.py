"""Import cost (target 6): ``python -c "import mlops"`` against ``python -c pass``, and which ML
frameworks importing mlops and loading its plugins pull in (none may be)."""

from __future__ import annotations

from harness import Context, Stat, Target, run_child, wall_of_python

IMPORT_LIMIT_S = 0.3


def run(ctx: Context) -> None:
    print("[import] python -c 'import mlops' vs python -c pass", flush=True)
    runs = max(ctx.repeats, 10)  # cheap and noisy: a few more rounds
    bare: list[float] = []
    imported: list[float] = []
    for i in range(runs):
        pair = [("pass", bare), ("import mlops", imported)]
        if i % 2:
            pair.reverse()
        for code, sink in pair:
            sink.append(wall_of_python(code))
    diff = Stat([b - a for a, b in zip(bare, imported, strict=True)])
    ctx.results.add_timing("import.python_pass", Stat(bare))
    ctx.results.add_timing("import.import_mlops", Stat(imported))
    ctx.results.add_target(Target("6a", "import", "python -c 'import mlops' minus python -c pass", diff, IMPORT_LIMIT_S,
                                  "s", f"python -c pass: {Stat(bare).median * 1000:.0f} ms"))  # fmt: skip

    found = run_child("imports", {})
    ctx.results.add_target(Target(
        "6b", "import", "frameworks imported by import mlops (+ every public name, every plugin)",
        Stat([float(len(set(found["after_import"]) | set(found["after_plugins"])))]), 0, "check",
        f"after import: {found['after_import'] or 'none'}; after loading plugins "
        f"{found['serializers']}: {found['after_plugins'] or 'none'}"
        + (f"; names that failed to import: {found['broken']}" if found["broken"] else ""),
    ))  # fmt: skip
    if found["broken"]:
        ctx.results.notes.append(f"public names of mlops that failed to import: {found['broken']}")
