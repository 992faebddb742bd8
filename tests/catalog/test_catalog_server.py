"""The live server over real HTTP: read-only, nothing outside the catalog served, loopback by default."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog_store import serving
from damaged_versions import XSS_FOLDER
from mlops.catalog.data import build_catalog, version_id
from mlops.catalog.server import CatalogServer, exposure_warning, is_loopback
from mlops.errors import CatalogServerError


def _request(
    server: CatalogServer, method: str, target: str, host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One raw request (the target is sent exactly as given: no client-side normalisation)."""
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"127.0.0.1:{port}")
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _tree(folder: str) -> dict[str, tuple[int, float]]:
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(base, name)
            out[path] = (os.path.getsize(path), os.path.getmtime(path))
    return out


def test_every_view_answers_get_and_head(live_server: CatalogServer, catalog_store: dict[str, str]) -> None:
    model, dataset = version_id(catalog_store["torch"]), version_id(catalog_store["v1"])
    for target in ["/", "/leaderboard", "/lineage", "/compare", f"/model/{model}", f"/dataset/{dataset}"]:
        status, headers, body = _request(live_server, "GET", target)
        assert status == 200, target
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        head_status, head_headers, head_body = _request(live_server, "HEAD", target)
        assert (head_status, head_body) == (200, b"") and head_headers["Content-Length"] == str(len(body))
    status, headers, body = _request(live_server, "GET", "/static/vendor/vega-lite.min.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript") and len(body) > 100_000


def test_any_two_versions_are_compared_on_demand(live_server: CatalogServer, catalog_store: dict[str, str]) -> None:
    a, b = version_id(catalog_store["sgd-strong"]), version_id(catalog_store["torch"])  # not neighbours
    status, _, body = _request(live_server, "GET", f"/compare?a={a}&b={b}")
    page = body.decode()
    assert status == 200 and "Final metrics" in page and "serializer.name" in page
    status, _, body = _request(live_server, "GET", f"/compare?a={a}&b=0000")
    assert status == 200 and "pick two versions of this catalog" in body.decode()
    a, b = version_id(catalog_store["v1"]), version_id(catalog_store["torch"])
    status, _, body = _request(live_server, "GET", f"/compare/{a}/{b}")
    assert status == 200 and "Not compared: cannot compare a dataset" in body.decode()


