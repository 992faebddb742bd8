"""Fixtures shared by every package's tests: real stores (local disk, memory://, a moto S3 server and
azurite's Azure Blob service on 127.0.0.1, byte-counting proxies in front of both) and a fresh plugin
manager per test."""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from azurite_support import INSTALL_HINT, AzuriteServer, find_azurite_blob
from counting_proxy import CountingProxy

from s3_environment import new_bucket, s3_environment

collect_ignore = [] if importlib.util.find_spec("mlflow") else ["mlflow"]
"""tests/mlflow loads exports with real MLflow, which mlops does not depend on: the ``tests-mlflow``
nox session installs it and runs that folder; where MLflow is missing (the main ``tests`` session)
the folder is left out instead of failing to import."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the tests marked ``slow`` go first: each worker takes the next test when it
    is free, so the long ones start early and none is left running alone at the end. One slow test
    of each file goes before a second of any file, since tests of a file may share a fixture that
    is built once for all workers (tests/support/run_once.py): the second then finds it built
    rather than waiting for it. A run in one process keeps the files' order."""
    if not hasattr(config, "workerinput"):  # set in xdist's workers, which collect and order the tests
        return
    seen: dict[object, int] = {}
    rank = {}
    for item in items:
        if item.get_closest_marker("slow") is not None:
            rank[id(item)] = seen[item.path] = seen.get(item.path, -1) + 1
    rest = len(items)  # not len(items) in the key: a list being sorted looks empty
    items.sort(key=lambda item: rank.get(id(item), rest))  # stable: else as collected


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
    try:
        with s3_environment(endpoint):
            yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A new, empty bucket on the moto server; returns ``s3://NAME``."""
    return new_bucket(s3_server)


@pytest.fixture
def s3_counted(s3_server: str) -> Iterator[CountingProxy]:
    """A byte-counting proxy in front of the moto server, for this test only.

    Point s3fs at ``proxy.endpoint`` (``storage_options={"endpoint_url": proxy.endpoint}``; the
    environment still names the server itself), then read ``proxy.counts()`` or ``proxy.reset()``.
    """
    address = urlsplit(s3_server)
    with CountingProxy(address.hostname or "127.0.0.1", address.port or 80) as proxy:
        yield proxy


AZURE_ENV = "AZURE_STORAGE_CONNECTION_STRING"


def _unavailable(reason: str) -> None:
    """Skip, but fail on CI (``CI`` set, as .ci/run runs), where a skip would hide a missing install step."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    """A real Azure Blob endpoint: azurite's blob service in a child process on 127.0.0.1, on a free port.

    Its connection string goes into ``AZURE_STORAGE_CONNECTION_STRING``, which adlfs reads, so plain
    ``az://CONTAINER/...`` URLs reach it from this process and from subprocesses, as the S3 server's
    ``AWS_ENDPOINT_URL`` does. The server object gives ``endpoint``, ``port``, ``connection_string``
    and ``storage_options`` for clients that do not read the environment. Skips (fails on CI) when
    adlfs or azurite is missing, saying how to install it.
    """
    try:
        from adlfs import AzureBlobFileSystem
    except ImportError:
        _unavailable('adlfs is not installed: pip install "mlops-core[azure]"')
    executable = find_azurite_blob()
    if executable is None:
        _unavailable(INSTALL_HINT)
    assert executable is not None
    server = AzuriteServer(executable, tmp_path_factory.mktemp("azurite"))
    server.start()
    saved = os.environ.get(AZURE_ENV)
    os.environ[AZURE_ENV] = server.connection_string
    AzureBlobFileSystem.clear_instance_cache()  # an instance made before would not have read it
    try:
        yield server
    finally:
        server.stop()
        if saved is None:
            os.environ.pop(AZURE_ENV, None)
        else:
            os.environ[AZURE_ENV] = saved
        AzureBlobFileSystem.clear_instance_cache()


@pytest.fixture
def azure_container(azurite_server: AzuriteServer) -> str:
    """A new, empty container on azurite; returns ``az://NAME`` (the environment carries the account)."""
    from azure.storage.blob import BlobServiceClient

    name = f"mlops-{uuid.uuid4().hex[:12]}"  # container names: 3-63 lowercase letters, digits, hyphens
    with BlobServiceClient.from_connection_string(azurite_server.connection_string) as service:
        service.create_container(name)
    return f"az://{name}"


@pytest.fixture
def azure_store(azure_container: str) -> str:
    """A fresh, empty root on azurite, as ``store`` gives one per kind of store: ``az://NAME/root``."""
    return f"{azure_container}/root"


@pytest.fixture
def azure_counted(azurite_server: AzuriteServer) -> Iterator[CountingProxy]:
    """A byte-counting proxy in front of azurite, for this test only: reach it with
    ``AzureBlobFileSystem(connection_string=connection_string(proxy.endpoint))`` (azurite_support)."""
    with CountingProxy("127.0.0.1", azurite_server.port) as proxy:
        yield proxy


@pytest.fixture(params=["local", "memory", "s3", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """A fresh, empty root on each kind of store: a local folder, ``memory://``, the S3 server and
    azurite's Azure Blob service."""
    if request.param == "local":
        return os.path.join(os.fspath(tmp_path), "store")
    if request.param == "memory":
        return f"memory://mlops-{uuid.uuid4().hex[:12]}"
    if request.param == "azure":
        return str(request.getfixturevalue("azure_store"))
    bucket: str = request.getfixturevalue("s3_bucket")
    return f"{bucket}/root"


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    """Every test starts from a plugin manager rebuilt from the installed entry points."""
    from mlops.plugins import manager as plugins

    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


@pytest.fixture
def raw_dir(tmp_path: os.PathLike[str]) -> str:
    """A small raw dataset on local disk (a CSV and a nested binary file), see sample_processors."""
    from sample_processors import write_raw

    return write_raw(os.path.join(os.fspath(tmp_path), "raw"))
