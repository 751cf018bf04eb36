"""Responders on real loopback sockets: bounded, honest about what they could open."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, List, Tuple

from netcheck_agent import challenge
from netcheck_agent.protocol import (
    ListenSpec,
    RespondersReady,
    RespondersStart,
    RespondersStopped,
)
from netcheck_agent.responder import ResponderSet

NONCE = "0badc0de" * 4


async def start(
    *specs: Tuple[str, int], ttl_s: float = 5, max_conns: int = 100, read_timeout_s: float = 3
) -> Tuple[ResponderSet, RespondersReady, List[RespondersStopped]]:
    self_stops: List[RespondersStopped] = []
    req = RespondersStart(
        "r1", NONCE, tuple(ListenSpec(a, p) for a, p in specs), ttl_s=ttl_s, max_conns=max_conns
    )
    rs = ResponderSet(req, self_stops.append, read_timeout_s)
    return rs, await rs.start(), self_stops


async def exchange(address: str, port: int, line: bytes) -> bytes:
    """Send ``line`` to a responder and read what comes back until it closes."""
    reader, writer = await asyncio.open_connection(address, port)
    try:
        writer.write(line)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1024), 5)
    except ConnectionResetError:
        # closing with our unread bytes in its buffer makes the kernel send RST:
        # still silence, nothing was revealed
        return b""
    finally:
        writer.close()


def test_answers_a_challenge_then_closes(arun: Any) -> None:
    async def main() -> None:
        rs, ready, _ = await start(("127.0.0.13", 0))
        port = ready.listening[0].port
        chal = challenge.new_challenge()
        reply = await exchange("127.0.0.13", port, challenge.challenge_line(chal))
        assert challenge.verify_answer(NONCE, chal, reply)
        stopped = await rs.stop()
        assert (stopped.connections, stopped.proven, stopped.reason) == (1, 1, "requested")

    arun(main())


def test_anything_else_gets_silence(arun: Any) -> None:
    async def main() -> None:
        rs, ready, _ = await start(("127.0.0.13", 0), read_timeout_s=0.3)
        port = ready.listening[0].port
        for line in (
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"NETCHECK1 nothex!\n",
            b"NETCHECK1 " + b"a" * 200 + b"\n",  # over the 128-byte bound
            b"\x16\x03\x01\x00\xa5\x01\x00\x00",  # no newline: cut off by the read timeout
        ):
            assert await exchange("127.0.0.13", port, line) == b""
        stopped = await rs.stop()
        assert (stopped.connections, stopped.proven) == (4, 0)

    arun(main())


def test_refuses_a_port_the_real_service_holds(arun: Any, listen: Any) -> None:
    _busy, port = listen("127.0.0.14")

    async def main() -> RespondersReady:
        rs, ready, _ = await start(("127.0.0.14", port), ("127.0.0.15", 0))
        await rs.stop()
        return ready

    ready = arun(main())
    assert [r.reason for r in ready.refused] == ["in_use"]
    assert ready.refused[0].port == port and "EADDRINUSE" in ready.refused[0].detail
    assert [s.address for s in ready.listening] == ["127.0.0.15"]


def test_address_not_on_this_host_is_reported(arun: Any) -> None:
    async def main() -> RespondersReady:
        rs, ready, _ = await start(("198.18.0.1", 0))  # binds nothing, sends nothing
        await rs.stop()
        return ready

    ready = arun(main())
    assert [r.reason for r in ready.refused] in (["address_not_available"], [])


def test_ttl_expiry_closes_everything_by_itself(arun: Any) -> None:
    async def main() -> None:
        rs, ready, self_stops = await start(("127.0.0.13", 0), ("::1", 0), ttl_s=0.2)
        await asyncio.sleep(0.5)
        assert [s.reason for s in self_stops] == ["ttl"]
        for spec in ready.listening:
            try:
                await asyncio.open_connection(spec.address, spec.port)
            except ConnectionRefusedError:
                continue
            raise AssertionError(f"{spec} still listening after TTL")
        assert (await rs.stop()).reason == "ttl"  # idempotent

    arun(main())


def test_max_conns_caps_the_total_and_closes(arun: Any) -> None:
    async def main() -> None:
        _rs, ready, self_stops = await start(("127.0.0.13", 0), max_conns=3)
        port = ready.listening[0].port
        for _ in range(3):
            chal = challenge.new_challenge()
            reply = await exchange("127.0.0.13", port, challenge.challenge_line(chal))
            assert challenge.verify_answer(NONCE, chal, reply)
        await asyncio.sleep(0.1)
        assert [(s.reason, s.connections, s.proven) for s in self_stops] == [("max_conns", 3, 3)]
        refused = False
        try:
            await asyncio.open_connection("127.0.0.13", port)
        except ConnectionRefusedError:
            refused = True
        assert refused

    arun(main())


def test_a_silent_client_is_cut_off_at_stop(arun: Any) -> None:
    async def main() -> None:
        rs, ready, _ = await start(("127.0.0.13", 0))
        port = ready.listening[0].port
        silent = socket.create_connection(("127.0.0.13", port))
        try:
            await asyncio.sleep(0.05)
            stopped = await asyncio.wait_for(rs.stop(), 2)
            assert stopped.connections == 1 and stopped.proven == 0
        finally:
            silent.close()

    arun(main())
