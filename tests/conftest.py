"""Fixtures shared by every package's tests: real stores (local disk, memory://, a moto S3 server on
127.0.0.1) and a fresh plugin manager per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets an empty content cache for remote files (also in the subprocesses it starts),
    so no test passes thanks to bytes another test fetched."""
    monkeypatch.setenv("MLOPS_CACHE_DIR", str(tmp_path_factory.mktemp("mlops-cache")))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 endpoint: moto's server in a thread, listening on 127.0.0.1 on a free port.

    The endpoint and fake credentials go into the environment (``AWS_ENDPOINT_URL`` ...), so plain
    ``s3://`` URLs reach it from this process and from subprocesses, exactly as users write them.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A new, empty bucket on the moto server; returns ``s3://NAME``."""
    import boto3

    name = f"mlops-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return f"s3://{name}"


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A fresh, empty root on each kind of store: a local folder, ``memory://`` and the S3 server."""
    if request.param == "local":
        return os.path.join(os.fspath(tmp_path), "store")
    if request.param == "memory":
        return f"memory://mlops-{uuid.uuid4().hex[:12]}"
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"{bucket}/root"


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    """Every test starts from a plugin manager rebuilt from the installed entry points."""
    from mlops import plugins

    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


@pytest.fixture
def raw_dir(tmp_path: os.PathLike[str]) -> str:
    """A small raw dataset on local disk (a CSV and a nested binary file), see sample_processors."""
    from sample_processors import write_raw

    return write_raw(os.path.join(os.fspath(tmp_path), "raw"))
