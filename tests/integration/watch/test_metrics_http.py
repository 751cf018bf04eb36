"""The /metrics HTTP server on real loopback sockets: paths, methods, limits, timeouts."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from netcheck.errors import OutputError, UsageError
from netcheck.metrics_http import OPENMETRICS_TYPE, ListenAddress, MetricsServer, parse_listen

BODY = "# TYPE x gauge\nx 1\n# EOF\n"


async def _request(addr: ListenAddress, raw: bytes, timeout: float = 10) -> bytes:
    reader, writer = await asyncio.open_connection(addr.host, addr.port)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)  # until the server closes
    finally:
        writer.close()


def _split(resp: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = dict(ln.split(": ", 1) for ln in lines[1:])
    return status, headers, body


def serve(test: Callable[[MetricsServer, ListenAddress], Awaitable[None]], **kw: float) -> None:
    async def main() -> None:
        server = MetricsServer(
            ListenAddress("127.0.0.1", 0),
            lambda: BODY,
            lambda: (True, "ok: fine"),
            **kw,  # type: ignore[arg-type]
        )
        addr = await server.start()
        try:
            await test(server, addr)
        finally:
            await server.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_metrics_healthz_and_everything_else() -> None:
    async def t(server: MetricsServer, addr: ListenAddress) -> None:
        assert addr.host == "127.0.0.1" and addr.port > 0
        status, headers, body = _split(
            await _request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        )
        assert status == 200 and body.decode() == BODY
        assert headers["Content-Type"] == OPENMETRICS_TYPE
        assert headers["Content-Length"] == str(len(BODY)) and headers["Connection"] == "close"
        # a query string (Prometheus may add one) is ignored
        status, _, _ = _split(await _request(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"))
        assert status == 200
        status, headers, body = _split(await _request(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n"))
        assert status == 200 and body == b"" and headers["Content-Length"] == str(len(BODY))
        status, _, body = _split(await _request(addr, b"GET /healthz HTTP/1.1\r\n\r\n"))
        assert (status, body) == (200, b"ok: fine\n")
        for path in (b"/", b"/metrics/", b"/../etc/passwd", b"/healthz2"):
            status, _, _ = _split(await _request(addr, b"GET " + path + b" HTTP/1.1\r\n\r\n"))
            assert status == 404, path
        status, headers, _ = _split(
            await _request(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
        )
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        status, _, _ = _split(await _request(addr, b"\x16\x03\x01 hello\r\n\r\n"))  # TLS, junk
        assert status == 400

    serve(t)


def test_oversized_request_head_is_refused() -> None:
    async def t(server: MetricsServer, addr: ListenAddress) -> None:
        big = b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
        status, _, _ = _split(await _request(addr, big))
        assert status == 431

    serve(t, max_request=4096)


def test_silent_client_is_dropped_after_the_timeout() -> None:
    async def t(server: MetricsServer, addr: ListenAddress) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        resp = await _request(addr, b"GET /metr", timeout=10)  # never finishes its head
        assert loop.time() - t0 < 5
        assert _split(resp)[0] == 408

    serve(t, timeout=0.3)


def test_connection_limit() -> None:
    async def t(server: MetricsServer, addr: ListenAddress) -> None:
        idle = [await asyncio.open_connection(addr.host, addr.port) for _ in range(2)]
        await asyncio.sleep(0.1)
        status, _, _ = _split(await _request(addr, b"GET /metrics HTTP/1.1\r\n\r\n"))
        assert status == 503
        for _, w in idle:
            w.close()
        await asyncio.sleep(0.2)
        status, _, _ = _split(await _request(addr, b"GET /metrics HTTP/1.1\r\n\r\n"))
        assert status == 200

    serve(t, max_clients=2)


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]

        async def main() -> None:
            await MetricsServer(ListenAddress("127.0.0.1", port), lambda: "").start()

        with pytest.raises(OutputError, match=rf"cannot listen on 127.0.0.1:{port}: .*--listen"):
            asyncio.run(main())


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9469") == ListenAddress("127.0.0.1", 9469)
    assert parse_listen("[::1]:9469") == ListenAddress("::1", 9469)
    assert str(parse_listen("[::1]:0")) == "[::1]:0"
    for bad in ("9469", "localhost:9469", "127.0.0.1:", "127.0.0.1:70000", ":9469", "1.2.3:80"):
        with pytest.raises(UsageError, match="--listen"):
            parse_listen(bad)


def test_healthz_answers_while_slow_clients_hold_the_whole_connection_cap() -> None:
    async def t(server: MetricsServer, addr: ListenAddress) -> None:
        # 32 slow clients: each sends half a request head and then nothing
        slow = []
        for _ in range(32):
            r, w = await asyncio.open_connection(addr.host, addr.port)
            w.write(b"GET /metr")
            slow.append((r, w))
        await asyncio.sleep(0.2)
        status, _, body = _split(await _request(addr, b"GET /healthz HTTP/1.1\r\n\r\n"))
        assert (status, body) == (200, b"ok: fine\n")
        status, _, body = _split(await _request(addr, b"HEAD /healthz HTTP/1.1\r\n\r\n"))
        assert (status, body) == (200, b"")
        # the reserve is for health answers only: /metrics waits for the cap
        status, _, _ = _split(await _request(addr, b"GET /metrics HTTP/1.1\r\n\r\n"))
        assert status == 503
        # and it is bounded: past the reserve too, every connection is refused at once
        extra = [await asyncio.open_connection(addr.host, addr.port) for _ in range(3)]
        await asyncio.sleep(0.1)
        status, _, _ = _split(await _request(addr, b"GET /healthz HTTP/1.1\r\n\r\n"))
        assert status == 503
        for _, w in slow + extra:
            w.close()
        await asyncio.gather(*(w.wait_closed() for _, w in slow + extra), return_exceptions=True)

    serve(t, max_clients=32, health_reserve=3, timeout=2.0)
