"""A publisher that kills itself (SIGKILL) after copying some raw files (run as a script by the resume tests).

    python killed_publisher.py RAW ROOT VERSION KILL_AFTER [--resume]

With KILL_AFTER = 0 it is not killed and prints the outcome (``ok`` or ``exists``) instead.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import PublicationPathAlreadyExistsError
from mlops.versions.writer import VersionWriter
from sample_processors import CsvProcessor


def main() -> None:
    raw, root, version, kill_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    resume = "--resume" in sys.argv
    if kill_after:
        copied = 0
        lock = threading.Lock()
        original = VersionWriter.copy

        def copy_then_die(self: VersionWriter, relpath: str, src: object) -> object:
            nonlocal copied
            entry = original(self, relpath, src)  # type: ignore[arg-type]
            with lock:
                copied += 1
                if copied >= kill_after:
                    os.kill(os.getpid(), signal.SIGKILL)
            return entry

        VersionWriter.copy = copy_then_die  # type: ignore[method-assign,assignment]
    builder = VersionedDatasetBuilder(raw, CsvProcessor())
    if os.environ.get("WAIT_FOR"):
        while not os.path.exists(os.environ["WAIT_FOR"]):
            pass
    try:
        builder.publish(root, version, resume=resume, progress=False)
        print("ok", flush=True)
    except PublicationPathAlreadyExistsError as exc:
        print(f"exists {exc}", flush=True)


if __name__ == "__main__":
    main()
