"""The environment that sends plain ``s3://`` URLs to a local moto S3 server: fake credentials and
``AWS_ENDPOINT_URL``, in this process and the subprocesses it starts; and new buckets there. Used
by the test suite's S3 fixtures and by the benchmarks' moto server (benchmarks/s3server.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""Fake credentials moto accepts (boto3 and s3fs refuse to sign a request without some)."""


@contextmanager
def s3_environment(endpoint: str) -> Iterator[None]:
    """Point S3 clients at ``endpoint`` with :data:`S3_ENV` for the duration of the block, then
    put the environment back as it was."""
    saved = {key: os.environ.get(key) for key in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def new_bucket(endpoint: str, prefix: str = "mlops") -> str:
    """A new, empty bucket ``PREFIX-RANDOM`` on the S3 server at ``endpoint``; returns ``s3://NAME``."""
    import boto3

    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return f"s3://{name}"
