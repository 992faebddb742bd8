"""The read-only catalog server behind ``mlops ui``: the standard library's threading HTTP server.

Only GET and HEAD are answered; every other method gets 405. A request names a view and version
ids from the catalog, or one of the fixed static files: no part of a request is ever joined to a
filesystem path, and paths with ``..``, backslashes or leftover percent-escapes are refused (400).
On a loopback address the Host header must name that address (a DNS-rebinding page cannot read
the catalog); pages carry a Content-Security-Policy that allows scripts from this server only.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mlops.catalog import data, render
from mlops.catalog.data import Catalog
from mlops.errors import CatalogServerError
from mlops.utils import network
from mlops.utils.network import is_loopback

logger = logging.getLogger(__name__)

ALLOWED_METHODS = "GET, HEAD"
_DISCONNECTS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
"""What reading a request from, or writing a response to, a client that left raises."""
_CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_DIFFS_KEPT = 64
_COMPARED_MAX = 200
"""The compare view shows at most this many models (the ids past it in a request are ignored)."""


@dataclass(frozen=True)
class Response:
    """What the server sends for one request."""

    status: int
    content_type: str
    body: bytes
    cache: str = "no-store"


def exposure_warning(host: str) -> str | None:
    """The warning to print when ``host`` lets other machines reach the catalog, else ``None``."""
    return network.exposure_warning(
        host,
        "can read the catalog (names, tags, paths, metrics). Omit --host to serve on 127.0.0.1 only.",
    )


class CatalogServer(ThreadingHTTPServer):
    """A threading HTTP server holding one built catalog (and the diffs it computed on demand)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, catalog: Catalog, host: str, port: int) -> None:
        self.catalog = catalog
        self.loopback = is_loopback(host)
        self._diffs: dict[tuple[str, str], dict[str, Any] | str] = {}
        self._lock = threading.Lock()
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        try:
            super().__init__((host.strip("[]"), port), CatalogHandler)
        except OSError as exc:
            raise CatalogServerError(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}; pick another port with --port N "
                "(--port 0 takes any free one)"
            ) from exc

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (a closed tab, a cancelled download) is routine:
        logged at debug level, without a traceback. Anything else is reported as the base class does."""
        error = sys.exc_info()[1]
        if isinstance(error, _DISCONNECTS):
            logger.debug("client %s disconnected: %s", client_address, error)
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host, port = str(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def diff(self, a_id: str, b_id: str) -> dict[str, Any] | str:
        """``mlops diff`` of two catalog versions, computed once and kept (the reason if it fails)."""
        with self._lock:
            if (a_id, b_id) in self._diffs:
                return self._diffs[(a_id, b_id)]
        try:
            result: dict[str, Any] | str = data.diff(self.catalog, a_id, b_id)
        except Exception as exc:  # noqa: BLE001 - a damaged version or a store failure: shown on the page
            result = " ".join(str(exc).split()) or type(exc).__name__
        with self._lock:
            if len(self._diffs) >= _DIFFS_KEPT:
                self._diffs.pop(next(iter(self._diffs)))
            self._diffs[(a_id, b_id)] = result
        return result


class CatalogHandler(BaseHTTPRequestHandler):
    """Answers GET and HEAD from the catalog; any other method is refused with 405."""

    server: CatalogServer
    server_version = "mlops-catalog"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._send(self._answer(), body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(self._answer(), body=False)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up do_<METHOD>; every method but GET and HEAD is refused the same way.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        response = _text(HTTPStatus.METHOD_NOT_ALLOWED, "read-only: GET and HEAD only\n")
        self._send(response, body=True, extra={"Allow": ALLOWED_METHODS})

    def _answer(self) -> Response:
        if self.server.loopback and not self._host_is_loopback():
            return _text(HTTPStatus.BAD_REQUEST, "unexpected Host header: open the URL mlops ui printed\n")
        try:
            return route(self.server, self.path)
        except Exception:  # noqa: BLE001 - one broken page must not stop the server
            logger.exception("failed to answer %s", self.path)
            return _text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the mlops ui output\n")

    def _host_is_loopback(self) -> bool:
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return is_loopback(name) or name.strip("[]") == str(self.server.server_address[0])

    def _send(self, response: Response, *, body: bool, extra: dict[str, str] | None = None) -> None:
        self.send_response(response.status)
        headers = {
            "Content-Type": response.content_type,
            "Content-Length": str(len(response.body)),
            "Cache-Control": response.cache,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": render.SERVER_CSP,
            **(extra or {}),
        }
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        logger.info("%s %s", self.address_string(), format % args)


def route(server: CatalogServer, target: str) -> Response:
    """The response to a GET of ``target`` (path and query, as the request line gave them)."""
    split = urlsplit(target)
    path = unquote(split.path)
    if _unsafe(path):
        return _text(HTTPStatus.BAD_REQUEST, "bad path\n")
    parts = [part for part in path.split("/") if part]
    query = {key: values[-1] for key, values in parse_qs(split.query).items()}
    catalog = server.catalog
    if parts[:1] == ["static"] and "/".join(parts[1:]) in render.STATIC_FILES:
        name = "/".join(parts[1:])
        kind = _CONTENT_TYPES[name[name.rfind(".") :]]
        return Response(HTTPStatus.OK, kind, render.static_file(name), cache="max-age=3600")
    if not parts:
        return _page(catalog, "roots", title="Roots")
    if parts in (["leaderboard"], ["lineage"]):
        return _page(catalog, parts[0], title=parts[0].capitalize())
    if parts[0] in ("dataset", "model") and len(parts) == 2:
        record = (catalog.datasets if parts[0] == "dataset" else catalog.models).get(parts[1])
        if record is not None:
            return _page(catalog, parts[0], title=f"{record.meta.name} {record.shown_version}", record=record)
    if parts[0] == "compare" and len(parts) in (1, 3):
        a_id, b_id = (parts[1], parts[2]) if len(parts) == 3 else (query.get("a"), query.get("b"))
        a = catalog.version(a_id) if a_id else None
        b = catalog.version(b_id) if b_id else None
        if a is not None and b is not None and a_id and b_id:
            result = server.diff(a_id, b_id)
            return _page(catalog, "diff", title=f"{a.shown_version} -> {b.shown_version}", a=a, b=b, result=result)
        if len(parts) == 1:
            message = "" if not (a_id or b_id) else "pick two versions of this catalog"
            ids = [part for part in query.get("ids", "").split(",") if part][:_COMPARED_MAX]
            return _page(catalog, "compare", title="Compare", a=a, b=b, message=message, ids=ids)
    return _text(HTTPStatus.NOT_FOUND, "not found: this catalog has no such page\n")


def _unsafe(path: str) -> bool:
    """Whether a decoded request path tries to leave the catalog or hides another encoding."""
    return any(char in path for char in ("\\", "\0", "%")) or any(part in (".", "..") for part in path.split("/"))


def _page(catalog: Catalog, view: str, **context: Any) -> Response:
    html = render.render_page(catalog, view, **context)
    return Response(HTTPStatus.OK, "text/html; charset=utf-8", html.encode())


def _text(status: int, text: str) -> Response:
    return Response(status, "text/plain; charset=utf-8", text.encode())
