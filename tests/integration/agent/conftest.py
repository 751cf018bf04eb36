"""Real-socket fixtures on loopback. Traffic goes to 127.0.0.0/8 and ::1 only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
import threading
from typing import Any, Callable, Coroutine, Iterator, List, Optional, Tuple

import pytest


def run(coro: Coroutine[Any, Any, Any], timeout: float = 15.0) -> Any:
    """Run ``coro`` on a fresh loop with a hard time bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def arun() -> Callable[..., Any]:
    return run


@pytest.fixture
def listen() -> Iterator[Callable[..., Tuple[socket.socket, int]]]:
    """``listen(address, backlog)`` → a listening socket that is never accepted from."""
    socks: List[socket.socket] = []

    def make(address: str = "127.0.0.11", backlog: int = 128) -> Tuple[socket.socket, int]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        socks.append(sock)
        sock.bind((address, 0))
        sock.listen(backlog)
        return sock, sock.getsockname()[1]

    yield make
    for sock in socks:
        sock.close()


class Server:
    """A thread accepting on loopback and doing ``behaviour(conn)`` for each
    connection, at most ``max_conns`` times; records peer addresses."""

    def __init__(self, address: str, behaviour: Callable[[socket.socket], None], max_conns: int):
        self.sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.peers: List[Tuple[Any, ...]] = []
        self._behaviour = behaviour
        self._max = max_conns
        self._stop = threading.Event()
        self._held: List[socket.socket] = []
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set() and len(self.peers) < self._max:
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            conn, peer = self.sock.accept()
            self.peers.append(peer)
            self._held.append(conn)
            with contextlib.suppress(OSError):
                self._behaviour(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._held:
            conn.close()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Callable[..., Server]]:
    servers: List[Server] = []

    def make(
        behaviour: Optional[Callable[[socket.socket], None]] = None,
        address: str = "127.0.0.11",
        max_conns: int = 100,
    ) -> Server:
        srv = Server(address, behaviour or (lambda conn: conn.close()), max_conns)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.close()


def closed_port(address: str = "127.0.0.11") -> int:
    """A port with nothing listening on ``address`` (bound then released)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> Callable[..., int]:
    return closed_port


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def skip_or_fail(reason: str) -> None:
    """Skip where this machine can't run the test; in CI (CI=true) that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def prerequisite() -> Callable[[str], None]:
    """`prerequisite(reason)`: skip locally, fail in CI."""
    return skip_or_fail


@pytest.fixture
def ipv6() -> None:
    if not has_ipv6_loopback():
        skip_or_fail("no IPv6 loopback on this host")
