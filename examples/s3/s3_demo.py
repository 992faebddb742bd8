"""The mixed-frameworks example against S3: dataset, models and leaderboard from s3:// paths.

    python examples/s3/s3_demo.py [--fast]                              # a local S3 server, nothing to set up
    python examples/s3/s3_demo.py --bucket my-bucket [--prefix demo]     # your bucket, your AWS settings

Without --bucket, the demo starts a local S3 server (moto, on 127.0.0.1), creates a bucket there
and points this process at it; everything published disappears when the demo ends. With --bucket,
it uses whatever AWS configuration the environment holds (credentials, region, AWS_ENDPOINT_URL for
an S3-compatible server such as MinIO); the bucket must exist. Local files (the raw data, the
leaderboard) go to --out.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

import mlops

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "mixed_frameworks"))  # reuse that example's modules

import leaderboard  # noqa: E402
from trainers import train_and_publish  # noqa: E402
from wine_data import publish_dataset, write_raw_data  # noqa: E402

LOCAL_BUCKET = "mlops-examples"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_local_s3() -> tuple[str, Callable[[], None]]:
    """Start moto's S3 server on a free port of 127.0.0.1, point this process (and its children)
    at it with fake credentials, and create the bucket. Returns the endpoint and a stop function."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise SystemExit(
            'the local S3 server needs moto: pip install "moto[server]" (or pass --bucket to use a real bucket)'
        ) from None
    import fsspec

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(LOCAL_CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    os.environ.pop("AWS_PROFILE", None)  # the fake credentials above, not a profile's, reach the server
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(LOCAL_BUCKET)
    return endpoint, server.stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bucket", help="an existing bucket to publish into (default: start a local S3 server)")
    parser.add_argument("--prefix", default="demo", help="key prefix inside the bucket (default: %(default)s)")
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="local files (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="fewer epochs and trees (for smoke tests)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    stop: Callable[[], None] | None = None
    if args.bucket:
        bucket = args.bucket.removeprefix("s3://").strip("/")
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "AWS")
        print(f"using the bucket {bucket} ({endpoint}, credentials from the environment)")
    else:
        # A throwaway store: keep its cache of downloaded files with the demo's output too.
        os.environ.setdefault("MLOPS_CACHE_DIR", os.path.join(args.out, "cache"))
        endpoint, stop = start_local_s3()
        bucket = LOCAL_BUCKET
        print(f"no --bucket given: started a local S3 server (moto) at {endpoint} with the bucket {bucket}")
    store = f"s3://{bucket}/{args.prefix.strip('/')}"
    try:
        raw = write_raw_data(os.path.join(args.out, "raw"))
        print(f"raw data written to {raw}")
        dataset = publish_dataset(raw, store)
        paths = train_and_publish(dataset, store, args.fast)
        print("\nleaderboard (every model read back from S3):")
        leaderboard.report(paths, args.out)

        print(f"\nwhat {store} holds now:")
        for root in (f"{store}/datasets/wine", f"{store}/models/wine"):
            for info in mlops.list_versions(root):
                print(f"  {info.path}  [{', '.join(info.tags)}]  {info.size:,} bytes")
        if stop is None:
            print(f"browse it with the mlops command, e.g.: mlops ls {store}/models/wine")
        else:
            print("(the local S3 server stops now, and its contents with it; pass --bucket to keep them)")
    finally:
        if stop is not None:
            stop()


if __name__ == "__main__":
    main()
