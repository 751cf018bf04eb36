"""A tiny HTTP/1.1 server for `netcheck watch`: GET /metrics and GET /healthz, nothing else.

Standard library only (asyncio streams). It is the one listening socket netcheck
opens on the admin box, so it is deliberately small and bounded: it listens only
on the address it is given, reads at most `max_request` bytes of request head
within `timeout` seconds, serves at most `max_clients` connections at once,
answers one request per connection (`Connection: close`), ignores any request
body, and only knows two paths. Anything else is 404; a method other than
GET/HEAD is 405; an oversized head is 431; a slow client is dropped.

Health checks stay out of the shared cap: when `max_clients` connections are
open (slow or idle clients holding them), up to `health_reserve` more are read
with a short timeout and answered only if they ask for /healthz (anything else
on them is 503), so a liveness probe still gets the watcher's real health.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass

from netcheck.errors import OutputError, UsageError

__all__ = ["OPENMETRICS_TYPE", "ListenAddress", "MetricsServer", "parse_listen"]

log = logging.getLogger(__name__)

OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """`127.0.0.1:9469`, `[::1]:9469`, `0.0.0.0:9469` (an IP address and a port; no names,
    so the socket binds exactly where the user said)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise UsageError(f"--listen {text!r}: expected ADDRESS:PORT, e.g. 127.0.0.1:9469")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"--listen {text!r}: {host!r} is not an IP address (use 127.0.0.1, [::1], or the "
            f"address of the interface Prometheus scrapes)"
        ) from None
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(f"--listen {text!r}: port {port_text!r} is not within 0..65535")
    return ListenAddress(str(ip), port)


class MetricsServer:
    """Serves `render()` at /metrics. `start()` binds; `close()` stops and waits."""

    def __init__(
        self,
        listen: ListenAddress,
        render: Callable[[], str],
        health: Callable[[], tuple[bool, str]] | None = None,
        *,
        max_request: int = 8192,
        timeout: float = 5.0,
        max_clients: int = 32,
        health_reserve: int = 8,
    ) -> None:
        self.listen = listen
        self._render = render
        self._health = health or (lambda: (True, "ok"))
        self._max_request = max_request
        self._timeout = timeout
        self._max_clients = max_clients
        self._health_reserve = health_reserve
        self._clients = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests = 0

    @property
    def address(self) -> ListenAddress:
        """The bound address (the real port when 0 was asked for)."""
        assert self._server is not None and self._server.sockets
        host, port = self._server.sockets[0].getsockname()[:2]
        return ListenAddress(host, port)

    async def start(self) -> ListenAddress:
        try:
            self._server = await asyncio.start_server(
                self._accept,
                self.listen.host,
                self.listen.port,
                limit=self._max_request,
                reuse_address=True,
                backlog=64,
            )
        except OSError as exc:
            raise OutputError(
                f"cannot listen on {self.listen}: {exc.strerror or exc} (is another "
                f"`netcheck watch` or exporter using the port? choose another with --listen)"
            ) from None
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), self._timeout)
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._clients += 1
        try:
            over = self._clients - self._max_clients
            if over > self._health_reserve:
                await self._respond(writer, 503, "too many connections\n", head_only=False)
                return
            health_only = over > 0  # a reserve connection: /healthz only, read quickly
            timeout = min(self._timeout, 1.0) if health_only else self._timeout
            await asyncio.wait_for(self._serve(reader, writer, health_only), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._respond(writer, 408, "request timeout\n", head_only=False), 1.0
                )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # a bug must not kill the watch loop's server
            log.exception("metrics request")
        finally:
            self._clients -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            if task is not None:
                self._tasks.discard(task)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, health_only: bool
    ) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            await self._respond(writer, 431, "request head too large\n", head_only=False)
            return
        except asyncio.IncompleteReadError as exc:
            if not exc.partial.strip():
                return  # connected and closed: a port check
            head = exc.partial
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            await self._respond(writer, 400, "bad request\n", head_only=False)
            return
        method, target, _ = parts
        self.requests += 1
        if method not in ("GET", "HEAD"):
            await self._respond(
                writer, 405, "only GET\n", head_only=False, extra=(("Allow", "GET, HEAD"),)
            )
            return
        path = target.split("?", 1)[0]
        head_only = method == "HEAD"
        if health_only and path != "/healthz":
            await self._respond(writer, 503, "too many connections\n", head_only)
        elif path == "/metrics":
            await self._respond(writer, 200, self._render(), head_only, ctype=OPENMETRICS_TYPE)
        elif path == "/healthz":
            ok, text = self._health()
            await self._respond(writer, 200 if ok else 503, text.rstrip("\n") + "\n", head_only)
        else:
            await self._respond(writer, 404, "not found: try /metrics\n", head_only)

    async def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body_text: str,
        head_only: bool,
        *,
        ctype: str = "text/plain; charset=utf-8",
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        body = body_text.encode("utf-8")
        headers = [
            f"HTTP/1.1 {status} {_REASONS[status]}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(body)}",
            "Connection: close",
            "Cache-Control: no-store",
            "X-Content-Type-Options: nosniff",
            *(f"{k}: {v}" for k, v in extra),
        ]
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1"))
        if not head_only:
            writer.write(body)
        await asyncio.wait_for(writer.drain(), self._timeout)
