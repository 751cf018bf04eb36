"""The scheduler's epoll engine on real sockets on 127.0.0.0/8 (and ::1).

Every outcome the coroutine probe is proven for in test_tcp_connect_live.py,
now through ``run_batch(engine="epoll")``: open, refused, timeout (a full
accept queue), proven by the real responder, handshake-only, a bound source
address; plus both engines agreeing, no descriptor left behind, and cancel.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Sequence

import pytest
from netcheck_agent import engine
from netcheck_agent.protocol import ListenSpec, ProbeRequest, RespondersStart, Result, Sample
from netcheck_agent.responder import ResponderSet
from netcheck_agent.scheduler import run_batch

pytestmark = pytest.mark.skipif(
    not engine.available(asyncio.new_event_loop()), reason="the epoll engine is Linux-only"
)
NONCE = "5eed" * 8


def cell(name: str, dst: str, port: int, **fields: Any) -> ProbeRequest:
    return ProbeRequest(name, "tcp_connect", dst, port, **fields)


async def batch(
    requests: Sequence[ProbeRequest], concurrency: int = 16, eng: str = "epoll"
) -> Dict[str, Result]:
    out: List[Result] = []
    await run_batch("b", requests, concurrency, out.append, engine=eng)
    assert len(out) == len(requests)
    return {r.cell: r for r in out}


def one(arun: Callable[..., Any], dst: str, port: int, **fields: Any) -> Sample:
    results = arun(batch([cell("c", dst, port, **fields)]))
    return results["c"].samples[0]  # type: ignore[no-any-return]


def fill_accept_queue(address: str, port: int) -> List[socket.socket]:
    """Connections that fill a listen(0) queue, so later SYNs are dropped."""
    held: List[socket.socket] = []
    for _ in range(4):  # bounded
        s = socket.socket()
        s.settimeout(0.2)
        try:
            s.connect((address, port))
        except OSError:
            s.close()
            break
        held.append(s)
    return held


def test_open(arun: Any, listen: Any) -> None:
    _sock, port = listen("127.0.0.41")
    s = one(arun, "127.0.0.41", port)
    assert (s.outcome, s.proven, s.rtt_source) == ("open", False, "tcp_info")
    assert s.rtt_us is not None and s.rtt_us > 0 and abs(s.t - time.time()) < 10


def test_refused(arun: Any, free_port: Any) -> None:
    s = one(arun, "127.0.0.41", free_port("127.0.0.41"))
    assert (s.outcome, s.rtt_us) == ("refused", None)
    assert s.detail.startswith("connect: ECONNREFUSED")


def test_open_ipv6(arun: Any, listen: Any, ipv6: None) -> None:
    _sock, port = listen("::1")
    assert one(arun, "::1", port).outcome == "open"


def test_timeout_when_the_accept_queue_is_full(arun: Any, listen: Any) -> None:
    _lsock, port = listen("127.0.0.42", backlog=0)
    held = fill_accept_queue("127.0.0.42", port)
    try:
        started = time.monotonic()
        results = arun(batch([cell(f"c{i}", "127.0.0.42", port, timeout_ms=150) for i in range(3)]))
        took = time.monotonic() - started
    finally:
        for s in held:
            s.close()
    for r in results.values():
        s = r.samples[0]
        assert (s.outcome, s.rtt_us, s.detail) == ("timeout", None, "no answer within 150 ms")
    assert 0.14 <= took < 2.0  # the three waited together, each to its own deadline


def test_proven_open_against_the_real_responder(arun: Any) -> None:
    async def main() -> Dict[str, Result]:
        start = RespondersStart("r", NONCE, (ListenSpec("127.0.0.43", 0),), ttl_s=5, max_conns=10)
        rs = ResponderSet(start, lambda stopped: None)
        port = (await rs.start()).listening[0].port
        results = await batch(
            [
                cell("right", "127.0.0.43", port, nonce=NONCE),
                cell("wrong", "127.0.0.43", port, nonce="beef" * 8),
                cell("plain", "127.0.0.43", port),
            ]
        )
        stopped = await rs.stop()
        assert (stopped.connections, stopped.proven) == (3, 1)  # another sweep's: no answer
        return results

    results = arun(main())
    right, wrong, plain = (results[c].samples[0] for c in ("right", "wrong", "plain"))
    assert (right.outcome, right.proven, right.rtt_source) == ("open", True, "tcp_info")
    assert (wrong.outcome, wrong.detail) == (
        "handshake_only",
        "another netcheck sweep holds this port",
    )
    assert (plain.outcome, plain.proven) == ("open", False)


def test_handshake_only_when_the_peer_closes(arun: Any, server: Any) -> None:
    srv = server(lambda conn: conn.close(), address="127.0.0.41")
    s = one(arun, "127.0.0.41", srv.port, nonce=NONCE, timeout_ms=2000)
    assert (s.outcome, s.proven) == ("handshake_only", False) and s.rtt_us is not None
    assert s.detail == "connected, then eof" or "ECONNRESET" in s.detail


def test_handshake_only_when_the_peer_says_garbage(arun: Any, server: Any) -> None:
    srv = server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"), address="127.0.0.41")
    s = one(arun, "127.0.0.41", srv.port, nonce=NONCE, timeout_ms=2000)
    assert s.outcome == "handshake_only" and "garbage 'SSH-2.0" in s.detail


def test_handshake_only_when_the_peer_stays_silent(arun: Any, listen: Any) -> None:
    _sock, port = listen("127.0.0.41")  # the kernel completes the handshake, nobody reads
    s = one(arun, "127.0.0.41", port, nonce=NONCE, timeout_ms=100)
    assert (s.outcome, s.detail) == ("handshake_only", "no answer before deadline")


def test_bound_source_address_is_the_one_the_listener_sees(arun: Any, server: Any) -> None:
    srv = server(lambda conn: None, address="127.0.0.41")
    results = arun(
        batch([cell(src, "127.0.0.41", srv.port, src=src) for src in ("127.0.0.44", "127.0.0.45")])
    )
    assert all(r.samples[0].outcome == "open" for r in results.values())
    deadline = time.monotonic() + 2
    while len(srv.peers) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(peer[0] for peer in srv.peers) == ["127.0.0.44", "127.0.0.45"]


def test_source_address_not_on_this_host_is_unreachable(
    arun: Any, listen: Any, prerequisite: Any
) -> None:
    with open("/proc/sys/net/ipv4/ip_nonlocal_bind") as f:
        if f.read().strip() != "0":
            prerequisite("ip_nonlocal_bind is on: any source address binds")
    _sock, port = listen("127.0.0.41")
    s = one(arun, "127.0.0.41", port, src="198.18.0.1")
    assert s.outcome == "unreachable" and s.detail.startswith("bind: EADDRNOTAVAIL")


def test_both_engines_agree(arun: Any, listen: Any, server: Any, free_port: Any) -> None:
    _sock, open_port = listen("127.0.0.46")
    closed = free_port("127.0.0.46")
    garbage = server(lambda conn: conn.sendall(b"HTTP/1.0 400\r\n"), address="127.0.0.46")
    requests = [
        cell("open", "127.0.0.46", open_port, samples=3),
        cell("refused", "127.0.0.46", closed, samples=2, interval_ms=10),
        cell("garbage", "127.0.0.46", garbage.port, nonce=NONCE, timeout_ms=2000),
        cell("bad", "not-an-ip", 1),
    ]
    fast, portable = (arun(batch(requests, 4, eng)) for eng in ("epoll", "portable"))
    for name in fast:
        a = [(s.outcome, s.proven, s.rtt_source) for s in fast[name].samples]
        b = [(s.outcome, s.proven, s.rtt_source) for s in portable[name].samples]
        assert a == b, name


def test_many_attempts_leave_no_descriptor_behind(arun: Any, server: Any, free_port: Any) -> None:
    srv = server(lambda conn: conn.close(), address="127.0.0.47", max_conns=1000)
    closed = free_port("127.0.0.47")
    before = len(os.listdir("/proc/self/fd"))
    requests = [
        cell(f"c{i}", "127.0.0.47", srv.port if i % 2 else closed, nonce=NONCE, timeout_ms=500)
        for i in range(200)
    ]
    results = arun(batch(requests, concurrency=32))
    assert {r.samples[0].outcome for r in results.values()} == {"handshake_only", "refused"}
    assert len(os.listdir("/proc/self/fd")) <= before + 1


def test_cancel_mid_connect_closes_every_socket(arun: Any, listen: Any) -> None:
    _lsock, port = listen("127.0.0.48", backlog=0)
    held = fill_accept_queue("127.0.0.48", port)
    before = len(os.listdir("/proc/self/fd"))

    async def main() -> None:
        out: List[Result] = []
        task = asyncio.get_running_loop().create_task(
            run_batch(
                "b",
                [cell(f"c{i}", "127.0.0.48", port, timeout_ms=60_000) for i in range(5)],
                8,
                out.append,
                engine="epoll",
            )
        )
        await asyncio.sleep(0.1)
        assert len(os.listdir("/proc/self/fd")) > before  # attempts are waiting
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert out == []

    try:
        arun(main())
        assert len(os.listdir("/proc/self/fd")) <= before
    finally:
        for s in held:
            s.close()


def _queued(arun: Any, requests: Sequence[ProbeRequest], concurrency: int) -> int:
    stats: Dict[str, int] = {}
    out: List[Result] = []
    arun(run_batch("b", requests, concurrency, out.append, engine="epoll", stats=stats))
    assert len(out) == len(requests)
    assert all(r.samples[0].outcome == "timeout" for r in out)
    return stats["queued"]


def test_filtered_cells_queue_only_behind_a_limit_and_the_count_says_so(
    arun: Any, listen: Any
) -> None:
    """Slow (filtered) attempts hold their slots until their timeout: with fewer slots
    than cells the rest wait, and the engine counts exactly those that waited."""
    _sock, port = listen("127.0.0.44", backlog=0)
    held = fill_accept_queue("127.0.0.44", port)
    try:
        cells = [cell(f"c{i}", "127.0.0.44", port, timeout_ms=150) for i in range(40)]
        assert _queued(arun, cells, concurrency=10) == 30  # everything past the first 10
        assert _queued(arun, cells, concurrency=4096) == 0  # all 40 timeouts overlap
    finally:
        for s in held:
            s.close()


def test_the_agent_raises_a_low_descriptor_limit_before_sizing_its_slots() -> None:
    """A login's soft limit of 1,024 would cap the slots at 896: raised toward the hard one."""
    code = (
        "import resource\n"
        "from netcheck_agent.agent import MAX_IN_FLIGHT, default_max_in_flight\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "slots = default_max_in_flight()\n"
        "now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
        "want = MAX_IN_FLIGHT + 128 if hard == resource.RLIM_INFINITY else min(hard, MAX_IN_FLIGHT + 128)\n"
        "assert now == want, (now, want)\n"
        "assert slots == min(MAX_IN_FLIGHT, want - 128), slots\n"
        "print(slots)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 256
