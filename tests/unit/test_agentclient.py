"""The coordinator's side of an agent: every wait ends, a misbehaving agent is *lost*.

Fake agents on an in-memory channel (the real channel type the local transport
uses): one that goes quiet mid-batch, one that talks but sends no results, one
that never reads, one that streams without newlines. The SSH and real-process
versions are in tests/faults/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from netcheck_agent import protocol as p
from netcheck_agent.channels import QueueChannel, memory_channel_pair

from netcheck.agentclient import AgentClient
from netcheck.errors import AgentLost
from netcheck.transports.lines import LineReader

HELLO = p.Hello(p.PROTOCOL_VERSION, "test", "fake", 1, "3.11", "linux", {})
MARGIN = 0.3  # the fixed part of the deadline margin, short for tests

FakeAgent = Callable[[QueueChannel], Awaitable[None]]


def _requests(n: int) -> list[p.ProbeRequest]:
    return [
        p.ProbeRequest(
            f"c{i}", "tcp_connect", "127.0.0.1", 9, samples=2, interval_ms=10, timeout_ms=20
        )
        for i in range(n)
    ]


async def _batch_of(agent: QueueChannel) -> p.ProbeBatch:
    while True:
        line = await agent.receive()
        assert line is not None
        msg = p.decode(line)
        if isinstance(msg, p.ProbeBatch):
            return msg


def _result(batch: str, cell: str) -> p.Result:
    return p.Result(batch, cell, (p.Sample("open", rtt_us=10),))


async def _run(fake: FakeAgent, cells: int = 3) -> tuple[list[str], AgentLost | None, AgentClient]:
    agent, mine = memory_channel_pair()
    await agent.send(p.encode(HELLO))
    task = asyncio.ensure_future(fake(agent))
    client = await AgentClient.connect("mt01", mine, margin_s=MARGIN)
    got: list[str] = []
    lost = None
    try:
        async for res in client.run_batch(_requests(cells), concurrency=8):
            got.append(res.cell)
    except AgentLost as exc:
        lost = exc
    await client.close()
    task.cancel()
    return got, lost, client


def test_an_agent_that_answers_ends_the_batch_normally() -> None:
    async def good(agent: QueueChannel) -> None:
        b = await _batch_of(agent)
        for r in b.probes:
            await agent.send(p.encode(_result(b.batch, r.cell)))
        await agent.send(p.encode(p.BatchDone(b.batch, len(b.probes))))
        await asyncio.sleep(3600)

    got, lost, client = asyncio.run(_run(good))
    assert got == ["c0", "c1", "c2"] and lost is None and client.lost is None


def test_an_agent_that_goes_quiet_mid_batch_is_lost_by_the_deadline() -> None:
    async def quiet(agent: QueueChannel) -> None:
        b = await _batch_of(agent)
        await agent.send(p.encode(_result(b.batch, "c0")))
        await asyncio.sleep(3600)  # keeps the channel open, says nothing

    t0 = time.monotonic()
    got, lost, client = asyncio.run(_run(quiet))
    took = time.monotonic() - t0
    assert got == ["c0"]  # the finished cell is kept
    assert lost is not None and client.lost is not None
    # the deadline: 2 cells left, one wave of 2 samples × 20 ms + 20 ms + margin
    assert 0.3 < took < 3.0
    assert lost.reason.startswith("sent nothing for 0.")
    assert "(deadline 0.4 s, from 2 samples × 20 ms + 20 ms timeout + 0 s margin)" in lost.reason
    assert "frozen" in lost.reason


def test_an_agent_that_talks_but_sends_no_result_is_lost_too() -> None:
    async def chatty(agent: QueueChannel) -> None:
        await _batch_of(agent)
        for _ in range(400):  # lines, but never this batch's results
            await agent.send(b'{"type": "nonsense"}\n')
            await asyncio.sleep(0.01)

    got, lost, _ = asyncio.run(_run(chatty))
    assert got == [] and lost is not None
    assert lost.reason.startswith("sent no probe result for ")
    assert "(its last line 0.0 s ago)" in lost.reason


def test_a_missed_deadline_marks_the_agent_lost_for_every_later_request() -> None:
    async def quiet(agent: QueueChannel) -> None:
        await asyncio.sleep(3600)

    async def go() -> None:
        agent, mine = memory_channel_pair()
        await agent.send(p.encode(HELLO))
        client = await AgentClient.connect("mt01", mine, margin_s=MARGIN)
        with pytest.raises(AgentLost):
            async for _ in client.run_batch(_requests(1), 1):
                pass
        t0 = time.monotonic()
        with pytest.raises(AgentLost, match="sent nothing"):
            await client.facts(None)  # no 40 s wait: the agent is already lost
        assert time.monotonic() - t0 < 0.5
        await client.close()

    asyncio.run(go())


class _NeverReads:
    """A channel whose peer stopped reading: every send blocks (a full SSH window)."""

    def __init__(self) -> None:
        self._lines: asyncio.Queue[bytes] = asyncio.Queue()
        self._lines.put_nowait(p.encode(HELLO))

    async def send(self, line: bytes) -> None:
        await asyncio.sleep(3600)

    async def receive(self) -> bytes | None:
        return await self._lines.get()

    async def close(self) -> None:
        pass


def test_a_request_to_an_agent_that_never_reads_ends_within_its_timeout() -> None:
    async def go() -> AgentLost:
        client = await AgentClient.connect("mt01", _NeverReads(), margin_s=MARGIN)
        with pytest.raises(AgentLost) as info:
            await client.facts(None, timeout=0.2)
        await client.close()
        return info.value

    t0 = time.monotonic()
    lost = asyncio.run(go())
    assert time.monotonic() - t0 < 5
    assert lost.reason.startswith("it did not read the facts_request message within 0.2 s")
    assert "its channel is full" in lost.reason


class _Stream:
    """A channel over a byte stream read through the bounded LineReader (as SSH is)."""

    def __init__(self, chunks: asyncio.Queue[bytes]) -> None:
        self._chunks = chunks
        self._lines = LineReader(self._read, max_line=4096)

    async def _read(self, n: int) -> bytes:
        return await self._chunks.get()

    async def send(self, line: bytes) -> None:
        pass

    async def receive(self) -> bytes | None:
        return await self._lines.next()

    async def close(self) -> None:
        pass


def test_a_stream_without_newlines_is_a_protocol_failure_not_a_hang() -> None:
    async def go() -> AgentLost:
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        chunks.put_nowait(p.encode(HELLO))
        client = await AgentClient.connect("mt01", _Stream(chunks), margin_s=30.0)
        for _ in range(100):
            chunks.put_nowait(b"x" * 1000)
        with pytest.raises(AgentLost) as info:
            async for _ in client.run_batch(_requests(2), 2):
                pass
        await client.close()
        return info.value

    t0 = time.monotonic()
    lost = asyncio.run(go())
    assert time.monotonic() - t0 < 5  # long before the 30 s margin
    assert lost.reason.startswith("protocol failure: the agent sent more than 4 KiB without")
