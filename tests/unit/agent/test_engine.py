"""The scheduler's epoll engine with a fake machine over socketpairs (no network).

Each fake attempt waits on one end of a socketpair; the test decides when (or
whether) it becomes readable. That pins the engine's own duties: the
concurrency cap, the agent-wide limiter, pacing, deadlines, streaming, a
probe bug as data, and closing every socket on cancel.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any, Dict, List, Optional

import pytest
from netcheck_agent import engine
from netcheck_agent.probes import WANT_READ, Machine
from netcheck_agent.protocol import ProbeRequest, Result, Sample

pytestmark = pytest.mark.skipif(
    not engine.available(asyncio.new_event_loop()), reason="epoll is Linux-only"
)


class FakeAttempt:
    def __init__(self, req: ProbeRequest, sock: Optional[socket.socket], peer: Any):
        self.req = req
        self.sock = sock
        self.peer = peer
        self.fd = sock.fileno() if sock else -1
        self.want = WANT_READ
        self.sample: Optional[Sample] = None
        self.ready = False


class FakeMachine:
    """Cells named ``now*`` finish in start(); ``atonce*`` are ready when start()
    returns (a loopback handshake done inside connect()); ``ready*`` become
    readable after ``delay``; ``hang*`` never do; ``bug*`` raise in step()."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: Dict[str, List[float]] = {}
        self.open: List[socket.socket] = []
        self.cancelled = 0
        self.events: List[str] = []  # "start CELL" / "step CELL", in order

    def machine(self) -> Machine:
        return Machine(self.start, self.step, self.expire, self.cancel)

    def _end(self, att: FakeAttempt, sample: Sample) -> None:
        att.sample = sample
        self.in_flight -= 1
        for s in (att.sock, att.peer):
            if s is not None:
                s.close()

    def start(self, req: ProbeRequest) -> FakeAttempt:
        self.starts.setdefault(req.cell, []).append(time.monotonic())
        self.events.append(f"start {req.cell}")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if req.cell.startswith("now"):
            att = FakeAttempt(req, None, None)
            self._end(att, Sample("refused", t=time.time()))
            return att
        mine, peer = socket.socketpair()
        mine.setblocking(False)
        self.open += [mine, peer]
        att = FakeAttempt(req, mine, peer)
        att.ready = req.cell.startswith("atonce")
        if req.cell.startswith(("ready", "bug")):
            asyncio.get_running_loop().call_later(self.delay, peer.send, b"x")
        return att

    def step(self, att: FakeAttempt) -> bool:
        self.events.append(f"step {att.req.cell}")
        if att.req.cell.startswith("bug"):
            raise RuntimeError("probe bug")
        self._end(att, Sample("open", 1, "monotonic", t=time.time()))
        return True

    def expire(self, att: FakeAttempt) -> Sample:
        self._end(att, Sample("timeout", detail="deadline", t=time.time()))
        assert att.sample is not None
        return att.sample

    def cancel(self, att: FakeAttempt) -> None:
        self.cancelled += 1
        self._end(att, Sample("error", t=time.time()))


def reqs(prefix: str, n: int, **fields: Any) -> List[ProbeRequest]:
    return [ProbeRequest(f"{prefix}{i}", "fake", "127.0.0.1", 1, **fields) for i in range(n)]


def run(
    requests: List[ProbeRequest],
    fake: FakeMachine,
    concurrency: int = 8,
    limiter: Optional[int] = None,
) -> List[Result]:
    out: List[Result] = []

    async def main() -> int:
        sem = asyncio.Semaphore(limiter) if limiter else None
        lookup = lambda kind: fake.machine() if kind == "fake" else None  # noqa: E731
        return await engine.run_batch("b", requests, concurrency, out.append, lookup, sem)

    assert asyncio.run(asyncio.wait_for(main(), 10)) == len(out)
    return out


def test_every_cell_gets_its_samples_once() -> None:
    fake = FakeMachine()
    out = run(reqs("ready", 20, samples=2) + reqs("now", 20, samples=3), fake)
    assert sorted(r.cell for r in out) == sorted(
        [f"ready{i}" for i in range(20)] + [f"now{i}" for i in range(20)]
    )
    by = {r.cell: r for r in out}
    assert all(len(by[f"ready{i}"].samples) == 2 for i in range(20))
    assert all(s.outcome == "refused" for i in range(20) for s in by[f"now{i}"].samples)
    assert sum(len(v) for v in fake.starts.values()) == 100
    assert all(s.fileno() == -1 for s in fake.open)


@pytest.mark.parametrize("concurrency", [1, 3, 16])
def test_concurrency_cap(concurrency: int) -> None:
    fake = FakeMachine(delay=0.002)
    run(reqs("ready", 30), fake, concurrency)
    assert fake.max_in_flight == concurrency


