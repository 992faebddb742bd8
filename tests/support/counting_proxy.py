"""A byte-counting TCP proxy for tests: put it between a client and a local server (the moto S3
server, azurite) to measure what the client really sends and receives, headers included."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ProxyCounts:
    """What went through the proxy since it started or was last reset."""

    upstream: int  # bytes client -> server
    downstream: int  # bytes server -> client
    connections: int  # client connections accepted
    # Most requests awaiting an answer at one time: connections that sent bytes and got none back since.
    # 1 for requests made one after the other, more when a client sends several at once.
    peak_in_flight: int


class CountingProxy:
    """A threaded TCP proxy on 127.0.0.1 that forwards every connection to ``upstream`` and counts
    the bytes in each direction.

    Bytes are counted as they are received, before they are passed on, so once a client holds a
    complete response, every byte of its request and of that response is in the counts (and that
    request no longer counts as in flight).
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._up = self._down = self._connections = self._in_flight = self._peak = 0

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: give this to the client instead of the server's own endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CountingProxy:
        self._spawn(self._accept_loop)
        return self

    def counts(self) -> ProxyCounts:
        with self._lock:
            return ProxyCounts(self._up, self._down, self._connections, self._peak)

    def reset(self) -> None:
        """Zero the counters (the peak restarts from the requests in flight now)."""
        with self._lock:
            self._up = self._down = self._connections = 0
            self._peak = self._in_flight

    def stop(self) -> None:
        """Close the listener and every open connection, and wait for the forwarding threads."""
        with self._lock:
            self._stopped = True
            sockets = list(self._open)
        _close(self._listener)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # the listener was closed: stop() was called
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._stopped:
                    _close(client)
                    _close(server)
                    return
                self._open.update((client, server))
                self._connections += 1
            pair = _Pair()
            self._spawn(self._pump, client, server, True, pair)
            self._spawn(self._pump, server, client, False, pair)

    def _pump(self, source: socket.socket, target: socket.socket, upstream: bool, pair: _Pair) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                with self._lock:
                    if upstream:
                        self._up += len(data)
                        if not pair.awaiting:
                            pair.awaiting = True
                            self._in_flight += 1
                            self._peak = max(self._peak, self._in_flight)
                    else:
                        self._down += len(data)
                        if pair.awaiting:
                            pair.awaiting = False
                            self._in_flight -= 1
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)  # pass the end of this direction on, keep the other open
        except OSError:  # a reset, or stop(): end both directions
            _close(source)
            _close(target)
        if pair.one_done():
            with self._lock:
                if pair.awaiting:
                    pair.awaiting = False
                    self._in_flight -= 1
                self._open.difference_update((source, target))
            _close(source)
            _close(target)


class _Pair:
    """The two directions of one connection: whether it awaits an answer (guarded by the proxy's
    lock), and which direction finishes second (that one closes both sockets)."""

    def __init__(self) -> None:
        self.awaiting = False
        self._lock = threading.Lock()
        self._done = 0

    def one_done(self) -> bool:
        with self._lock:
            self._done += 1
            return self._done == 2


def _close(sock: socket.socket) -> None:
    """Shut down, then close: shutdown() is what wakes a thread blocked in recv() or accept()."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
