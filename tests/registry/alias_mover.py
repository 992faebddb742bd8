"""A mover for test_alias_races: ``python alias_mover.py ROOT ALIAS MOVES VERSION...`` waits for a
line on stdin (so all movers start together), then makes MOVES successful conditional moves of
ALIAS, each as a careful user would: read the alias, move it with ``expect=`` to the next version,
and on :class:`~mlops.errors.AliasConflictError` wait a random moment (longer after each conflict
in a row, as clients of any compare-and-swap do) then read it again and retry. Prints one JSON line:
the records it wrote (number, version, reason) and how many conflicts it met."""

from __future__ import annotations

import json
import os
import random
import sys
import time

import mlops
from mlops.errors import AliasConflictError


def main() -> None:
    root, alias, moves, *versions = sys.argv[1:]
    me = os.getpid()
    print("ready", flush=True)
    sys.stdin.readline()
    written = []
    conflicts = in_a_row = 0
    while len(written) < int(moves):
        current = mlops.get_alias(root, alias)
        target = versions[(versions.index(current) + 1) % len(versions)]
        reason = f"{me}:{len(written)}"
        try:
            event = mlops.set_alias(root, alias, target, expect=current, reason=reason)
        except AliasConflictError:
            conflicts += 1
            in_a_row += 1
            time.sleep(random.uniform(0, min(0.5, 0.02 * in_a_row)))
            continue
        in_a_row = 0
        written.append({"number": event.number, "version": event.version, "previous": current, "reason": reason})
    print(json.dumps({"pid": me, "written": written, "conflicts": conflicts}), flush=True)


if __name__ == "__main__":
    main()
