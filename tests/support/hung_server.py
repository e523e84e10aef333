"""A TCP proxy in front of the suite's PostgreSQL that can hang, the way a stuck server does.

Until :meth:`HangingProxy.hang` it forwards bytes both ways. After it, it
forwards nothing: connections already open get no answer, and new ones are
accepted (TCP completes, as the kernel of a hung server completes it) and
then never answered. Nothing of the real server is stopped or changed.
"""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

_POLL_SECONDS = 0.05


def upstream_address(database_url: str) -> tuple[int, str | tuple[str, int]]:
    """(address family, address) of the server a pg8000 URL names: a unix socket or host and port."""
    parts = urlsplit(database_url)
    socket_path = parse_qs(parts.query).get("unix_sock")
    if socket_path:
        return socket.AF_UNIX, socket_path[0]
    return socket.AF_INET, (parts.hostname or "127.0.0.1", parts.port or 5432)


class HangingProxy:
    """Listens on 127.0.0.1 (``port``); forwards to ``upstream`` until it hangs."""

    def __init__(self, upstream: tuple[int, str | tuple[str, int]]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL_SECONDS)
        self.port: int = self._listener.getsockname()[1]
        self.accepted_while_hung = 0
        self._hung = threading.Event()
        self._forwarding = threading.Lock()  # held while bytes pass, so hang() is exact
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, name="hanging-proxy", daemon=True)]
        self._threads[0].start()

    def hang(self) -> None:
        """From now on, answer nothing (no byte is in flight through the proxy once this returns)."""
        with self._forwarding:
            self._hung.set()

    def __enter__(self) -> HangingProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._closing.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in [self._listener, *self._sockets]:
            sock.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self._sockets.append(client)
            if self._hung.is_set():
                self.accepted_while_hung += 1  # held open, never answered
                continue
            family, address = self._upstream
            server = socket.socket(family, socket.SOCK_STREAM)
            server.connect(address)
            self._sockets.append(server)
            for source, target in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pump, args=(source, target), daemon=True)
                self._threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while not self._closing.is_set():
            if self._hung.is_set():  # leave the bytes unread: nobody answers
                self._closing.wait(_POLL_SECONDS)
                continue
            try:
                readable, _, _ = select.select([source], [], [], _POLL_SECONDS)
                if not readable:
                    continue
                with self._forwarding:
                    if self._hung.is_set():
                        continue
                    data = source.recv(65536)
                    if not data:
                        return
                    target.sendall(data)
            except OSError:
                return
