"""The scheduler with fake probes: concurrency cap, pacing, streaming, cancel safety."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Optional

import pytest
from netcheck_agent.protocol import ProbeRequest, Result, Sample
from netcheck_agent.scheduler import run_batch


def reqs(n: int, samples: int = 1, interval_ms: int = 0, kind: str = "fake") -> List[ProbeRequest]:
    return [
        ProbeRequest(f"c{i}", kind, "127.0.0.1", 1, samples=samples, interval_ms=interval_ms)
        for i in range(n)
    ]


class FakeProbe:
    """Records concurrency and start times; takes ``delay`` seconds per attempt."""

    def __init__(self, delay: float = 0.0, fail_on: Optional[str] = None):
        self.delay = delay
        self.fail_on = fail_on
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: Dict[str, List[float]] = {}
        self.cancelled = 0
        self.finished = 0

    async def __call__(self, req: ProbeRequest, ops: Any) -> Sample:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.starts.setdefault(req.cell, []).append(time.monotonic())
        try:
            if req.cell == self.fail_on:
                raise RuntimeError("probe bug")
            await asyncio.sleep(self.delay)
            return Sample("open", 1, "monotonic", t=time.time())
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.in_flight -= 1
            self.finished += 1


def go(requests: List[ProbeRequest], concurrency: int, probe: FakeProbe, **kw: Any) -> List[Result]:
    out: List[Result] = []

    async def main() -> int:
        return await run_batch(
            "b",
            requests,
            concurrency,
            out.append,
            lookup=lambda k: probe if k == "fake" else None,
            **kw,
        )

    assert asyncio.run(main()) == len(out)
    return out


def test_every_cell_gets_exactly_its_samples_and_one_result() -> None:
    probe = FakeProbe()
    out = go(reqs(50, samples=3), 8, probe)
    assert sorted(r.cell for r in out) == sorted(f"c{i}" for i in range(50))
    assert all(len(r.samples) == 3 and r.batch == "b" for r in out)
    assert sum(len(v) for v in probe.starts.values()) == 150  # bounded: sum(samples)


@pytest.mark.parametrize("concurrency", [1, 3, 16])
def test_concurrency_is_never_exceeded(concurrency: int) -> None:
    probe = FakeProbe(delay=0.002)
    go(reqs(40, samples=2), concurrency, probe)
    assert probe.max_in_flight == concurrency


def test_agent_wide_limiter_caps_across_the_batch() -> None:
    probe = FakeProbe(delay=0.002)
    out: List[Result] = []

    async def main() -> None:
        limiter = asyncio.Semaphore(2)
        await run_batch("b", reqs(20), 16, out.append, lookup=lambda k: probe, limiter=limiter)

    asyncio.run(main())
    assert probe.max_in_flight == 2 and len(out) == 20


def test_interval_spaces_attempts_start_to_start() -> None:
    probe = FakeProbe()
    go(reqs(3, samples=4, interval_ms=40), 8, probe)
    for starts in probe.starts.values():
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert all(g >= 0.038 for g in gaps), gaps
        assert all(g < 0.2 for g in gaps), gaps


def test_sleeping_cells_do_not_hold_a_concurrency_slot() -> None:
    # 4 cells x 3 samples, 100 ms apart, concurrency 1: if a waiting cell held
    # the slot this would take 4 x 200 ms; interleaved it takes ~200 ms.
    probe = FakeProbe()
    started = time.monotonic()
    go(reqs(4, samples=3, interval_ms=100), 1, probe)
    assert time.monotonic() - started < 0.5


def test_results_stream_before_the_batch_ends() -> None:
    probe = FakeProbe()
    seen: List[float] = []
    requests = [
        *reqs(1, samples=1),
        ProbeRequest("slow", "fake", "127.0.0.1", 1, samples=3, interval_ms=100),
    ]

    async def main() -> float:
        await run_batch(
            "b", requests, 4, lambda r: seen.append(time.monotonic()), lookup=lambda k: probe
        )
        return time.monotonic()

    started = time.monotonic()
    ended = asyncio.run(main())
    assert len(seen) == 2
    assert seen[0] - started < 0.1 and ended - started >= 0.2


def test_unknown_kind_is_reported_per_cell() -> None:
    out = go(reqs(2, samples=2, kind="icmp"), 4, FakeProbe())
    assert all(len(r.samples) == 2 for r in out)
    assert all(s.outcome == "error" and "icmp" in s.detail for r in out for s in r.samples)


def test_a_probe_that_raises_becomes_an_error_sample() -> None:
    out = go(reqs(3), 2, FakeProbe(fail_on="c1"))
    by_cell = {r.cell: r.samples[0] for r in out}
    assert by_cell["c1"].outcome == "error" and "probe bug" in by_cell["c1"].detail
    assert by_cell["c0"].outcome == by_cell["c2"].outcome == "open"


def test_empty_batch() -> None:
    assert go([], 4, FakeProbe()) == []


def test_cancel_stops_in_flight_attempts_and_leaves_nothing_behind() -> None:
    probe = FakeProbe(delay=10)
    out: List[Result] = []

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(
            run_batch(
                "b", reqs(10, samples=5, interval_ms=50), 4, out.append, lookup=lambda k: probe
            )
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []

    asyncio.run(main())
    assert probe.cancelled == 4 and probe.in_flight == 0 and out == []