def test_limiter_caps_below_concurrency() -> None:
    fake = FakeMachine(delay=0.002)
    run(reqs("ready", 12), fake, concurrency=16, limiter=2)
    assert fake.max_in_flight == 2


def test_deadline_expires_the_silent_and_spares_the_rest() -> None:
    fake = FakeMachine(delay=0.01)
    started = time.monotonic()
    out = run(reqs("hang", 3, timeout_ms=80) + reqs("ready", 3, timeout_ms=80), fake)
    took = time.monotonic() - started
    outcomes = {r.cell: r.samples[0].outcome for r in out}
    assert {outcomes[f"hang{i}"] for i in range(3)} == {"timeout"}
    assert {outcomes[f"ready{i}"] for i in range(3)} == {"open"}
    assert 0.075 <= took < 2.0


def test_pacing_is_start_to_start() -> None:
    fake = FakeMachine()
    run(reqs("now", 2, samples=4, interval_ms=40), fake)
    for starts in fake.starts.values():
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert all(0.038 <= g < 0.2 for g in gaps), gaps


def test_results_stream_before_the_batch_ends() -> None:
    fake = FakeMachine()
    seen: List[float] = []
    slow = ProbeRequest("slow", "fake", "127.0.0.1", 1, samples=3, interval_ms=100)
    requests = [*reqs("now", 1), slow]

    async def main() -> float:
        await engine.run_batch(
            "b", requests, 4, lambda r: seen.append(time.monotonic()), lambda k: fake.machine()
        )
        return time.monotonic()

    started = time.monotonic()
    ended = asyncio.run(main())
    assert len(seen) == 2 and seen[0] - started < 0.1 and ended - started >= 0.2


def test_a_bug_in_step_is_an_error_sample_and_the_socket_is_closed() -> None:
    fake = FakeMachine()
    out = run(reqs("bug", 2) + reqs("ready", 2), fake)
    by = {r.cell: r.samples[0] for r in out}
    assert by["bug0"].outcome == "error" and "probe bug" in by["bug0"].detail
    assert by["ready0"].outcome == "open"
    assert all(s.fileno() == -1 for s in fake.open)


def test_a_round_sends_every_connect_before_it_finishes_the_ready_ones() -> None:
    # Loopback handshakes end inside connect(): finishing them (TCP_INFO, close,
    # the result) waits until the round's other connects are out, so a silently
    # dropped cell late in the batch starts its timeout as early as it can.
    fake = FakeMachine()
    out = run(reqs("atonce", 6) + reqs("hang", 1, timeout_ms=50), fake, concurrency=100)
    assert fake.events.index("start hang0") < fake.events.index("step atonce0")
    assert {r.cell: r.samples[0].outcome for r in out} == {
        **{f"atonce{i}": "open" for i in range(6)},
        "hang0": "timeout",
    }
    assert all(s.fileno() == -1 for s in fake.open)


def test_ready_attempts_free_their_slots_without_counting_as_queued() -> None:
    fake = FakeMachine()
    stats: Dict[str, int] = {}

    async def main() -> int:
        return await engine.run_batch(
            "b", reqs("atonce", 10), 4, lambda r: None, lambda k: fake.machine(), None, stats
        )

    assert asyncio.run(asyncio.wait_for(main(), 10)) == 10
    assert fake.max_in_flight <= 4 and stats["queued"] == 0


def test_ready_attempts_give_the_shared_limiter_back_before_waiting_on_it() -> None:
    # Two slots agent-wide, six attempts ready at once: waiting for a slot while
    # our own finished connects hold both would never end.
    fake = FakeMachine()
    out = run(reqs("atonce", 6), fake, concurrency=16, limiter=2)
    assert len(out) == 6 and fake.max_in_flight == 2


def test_unknown_kind_is_an_error_per_sample() -> None:
    out = run([ProbeRequest("x", "icmp", "127.0.0.1", 1, samples=2)], FakeMachine())
    assert [s.outcome for s in out[0].samples] == ["error", "error"]
    assert "icmp" in out[0].samples[0].detail


def test_cancel_closes_every_socket_and_releases_the_limiter() -> None:
    fake = FakeMachine()
    out: List[Result] = []

    async def main() -> None:
        sem = asyncio.Semaphore(5)
        task = asyncio.get_running_loop().create_task(
            engine.run_batch(
                "b",
                reqs("hang", 10, timeout_ms=60_000),
                4,
                out.append,
                lambda k: fake.machine(),
                sem,
            )
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sem._value == 5  # every slot given back
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    asyncio.run(main())
    assert fake.cancelled == 4 and fake.in_flight == 0 and out == []
    assert all(s.fileno() == -1 for s in fake.open)
