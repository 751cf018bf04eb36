"""tcp_connect against real listeners on 127.0.0.0/8 (and ::1)."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import Any, Callable, List

import pytest
from netcheck_agent.probes import LoopSocketOps, tcp_connect
from netcheck_agent.protocol import ListenSpec, ProbeRequest, RespondersStart, Sample
from netcheck_agent.responder import ResponderSet

LINUX = sys.platform.startswith("linux")
NONCE = "5eed" * 8


def probe(arun: Callable[..., Any], dst: str, port: int, **fields: Any) -> Sample:
    req = ProbeRequest("cell", "tcp_connect", dst, port, **fields)
    return arun(tcp_connect.probe(req))  # type: ignore[no-any-return]


def test_open(arun: Any, listen: Any) -> None:
    _sock, port = listen("127.0.0.11")
    s = probe(arun, "127.0.0.11", port)
    assert (s.outcome, s.proven, s.errno) == ("open", False, None)
    assert s.rtt_us is not None and s.rtt_us >= 0
    assert abs(s.t - time.time()) < 10


def test_refused(arun: Any, free_port: Any) -> None:
    s = probe(arun, "127.0.0.11", free_port("127.0.0.11"))
    assert s.outcome == "refused" and s.detail.startswith("connect: ECONNREFUSED")
    assert s.rtt_us is None


def test_open_ipv6(arun: Any, listen: Any, ipv6: None) -> None:
    _sock, port = listen("::1")
    assert probe(arun, "::1", port).outcome == "open"


@pytest.mark.skipif(not LINUX, reason="a full accept queue drops SYNs on Linux")
def test_timeout_when_the_accept_queue_is_full(arun: Any, listen: Any) -> None:
    # listen(0) and never accept: once the queue holds one connection the
    # kernel drops further SYNs, so a connect hangs like a filtered port.
    _lsock, port = listen("127.0.0.31", backlog=0)
    held: List[socket.socket] = []
    try:
        for _ in range(8):  # bounded
            s = probe(arun, "127.0.0.31", port, timeout_ms=150)
            if s.outcome == "timeout":
                break
            filler = socket.create_connection(("127.0.0.31", port), timeout=0.3)
            held.append(filler)
        else:
            pytest.fail("accept queue never filled")
    except socket.timeout:
        s = probe(arun, "127.0.0.31", port, timeout_ms=150)
    finally:
        for f in held:
            f.close()
    assert (s.outcome, s.rtt_us) == ("timeout", None)
    assert "150 ms" in s.detail


def test_handshake_only_when_the_peer_closes(arun: Any, server: Any) -> None:
    srv = server(lambda conn: conn.close())
    s = probe(arun, "127.0.0.11", srv.port, nonce=NONCE)
    assert (s.outcome, s.proven) == ("handshake_only", False)
    assert s.rtt_us is not None
    assert s.detail in ("connected, then eof",) or "ECONNRESET" in s.detail


def test_handshake_only_when_the_peer_says_garbage(arun: Any, server: Any) -> None:
    srv = server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"))
    s = probe(arun, "127.0.0.11", srv.port, nonce=NONCE)
    assert s.outcome == "handshake_only" and "garbage 'SSH-2.0" in s.detail


def test_handshake_only_when_the_peer_stays_silent(arun: Any, listen: Any) -> None:
    _sock, port = listen("127.0.0.11")  # the kernel completes the handshake, nobody reads
    s = probe(arun, "127.0.0.11", port, nonce=NONCE, timeout_ms=100)
    assert s.outcome == "handshake_only" and "no answer" in s.detail


def test_proven_open_against_the_real_responder(arun: Any) -> None:
    async def main() -> List[Sample]:
        start = RespondersStart(
            "r", NONCE, (ListenSpec("127.0.0.12", 0),), ttl_s=5, max_conns=10, host="mt01"
        )
        rs = ResponderSet(start, lambda stopped: None)
        ready = await rs.start()
        port = ready.listening[0].port
        samples = [
            await tcp_connect.probe(
                ProbeRequest("c", "tcp_connect", "127.0.0.12", port, nonce=n, dst_host=h)
            )
            for n, h in ((NONCE, "mt01"), (NONCE, "ps-azure"), ("beef" * 8, "mt01"), (None, None))
        ]
        stopped = await rs.stop()
        assert (stopped.connections, stopped.proven) == (4, 2)
        return samples

    right, misdirected, other_sweep, plain = arun(main())
    assert (right.outcome, right.proven) == ("open", True)
    assert (misdirected.outcome, misdirected.proven, misdirected.detail) == (
        "handshake_only",
        False,
        "answered by a different netcheck responder",
    )
    assert misdirected.facts is not None and set(misdirected.facts) == {"challenge", "answer"}
    assert (other_sweep.outcome, other_sweep.detail) == (
        "handshake_only",
        "another netcheck sweep holds this port",
    )
    assert (plain.outcome, plain.proven) == ("open", False)


def test_bound_source_address_is_the_one_the_listener_sees(arun: Any, server: Any) -> None:
    srv = server(lambda conn: None)
    for src in ("127.0.0.23", "127.0.0.24"):
        assert probe(arun, "127.0.0.11", srv.port, src=src).outcome == "open"
    deadline = time.monotonic() + 2
    while len(srv.peers) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [peer[0] for peer in srv.peers] == ["127.0.0.23", "127.0.0.24"]


@pytest.mark.skipif(not LINUX, reason="IP_BIND_ADDRESS_NO_PORT is Linux-only")
def test_bound_source_gets_its_port_at_connect_time(arun: Any, server: Any) -> None:
    # With IP_BIND_ADDRESS_NO_PORT the bind reserves no port (getsockname says
    # 0 until connect): ports are then unique per 4-tuple, not per source, so a
    # sweep from one NIC address cannot run out of ephemeral ports.
    seen: List[int] = []

    class SpyOps(LoopSocketOps):
        async def connect(self, sock: socket.socket, address: Any) -> None:
            seen.append(sock.getsockname()[1])
            await super().connect(sock, address)

    srv = server(lambda conn: None)
    req = ProbeRequest("c", "tcp_connect", "127.0.0.11", srv.port, src="127.0.0.25")
    assert arun(tcp_connect.probe(req, SpyOps())).outcome == "open"
    assert seen == [0]


def test_source_address_not_on_this_host_is_unreachable(
    arun: Any, listen: Any, prerequisite: Any
) -> None:
    try:
        with open("/proc/sys/net/ipv4/ip_nonlocal_bind") as f:
            if f.read().strip() != "0":
                prerequisite("ip_nonlocal_bind is on: any source address binds")
    except OSError:
        pass
    _sock, port = listen("127.0.0.11")
    # 198.18.0.1 (benchmark range) is not on this host: bind fails locally,
    # and the destination is loopback anyway, so no packet can leave.
    s = probe(arun, "127.0.0.11", port, src="198.18.0.1")
    assert s.outcome == "unreachable" and s.detail.startswith("bind: EADDRNOTAVAIL")


@pytest.mark.skipif(not LINUX, reason="TCP_INFO is Linux-only")
def test_rtt_comes_from_tcp_info_on_linux(arun: Any, listen: Any) -> None:
    _sock, port = listen("127.0.0.11")
    samples = []
    for _ in range(5):
        started = time.monotonic()
        s = probe(arun, "127.0.0.11", port)
        wall_us = (time.monotonic() - started) * 1e6
        samples.append(s)
        assert s.rtt_source == "tcp_info"
        # the kernel's handshake RTT cannot exceed the whole attempt's wall time
        assert s.rtt_us is not None and 0 < s.rtt_us <= wall_us


def test_many_attempts_leave_no_sockets_behind(
    arun: Any, server: Any, free_port: Any, prerequisite: Any
) -> None:
    import os

    fd_dir = "/proc/self/fd"
    if not os.path.isdir(fd_dir):
        prerequisite("needs /proc/self/fd")
    srv = server(lambda conn: conn.close(), max_conns=1000)
    closed = free_port("127.0.0.11")
    before = len(os.listdir(fd_dir))

    async def main() -> None:
        for i in range(60):
            port = srv.port if i % 2 else closed
            await tcp_connect.probe(
                ProbeRequest("c", "tcp_connect", "127.0.0.11", port, nonce=NONCE, timeout_ms=200)
            )

    arun(main())
    assert len(os.listdir(fd_dir)) <= before + 1


def test_cancel_mid_connect_closes_the_socket(arun: Any, listen: Any) -> None:
    _lsock, port = listen("127.0.0.32", backlog=0)
    fillers = []
    for _ in range(3):
        try:
            fillers.append(socket.create_connection(("127.0.0.32", port), timeout=0.2))
        except socket.timeout:
            break

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(
            tcp_connect.probe(ProbeRequest("c", "tcp_connect", "127.0.0.32", port, timeout_ms=5000))
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        arun(main())
    finally:
        for f in fillers:
            f.close()
