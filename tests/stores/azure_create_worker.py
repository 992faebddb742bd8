"""A racer for test_azure_blob's process race: reads ``MODE PATH`` lines on stdin, writes a blob
create-only through adlfs (``pipe`` = pipe_file(overwrite=False), ``xb`` = open(path, "xb")) with
this process' id as content, and answers ``won`` or ``lost`` (anything else is an error)."""

from __future__ import annotations

import os
import sys

import fsspec


def main() -> None:
    fs = fsspec.filesystem("az")  # the account comes from AZURE_STORAGE_CONNECTION_STRING
    content = str(os.getpid()).encode() * 1000
    print("ready", flush=True)
    for line in sys.stdin:
        mode, path = line.split()
        try:
            if mode == "pipe":
                fs.pipe_file(path, content, overwrite=False)
            else:
                with fs.open(path, "xb", block_size=1024) as f:  # several blocks
                    f.write(content)
            answer = "won"
        except FileExistsError:
            answer = "lost"
        except Exception as exc:  # reported to the test, which fails on it
            answer = f"error {type(exc).__name__}: {exc}".replace("\n", " ")
        print(os.getpid(), answer, flush=True)


if __name__ == "__main__":
    main()
