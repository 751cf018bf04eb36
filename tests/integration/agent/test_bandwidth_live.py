"""Bandwidth endpoints and runs with real sockets on loopback: security and faults.

Two real agents (in-process, each behind its own protocol channel) or a real
agent subprocess; every socket goes to 127.0.0.0/8 and every wait is bounded.
Runs under Python 3.9 too (scripts/test-agent-py39): agent imports only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, List, Optional, Tuple, Type

import pytest
from netcheck_agent import Agent, memory_channel_pair
from netcheck_agent import protocol as p
from netcheck_agent.bandwidth_wire import MODE_RECV, MODE_SEND, hello_line

ADDR = "127.0.0.1"
AGENTS_DIR = Path(__file__).resolve().parents[3] / "agents"


class Peer:
    """One agent and the coordinator's end of its channel; messages kept by type."""

    def __init__(self) -> None:
        agent_side, self.chan = memory_channel_pair()
        self.task = asyncio.ensure_future(Agent(agent_side).run(max_seconds=120))
        self.inbox: List[Any] = []

    async def send(self, msg: Any) -> None:
        await self.chan.send(p.encode(msg))

    async def expect(self, cls: Type[Any], mid: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.inbox:
                if isinstance(msg, cls) and getattr(msg, "id", getattr(msg, "ref", None)) == mid:
                    self.inbox.remove(msg)
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {cls.__name__} for {mid} within {timeout} s")
            try:
                line = await asyncio.wait_for(self.chan.receive(), left)
            except asyncio.TimeoutError:
                continue
            assert line is not None, "the agent went away"
            self.inbox.append(p.decode(line))

    def intervals(self, mid: str) -> List[p.BandwidthInterval]:
        return [m for m in self.inbox if isinstance(m, p.BandwidthInterval) and m.id == mid]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.send(p.Bye())
        await asyncio.wait_for(self.task, 10)


def run(coro: Any, timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def token() -> str:
    return secrets.token_hex(16)


def listen(
    tok: str,
    *,
    streams: int = 1,
    reverse: bool = False,
    max_seconds: float = 30.0,
    max_bytes: int = 2**40,
    accept_timeout_s: float = 10.0,
    mid: str = "e1",
) -> p.BandwidthListen:
    return p.BandwidthListen(
        id=mid,
        address=ADDR,
        port=0,
        token=tok,
        max_bytes=max_bytes,
        max_seconds=max_seconds,
        streams=streams,
        reverse=reverse,
        accept_timeout_s=accept_timeout_s,
    )


def bw_run(
    tok: str, port: int, *, streams: int = 1, duration_s: float = 1.0, reverse: bool = False
) -> p.BandwidthRun:
    return p.BandwidthRun(
        id="r1",
        dst=ADDR,
        port=port,
        token=tok,
        src=ADDR,
        streams=streams,
        duration_s=duration_s,
        reverse=reverse,
        interval_ms=250,
    )


def raw_hello(port: int, line: bytes, src: str = ADDR) -> Tuple[bytes, socket.socket]:
    """Connect, send ``line``, return what came back within 5 s (b"" = closed on us)."""
    sock = socket.socket()
    sock.bind((src, 0))
    sock.settimeout(5)
    sock.connect((ADDR, port))
    sock.sendall(line)
    try:
        got = sock.recv(200)
    except ConnectionResetError:
        got = b""
    return got, sock


async def in_thread(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


# --- it measures --------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_a_run_measures_with_intervals_and_the_endpoint_closes(reverse: bool) -> None:
    async def main() -> None:
        src, dst = Peer(), Peer()
        tok = token()
        try:
            await dst.send(listen(tok, streams=2, reverse=reverse))
            ready = await dst.expect(p.BandwidthListening, "e1")
            t0 = time.monotonic()
            await src.send(bw_run(tok, ready.port, streams=2, duration_s=1.0, reverse=reverse))
            result = await src.expect(p.BandwidthResult, "r1")
            took = time.monotonic() - t0
            closed = await dst.expect(p.BandwidthClosed, "e1")
            samples = src.intervals("r1")
        finally:
            await src.close()
            await dst.close()
        assert result.reason == p.BW_COMPLETED, result
        assert result.streams == 2 and result.bytes > 0 and result.mbps > 10
        assert result.source == "receiver"
        assert 0.9 < result.seconds < 2.0
        assert took < 6, f"a 1 s test took {took:.1f} s"
        assert len(samples) == 4 and sum(s.bytes for s in samples) > 0
        assert samples[-1].t == pytest.approx(1.0, abs=0.2)
        assert closed.reason == p.BW_COMPLETED and closed.connections == 2
        assert closed.rejected == 0
        if reverse:
            # the endpoint sent: it counted at least what the receiver got
            assert closed.bytes >= result.bytes
            if sys.platform.startswith("linux"):
                assert closed.retransmits is not None
        else:
            assert closed.bytes == result.bytes  # the receiver's own count came back
            if sys.platform.startswith("linux"):
                assert result.retransmits is not None
                assert all(s.retrans is not None for s in samples)

    run(main())


# --- security ------------------------------------------------------------------------


def test_a_wrong_token_gets_nothing_and_the_endpoint_stays_for_its_client() -> None:
    async def main() -> None:
        src, dst = Peer(), Peer()
        tok = token()
        try:
            await dst.send(listen(tok))
            ready = await dst.expect(p.BandwidthListening, "e1")
            wrong = hello_line(token(), os.urandom(16).hex(), MODE_SEND)
            got, sock = await in_thread(raw_hello, ready.port, wrong)
            sock.close()
            garbage, sock = await in_thread(raw_hello, ready.port, b"GET / HTTP/1.0\r\n\r\n")
            sock.close()
            wrong_mode = hello_line(tok, os.urandom(16).hex(), MODE_RECV)  # right token
            got_mode, sock = await in_thread(raw_hello, ready.port, wrong_mode)
            sock.close()
            await src.send(bw_run(tok, ready.port, duration_s=0.3))
            result = await src.expect(p.BandwidthResult, "r1")
            closed = await dst.expect(p.BandwidthClosed, "e1")
        finally:
            await src.close()
            await dst.close()
        assert got == b"" and garbage == b"" and got_mode == b""
        assert result.reason == p.BW_COMPLETED
        assert closed.rejected == 3 and closed.connections == 1

    run(main())


def test_a_runner_with_a_wrong_token_is_not_accepted() -> None:
    async def main() -> None:
        src, dst = Peer(), Peer()
        try:
            await dst.send(listen(token(), accept_timeout_s=2))
            ready = await dst.expect(p.BandwidthListening, "e1")
            await src.send(bw_run(token(), ready.port, duration_s=0.3))
            result = await src.expect(p.BandwidthResult, "r1")
            closed = await dst.expect(p.BandwidthClosed, "e1")
        finally:
            await src.close()
            await dst.close()
        assert result.reason == p.BW_NOT_ACCEPTED and result.bytes == 0
        assert closed.reason.startswith(p.BW_NO_CLIENT) and closed.rejected == 1

    run(main())


def test_a_replayed_hello_gets_nothing() -> None:
    async def main() -> None:
        dst = Peer()
        tok = token()
        try:
            await dst.send(listen(tok, streams=4, accept_timeout_s=5))
            ready = await dst.expect(p.BandwidthListening, "e1")
            line = hello_line(tok, os.urandom(16).hex(), MODE_SEND)
            first, sock1 = await in_thread(raw_hello, ready.port, line)
            replay, sock2 = await in_thread(raw_hello, ready.port, line)  # same bytes again
            sock2.close()
            sock1.shutdown(socket.SHUT_WR)
            sock1.settimeout(5)
            rx = sock1.recv(200)
            sock1.close()
            closed = await dst.expect(p.BandwidthClosed, "e1")
        finally:
            await dst.close()
        assert first.startswith(b"NCBW1 OK ")
        assert replay == b""
        assert rx.startswith(b"NCBW1 RX 0 ")
        assert closed.connections == 1 and closed.rejected == 1

    run(main())


def test_a_second_client_gets_nothing_during_and_after_the_session() -> None:
    async def main() -> None:
        dst = Peer()
        tok = token()
        try:
            await dst.send(listen(tok, streams=2, accept_timeout_s=5))
            ready = await dst.expect(p.BandwidthListening, "e1")
            ok1, s1 = await in_thread(
                raw_hello, ready.port, hello_line(tok, os.urandom(16).hex(), MODE_SEND)
            )
            # another address with a fresh, valid hello: not the session's client
            other, s2 = await in_thread(
                raw_hello,
                ready.port,
                hello_line(tok, os.urandom(16).hex(), MODE_SEND),
                "127.0.0.2",
            )
            s2.close()
            ok2, s3 = await in_thread(
                raw_hello, ready.port, hello_line(tok, os.urandom(16).hex(), MODE_SEND)
            )
            # the session is full (2 streams): the listener is gone
            await asyncio.sleep(0.3)
            with pytest.raises(ConnectionRefusedError):
                await in_thread(socket.create_connection, (ADDR, ready.port), 2)
            for s in (s1, s3):
                s.close()
            closed = await dst.expect(p.BandwidthClosed, "e1")
            with pytest.raises(ConnectionRefusedError):
                await in_thread(socket.create_connection, (ADDR, ready.port), 2)
        finally:
            await dst.close()
        assert ok1.startswith(b"NCBW1 OK ") and ok2.startswith(b"NCBW1 OK ")
        assert other == b""
        assert closed.connections == 2 and closed.rejected == 1

    run(main())


def test_an_endpoint_nobody_comes_to_exits_after_its_timeout() -> None:
    async def main() -> Tuple[float, p.BandwidthClosed, int]:
        dst = Peer()
        try:
            t0 = time.monotonic()
            await dst.send(listen(token(), accept_timeout_s=0.5, max_seconds=30))
            ready = await dst.expect(p.BandwidthListening, "e1")
            closed = await dst.expect(p.BandwidthClosed, "e1", timeout=10)
            took = time.monotonic() - t0
        finally:
            await dst.close()
        return took, closed, ready.port

    took, closed, port = run(main())
    assert closed.reason == "no client within 0.5 s"
    assert closed.connections == 0 and closed.bytes == 0
    assert 0.4 < took < 5
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ADDR, port), 2)


def test_the_token_never_reaches_a_log_or_a_repr(caplog: pytest.LogCaptureFixture) -> None:
    tok = token()
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        src, dst = Peer(), Peer()
        try:
            await dst.send(listen(tok))
            ready = await dst.expect(p.BandwidthListening, "e1")
            await src.send(bw_run(tok, ready.port, duration_s=0.2))
            await src.expect(p.BandwidthResult, "r1")
            await dst.expect(p.BandwidthClosed, "e1")
        finally:
            await src.close()
            await dst.close()

    run(main())
    assert caplog.records, "the agent logs its bandwidth work at INFO"
    assert all(tok not in r.getMessage() for r in caplog.records)
    assert tok not in repr(listen(tok)) and tok not in repr(bw_run(tok, 1))


# --- bounds and faults ------------------------------------------------------------------


def test_the_endpoint_bounds_a_longer_run_in_seconds_and_bytes() -> None:
    async def main() -> List[Tuple[p.BandwidthResult, p.BandwidthClosed, float]]:
        out = []
        for bound in ("max_seconds", "max_bytes"):
            src, dst = Peer(), Peer()
            tok = token()
            try:
                if bound == "max_seconds":
                    await dst.send(listen(tok, max_seconds=1.0))
                else:
                    await dst.send(listen(tok, max_bytes=20_000_000))
                ready = await dst.expect(p.BandwidthListening, "e1")
                t0 = time.monotonic()
                await src.send(bw_run(tok, ready.port, duration_s=8.0))
                result = await src.expect(p.BandwidthResult, "r1")
                took = time.monotonic() - t0
                closed = await dst.expect(p.BandwidthClosed, "e1")
            finally:
                await src.close()
                await dst.close()
            out.append((result, closed, took))
        return out

    (r1, c1, took1), (r2, c2, took2) = run(main())
    assert c1.reason == p.BW_MAX_SECONDS and took1 < 5, (c1, took1)
    assert r1.reason.startswith(p.BW_PEER_VANISHED) and r1.bytes > 0
    assert c2.reason == p.BW_MAX_BYTES and 20_000_000 <= c2.bytes < 20_000_000 + 16 * 2**20
    assert r2.reason.startswith(p.BW_PEER_VANISHED) and took2 < 7


def test_a_run_honours_its_duration_and_a_stop() -> None:
    async def main() -> Tuple[float, p.BandwidthResult]:
        src, dst = Peer(), Peer()
        tok = token()
        try:
            await dst.send(listen(tok))
            ready = await dst.expect(p.BandwidthListening, "e1")
            t0 = time.monotonic()
            await src.send(bw_run(tok, ready.port, duration_s=30))
            await asyncio.sleep(0.5)
            await src.send(p.BandwidthStop(id="r1"))
            result = await src.expect(p.BandwidthResult, "r1")
            took = time.monotonic() - t0
            await dst.expect(p.BandwidthClosed, "e1")
        finally:
            await src.close()
            await dst.close()
        return took, result

    took, result = run(main())
    assert result.reason == p.BW_STOPPED and result.bytes > 0
    assert took < 5


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
def test_a_sender_whose_peer_vanishes_reports_the_partial_figure(reverse: bool) -> None:
    """The endpoint's agent process is SIGKILLed 1.5 s into a 6 s test."""
    env = dict(os.environ, PYTHONPATH=str(AGENTS_DIR))
    proc = subprocess.Popen(
        [sys.executable, "-m", "netcheck_agent", "--max-seconds", "60"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        assert isinstance(p.decode(proc.stdout.readline()), p.Hello)
        tok = token()
        proc.stdin.write(p.encode(listen(tok, reverse=reverse)))
        proc.stdin.flush()
        ready = p.decode(proc.stdout.readline())
        assert isinstance(ready, p.BandwidthListening)

        async def main() -> Tuple[p.BandwidthResult, float]:
            src = Peer()
            try:
                t0 = time.monotonic()
                await src.send(bw_run(tok, ready.port, duration_s=6.0, reverse=reverse))
                await asyncio.sleep(1.5)
                proc.kill()
                result = await src.expect(p.BandwidthResult, "r1", timeout=30)
                return result, time.monotonic() - t0
            finally:
                await src.close()

        result, took = run(main())
    finally:
        proc.kill()
        proc.wait(10)
    assert result.reason.startswith(p.BW_PEER_VANISHED), result
    vanished_after = float(result.reason.split("after ")[1].split(" s")[0])
    assert 1.0 <= vanished_after <= 2.5
    assert result.bytes > 0 and result.mbps > 0
    assert result.seconds == pytest.approx(vanished_after, abs=0.2)
    assert took < 6, "the run did not go on for its full duration after the peer died"
    if not reverse:
        assert result.source in ("sender_acked", "sender")


def test_refused_when_nothing_listens() -> None:
    probe = socket.socket()
    probe.bind((ADDR, 0))
    port = probe.getsockname()[1]
    probe.close()  # a port nothing listens on

    async def main() -> p.BandwidthResult:
        src = Peer()
        try:
            await src.send(bw_run(token(), port))
            result: p.BandwidthResult = await src.expect(p.BandwidthResult, "r1")
            return result
        finally:
            await src.close()

    result = run(main())
    assert result.reason == p.BW_REFUSED and result.bytes == 0 and result.streams == 0


def test_a_second_listen_on_a_busy_port_is_an_error_for_that_id() -> None:
    holder = socket.socket()
    holder.bind((ADDR, 0))
    holder.listen(1)
    port = holder.getsockname()[1]

    async def main() -> Optional[p.Error]:
        dst = Peer()
        try:
            msg = p.BandwidthListen(
                id="e9", address=ADDR, port=port, token=token(), max_bytes=1, max_seconds=1
            )
            await dst.send(msg)
            return await dst.expect(p.Error, "e9")  # type: ignore[no-any-return]
        finally:
            await dst.close()

    try:
        err = run(main())
    finally:
        holder.close()
    assert err is not None and err.code == p.ERROR_LISTEN_FAILED
