"""tests/support/run_once.py: a fixture that several pytest-xdist workers need is built by one of
them, once, and the others get the same result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parent / "support"

WORKER = """
import json, os, sys, time
from pathlib import Path
from run_once import once_per_run

class Factory:  # what once_per_run uses of pytest's TempPathFactory
    def getbasetemp(self):
        return Path(sys.argv[1]) / os.environ["PYTEST_XDIST_WORKER"]

def build(folder):
    with open(sys.argv[2], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
    time.sleep(1)  # long enough for the other worker to arrive while this one builds
    (folder / "data.txt").write_text("built")
    return {"file": str(folder / "data.txt")}

result = once_per_run(Factory(), "shared", build)
print(json.dumps({"result": result, "text": Path(result["file"]).read_text()}))
"""


def test_two_workers_build_once_and_share_the_result(tmp_path: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "builds.log"
    for worker in ("gw0", "gw1"):
        (run / worker).mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")]))}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(run), str(log)],
            env={**env, "PYTEST_XDIST_WORKER": worker},
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in ("gw0", "gw1")
    ]
    outputs = [json.loads(worker.communicate(timeout=120)[0]) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert len(log.read_text().splitlines()) == 1  # one build in all
    assert outputs[0] == outputs[1] == {"result": {"file": str(run / "once-shared" / "data.txt")}, "text": "built"}


def test_a_failed_build_is_started_afresh_by_the_next_caller(tmp_path_factory: pytest.TempPathFactory) -> None:
    from run_once import once_per_run

    name = f"failing-{os.getpid()}-{id(tmp_path_factory)}"

    def fail(folder: Path) -> str:
        (folder / "half-written").write_text("")
        raise RuntimeError("the build failed")

    with pytest.raises(RuntimeError, match="the build failed"):
        once_per_run(tmp_path_factory, name, fail)
    seen: list[list[str]] = []

    def build(folder: Path) -> str:
        seen.append(sorted(p.name for p in folder.iterdir()))
        return "ok"

    assert once_per_run(tmp_path_factory, name, build) == "ok"
    assert once_per_run(tmp_path_factory, name, build) == "ok"  # built once: the result is kept
    assert seen == [[]]  # started in an empty folder, not on what the failed build left
