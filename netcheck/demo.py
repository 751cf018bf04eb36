"""Demo-only faults on loopback: a "silent port" where the kernel drops SYNs.

Without root there is no firewall to drop packets on 127.0.0.0/8. A listener
that never accepts and whose accept queue is already full makes the kernel drop
every new SYN, which is exactly what a client sees behind a dropping firewall:
no answer, then a timeout. The faults demo uses it to show a FILTERED cell.
Only loopback addresses are accepted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import time
from types import TracebackType

from netcheck.errors import ConfigError

__all__ = ["SilentPorts"]


class SilentPorts:
    """Context manager holding silent listeners open for the length of a sweep."""

    def __init__(self, endpoints: list[tuple[str, int]]) -> None:
        for addr, _ in endpoints:
            if not ipaddress.ip_address(addr).is_loopback:
                raise ConfigError(
                    f"demo silent port on {addr}: only loopback addresses are allowed"
                )
        self._endpoints = endpoints
        self._socks: list[socket.socket] = []

    def __enter__(self) -> SilentPorts:
        try:
            for addr, port in self._endpoints:
                self._open(addr, port)
        except OSError:
            self.close()
            raise
        if self._endpoints:  # (a sweep without demo faults never waits here)
            time.sleep(0.05)  # let the kernel finish the filler handshakes
        return self

    def _open(self, addr: str, port: int) -> None:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        listener = socket.socket(fam, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((addr, port))
        listener.listen(0)
        self._socks.append(listener)
        for _ in range(2):  # fill the queue (backlog 0 holds one); then SYNs are dropped
            filler = socket.socket(fam, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((addr, port))
            self._socks.append(filler)

    def close(self) -> None:
        for s in self._socks:
            s.close()
        self._socks.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
