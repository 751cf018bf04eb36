"""Responders on real loopback sockets: bounded, honest about what they could open,
answering only their own sweep, with their own identity's key."""

from __future__ import annotations

import asyncio
import contextlib
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
OTHER_NONCE = "5eed" * 8
HOST = "mt01"


async def start(
    *specs: Tuple[str, int],
    ttl_s: float = 5,
    max_conns: int = 100,
    read_timeout_s: float = 3,
    nonce: str = NONCE,
    host: str = HOST,
    **kwargs: Any,
) -> Tuple[ResponderSet, RespondersReady, List[RespondersStopped]]:
    self_stops: List[RespondersStopped] = []
    listen = tuple(ListenSpec(a, p) for a, p in specs)
    req = RespondersStart("r1", nonce, listen, ttl_s=ttl_s, max_conns=max_conns, host=host)
    rs = ResponderSet(req, self_stops.append, read_timeout_s, **kwargs)
    return rs, await rs.start(), self_stops


def sweep_challenge(nonce: str = NONCE) -> str:
    return challenge.new_challenge(challenge.challenge_key(nonce))


async def prove(address: str, port: int, host: str = HOST) -> bool:
    """One probe's exchange: a challenge of the sweep, the answer checked for ``host``."""
    chal = sweep_challenge()
    reply = await exchange(address, port, challenge.challenge_line(chal))
    return challenge.verify_answer(challenge.keys(NONCE, host, address, port).answer, chal, reply)


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
        assert await prove("127.0.0.13", port)
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


def test_its_answer_proves_only_its_own_identity(arun: Any) -> None:
    """Keyed to host, address and port: useless to anyone posing as another destination."""

    async def main() -> None:
        rs, ready, _ = await start(("127.0.0.13", 0), ("127.0.0.13", 0))
        a, b = (x.port for x in ready.listening)
        chal = sweep_challenge()
        reply = await exchange("127.0.0.13", a, challenge.challenge_line(chal))
        for host, port, ok in ((HOST, a, True), ("ps-azure", a, False), (HOST, b, False)):
            key = challenge.keys(NONCE, host, "127.0.0.13", port).answer
            assert challenge.verify_answer(key, chal, reply) is ok
        identities = [
            (HOST, "127.0.0.13", b),
            ("ps-azure", "127.0.0.13", a),
            (HOST, "127.0.0.13", a),
        ]
        token = challenge.answer_token(reply)
        assert token is not None
        assert challenge.answered_by(NONCE, identities, chal, token) == identities[2]
        await rs.stop()

    arun(main())


def test_no_signing_oracle_and_other_sweeps_are_told_so(arun: Any) -> None:
    """Untagged and foreign challenges get no MAC at all, and are not counted."""

    async def main() -> None:
        rs, ready, _ = await start(("127.0.0.13", 0))
        port = ready.listening[0].port
        for chal in ("0f" * 16, "0f" * 32, sweep_challenge(OTHER_NONCE)):
            reply = await exchange("127.0.0.13", port, challenge.challenge_line(chal))
            assert reply == challenge.OTHER_SWEEP_LINE
        stopped = await rs.stop()
        assert (stopped.connections, stopped.proven) == (3, 0)

    arun(main())


def test_max_conns_caps_the_answered_challenges_and_closes(arun: Any) -> None:
    async def main() -> None:
        _rs, ready, self_stops = await start(("127.0.0.13", 0), max_conns=3)
        port = ready.listening[0].port
        for _ in range(5):  # plain connects and strangers' lines: not counted
            socket.create_connection(("127.0.0.13", port)).close()
            await exchange("127.0.0.13", port, b"NETCHECK1 deadbeef\n")
        assert not self_stops
        for _ in range(3):
            assert await prove("127.0.0.13", port)
        await asyncio.sleep(0.1)
        assert [(s.reason, s.connections, s.proven) for s in self_stops] == [("max_conns", 13, 3)]
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


def test_a_flood_of_plain_connects_neither_closes_it_nor_locks_probes_out(arun: Any) -> None:
    """1,100 connects that never send a line: the idle ones are shed oldest first,
    the set stays open, and every probe between them is answered."""

    async def main() -> None:
        rs, ready, self_stops = await start(
            ("127.0.0.13", 0), max_conns=1000, read_timeout_s=2, max_idle=64
        )
        port = ready.listening[0].port
        held: List[socket.socket] = []
        proven = 0
        try:
            for i in range(1100):
                sock = socket.socket()
                sock.setblocking(False)
                held.append(sock)
                with contextlib.suppress(BlockingIOError):  # completes in the kernel
                    sock.connect(("127.0.0.13", port))
                if i % 100 == 99:
                    await asyncio.sleep(0.01)  # let the set accept
                    proven += await prove("127.0.0.13", port)
            await asyncio.sleep(0.2)
            proven += await prove("127.0.0.13", port)
        finally:
            for sock in held:
                sock.close()
        assert proven == 12 and not self_stops
        stopped = await rs.stop()
        assert stopped.proven == 12 and stopped.connections >= 1000
        assert rs.shed >= 900  # at most 64 of them were ever kept

    arun(main(), 30)


def test_a_port_held_by_another_sweep_is_reported_as_such(arun: Any, listen: Any) -> None:
    """Not "in use" (a real service to probe), not ours: another netcheck sweep's."""
    _busy, service_port = listen("127.0.0.14")

    async def main() -> RespondersReady:
        other, other_ready, _ = await start(("127.0.0.14", 0), nonce=OTHER_NONCE)
        held = other_ready.listening[0].port
        try:
            rs, ready, _ = await start(("127.0.0.14", held), ("127.0.0.14", service_port))
            await rs.stop()
        finally:
            stopped = await other.stop()
        assert stopped.proven == 0  # our check earned no answer there
        return ready

    ready = arun(main())
    assert [(r.reason, r.detail) for r in ready.refused] == [
        ("other_sweep", "another netcheck sweep holds this port"),
        ("in_use", ready.refused[1].detail),
    ]
    assert "EADDRINUSE" in ready.refused[1].detail