def _embedded(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="mlops-data">(.*?)</script>', page, re.S)
    assert found is not None
    embedded: dict[str, Any] = json.loads(found.group(1))
    return embedded


def test_the_compare_page_embeds_the_chosen_models_only(
    live_server: CatalogServer, catalog_store: dict[str, str]
) -> None:
    a, b = version_id(catalog_store["sgd-strong"]), version_id(catalog_store["torch"])
    status, _, body = _request(live_server, "GET", f"/compare?ids={a},{b},{version_id(catalog_store['v1'])}")
    embedded = _embedded(body.decode())
    assert status == 200 and sorted(row["id"] for row in embedded["models"]) == sorted([a, b])
    assert set(embedded["histories"]) == {a, b}
    status, _, body = _request(live_server, "GET", "/compare")
    page = body.decode()
    assert status == 200 and "Nothing picked yet" in page and _embedded(page)["models"] == []
    assert '<option value="" selected disabled>pick a version</option>' in page  # never A = B


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_methods_other_than_get_and_head_are_refused(
    live_server: CatalogServer, catalog_store: dict[str, str], method: str
) -> None:
    before = _tree(os.path.dirname(os.path.dirname(catalog_store["datasets"])))
    model = version_id(catalog_store["torch"])
    for target in ["/", f"/model/{model}", "/static/catalog.js"]:
        status, headers, _ = _request(live_server, method, target)
        assert status == 405, (method, target)
        assert headers["Allow"] == "GET, HEAD"
    assert _tree(os.path.dirname(os.path.dirname(catalog_store["datasets"]))) == before


TRAVERSALS = [
    "/static/../../../../{secret}",
    "/static/vendor/../../data.py",
    "/static/%2e%2e/%2e%2e/data.py",
    "/static%2f..%2f..%2fdata.py",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2f{secret}",
    "/static/%252e%252e%252fdata.py",
    "/static/%252e%252e/%252e%252e/{secret}",
    "/static/..%5c..%5cdata.py",
    "/dataset/..%2f..%2f{secret}",
    "/model/%2e%2e",
    "/static/catalog.js%00.html",
    "//{secret}",
    "/{secret}",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_paths_outside_the_catalog_are_never_served(
    live_server: CatalogServer, catalog_store: dict[str, str], tmp_path: Path, target: str
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    relative = os.path.relpath(secret, "/")
    status, _, body = _request(live_server, "GET", target.format(secret=relative))
    assert status in (400, 404), target
    assert b"TOP-SECRET-CONTENT" not in body and b"def build_catalog" not in body and b'"schema"' not in body


def test_store_files_are_not_served(live_server: CatalogServer, catalog_store: dict[str, str]) -> None:
    meta = os.path.join(catalog_store["v1"], "meta.json")
    for target in [meta, "/" + os.path.relpath(meta, "/"), "/datasets/points/v1/meta.json"]:
        status, _, body = _request(live_server, "GET", target)
        assert status == 404 and b"sha256" not in body


def test_a_foreign_host_header_is_refused_on_loopback(live_server: CatalogServer) -> None:
    # A page on another site that rebinds its DNS name to 127.0.0.1 sends its own name as Host.
    status, _, body = _request(live_server, "GET", "/leaderboard", host="attacker.example:80")
    assert status == 400 and b"Host" in body
    assert _request(live_server, "GET", "/", host=f"localhost:{live_server.server_address[1]}")[0] == 200


def test_loopback_addresses_bind_quietly_and_others_warn() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host) and exposure_warning(host) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.org"):
        warning = exposure_warning(host)
        assert warning is not None and "anyone who can reach this machine" in warning


def test_a_busy_port_fails_with_what_to_do(roots: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CatalogServerError, match=r"--port 0"):
            CatalogServer(build_catalog(roots), "127.0.0.1", port)


@pytest.fixture
def own_server(roots: list[str]) -> Iterator[CatalogServer]:
    """A server of this test only: closing it at the end waits for every request it is handling."""
    with serving(roots, tensor_stats=False) as server:
        yield server


def _stop(server: CatalogServer) -> None:
    """Stop ``server`` and wait for its request threads, so that all they printed is captured."""
    server.shutdown()
    server.server_close()


def test_a_client_that_disconnects_gets_no_traceback(
    own_server: CatalogServer, capsys: pytest.CaptureFixture[str]
) -> None:
    port = own_server.server_address[1]
    request = f"GET /static/vendor/vega.min.js HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(request * 20)  # megabytes of responses it never reads
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    status, _, body = _request(own_server, "GET", "/")  # the server still answers
    assert status == 200 and b"Roots" in body
    _stop(own_server)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err and "BrokenPipeError" not in err, err


def test_other_failures_of_a_request_still_print_their_traceback(
    own_server: CatalogServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.catalog.server import CatalogHandler

    def broken(self: CatalogHandler, *args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the handler")

    monkeypatch.setattr(CatalogHandler, "_send", broken)
    port = own_server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert client.recv(100) == b""  # the server closed the connection after the failure
    _stop(own_server)
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug in the handler" in err


def _start_ui(roots: list[str], *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops", "ui", *roots, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"at (http://\S+/)", line)
    assert match, (line, process.stderr.read() if process.poll() is not None and process.stderr else "")
    return process, match.group(1)


@pytest.mark.slow
def test_mlops_ui_prints_its_url_and_stops_on_ctrl_c(roots: list[str]) -> None:
    process, url = _start_ui(roots)
    try:
        assert url.startswith("http://127.0.0.1:")
        host, port = url[len("http://") : -1].rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/leaderboard")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err and "warning" not in err


@pytest.mark.slow
def test_mlops_ui_warns_when_serving_beyond_loopback(roots: list[str]) -> None:
    process, url = _start_ui(roots, "--host", "0.0.0.0")
    try:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert url.startswith("http://0.0.0.0:")
    assert "mlops: warning: serving on 0.0.0.0, not on a loopback address" in err
    assert process.returncode == 0


def test_damaged_versions_are_shown_with_their_reason_and_the_rest_served(damaged_store: dict[str, str]) -> None:
    with serving([damaged_store["root"]], tensor_stats=False) as server:
        status, _, body = _request(server, "GET", "/")
        page = body.decode()
        assert status == 200 and "4 damaged" in page
        rows = re.findall(r'<tr class="damaged" data-version="(\w+)"><td class="path">(.*?)</td>(.*?)</tr>', page)
        shown = {folder: reason for _, folder, reason in rows}
        assert sorted(shown) == sorted(["truncated", "missing", "unknown", html.escape(XSS_FOLDER)])
        assert "does not match the sha256 recorded in meta.json" in shown["truncated"]
        assert "the manifest manifest.jsonl of" in shown["missing"]
        assert "schema 99 is not one this mlops reads" in shown["unknown"]
        assert "is not valid JSON" in shown[html.escape(XSS_FOLDER)] and XSS_FOLDER not in page
        assert {vid for vid, _, _ in rows} == {
            version_id(damaged_store[n]) for n in ("truncated", "missing", "unknown", XSS_FOLDER)
        }
        assert '>v1-copy</a> <span class="flag moved"' in page  # a copied folder, flagged
        for name in ("v1", "v1-copy"):
            assert _request(server, "GET", f"/dataset/{version_id(damaged_store[name])}")[0] == 200
        assert _request(server, "GET", f"/dataset/{version_id(damaged_store['truncated'])}")[0] == 404


@pytest.mark.slow
def test_mlops_ui_starts_on_a_root_with_damaged_versions(damaged_store: dict[str, str]) -> None:
    process, url = _start_ui([damaged_store["root"]], "--no-stats")
    try:
        host, port = url[len("http://") : -1].rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and response.read().count(b'<tr class="damaged"') == 4
        connection.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "mlops: warning: v1-copy holds version v1 (copied or renamed folder)"
    assert len(lines) == 5 and all(line.startswith("mlops: warning: damaged version ") for line in lines[1:])
