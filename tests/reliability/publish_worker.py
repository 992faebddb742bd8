"""A publisher process for the race and crash tests (run as a script, not collected by pytest).

    python publish_worker.py ROOT RAW [--rounds N] [--storage-option KEY=VALUE ...]

Builds a dataset from RAW once (so every process holds the same tensors) and opens ROOT's filesystem
(s3fs or adlfs are imported then, not inside the first publish: kills and races land in publishing
itself, not in an import), prints ``ready``, then per line read from stdin (a version name)
publishes that version to ROOT and prints ``<version> ok|exists|error <message>``. An empty line or
EOF ends it.
"""

from __future__ import annotations

import argparse
import json
import sys

import fsspec

from mlops.dataset.versioned_dataset_builder import VersionedDatasetBuilder
from mlops.errors import PublicationPathAlreadyExistsError
from sample_processors import CsvProcessor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("raw")
    parser.add_argument("--storage-options", default="{}")
    args = parser.parse_args()
    options = json.loads(args.storage_options)
    builder = VersionedDatasetBuilder(args.raw, CsvProcessor())
    fsspec.url_to_fs(args.root, **options)  # the instance is cached: publish reuses it
    print("ready", flush=True)
    for line in sys.stdin:
        version = line.strip()
        if not version:
            break
        try:
            builder.publish(args.root, version, storage_options=options, progress=False)
            result = "ok"
        except PublicationPathAlreadyExistsError:
            result = "exists"
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            result = f"error {type(exc).__name__}: {exc}".replace("\n", " ")
        print(f"{version} {result}", flush=True)


if __name__ == "__main__":
    main()
