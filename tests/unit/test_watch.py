"""The watch loop and its metrics state, with fake sweeps (no socket, no agent).

The real thing — real sweeps, the HTTP endpoint, a real Prometheus scraping
it — is in tests/integration/watch/.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from netcheck.errors import TransportError, UsageError
from netcheck.result.model import SweepResult
from netcheck.watch import (
    HEALTH_STALE_INTERVALS,
    JITTER,
    WatchState,
    jittered,
    next_delay,
    parse_interval,
    run_watch,
)
from tests.unit.report.reportkit import make_sweep


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1.5s", 1.5), ("2500ms", 2.5), ("45", 45)],
)
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5x", "-5s", "1 day", "0s", "500ms", "8d", "30sec"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="--interval"):
        parse_interval(text)


def test_jitter_stays_within_ten_percent_and_varies() -> None:
    rng = random.Random(7)
    values = [jittered(60.0, rng) for _ in range(2000)]
    assert min(values) >= 60 * (1 - JITTER) and max(values) <= 60 * (1 + JITTER)
    assert max(values) - min(values) > 60 * JITTER  # it does spread
    # a sweep that overran its interval is followed by a short pause, never a negative one
    assert next_delay(10.0, took=30.0, rng=rng) == pytest.approx(1.0)
    assert 4.0 <= next_delay(10.0, took=5.0, rng=rng) <= 6.0


def test_state_renders_openmetrics_with_own_counters() -> None:
    state = WatchState(topology='demo"x', interval=2.0, started_at=100.0, clock=lambda: 101.0)
    text = state.render()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    assert 'netcheck_watch_sweeps_total{topology="demo\\"x"} 0' in text
    assert "netcheck_cell_up" not in text  # nothing swept yet
    assert state.health() == (True, "ok: waiting for the first sweep (0 failed)")
    state.record(make_sweep())
    state.record_error("agent exploded")
    text = state.render()
    assert text.count("# EOF") == 1 and text.endswith("# EOF\n")
    assert "netcheck_watch_sweeps_total" in text and 'topology="demo\\"x"} 1' in text
    assert 'netcheck_watch_sweep_errors_total{topology="demo\\"x"} 1' in text
    assert "netcheck_sweep_go{" in text and "netcheck_cell_up{" in text
    # one TYPE line per family name
    types = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE")]
    assert len(types) == len(set(types))


class FakeSweeps:
    """Sweeps that take `took` seconds each; records start/end to prove they never overlap."""

    def __init__(self, took: float = 0.01, fail_on: set[int] | None = None) -> None:
        self.took = took
        self.fail_on = fail_on or set()
        self.spans: list[tuple[float, float]] = []
        self.running = 0
        self.max_running = 0
        self.cancelled = 0

    async def __call__(self) -> SweepResult:
        loop = asyncio.get_running_loop()
        n = len(self.spans)
        start = loop.time()
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        interrupted = False
        try:
            await asyncio.sleep(self.took)
        except asyncio.CancelledError:
            self.cancelled += 1
            interrupted = True  # like run_sweep: the cancel becomes a partial result
        finally:
            self.running -= 1
            self.spans.append((start, loop.time()))
        if n in self.fail_on:
            raise TransportError("cs01", "simulated failure")
        return make_sweep(interrupted=interrupted)


def _run(coro: object) -> object:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def test_count_bounds_the_run_and_sweeps_never_overlap() -> None:
    fake = FakeSweeps(took=0.05)
    state = WatchState(topology="t", interval=0.3)
    lines: list[str] = []

    async def main() -> int:
        return await run_watch(
            fake, state, asyncio.Event(), count=3, log=lines.append, rng=random.Random(1)
        )

    assert _run(main()) == 3
    assert state.sweeps == 3 and fake.max_running == 1
    starts = [s for s, _ in fake.spans]
    ends = [e for _, e in fake.spans]
    for i in (1, 2):
        assert starts[i] >= ends[i - 1]  # the next starts after the previous finished
        # start to start: the interval ±10 % (plus scheduling slack on a loaded machine)
        assert 0.27 - 0.01 <= starts[i] - starts[i - 1] <= 0.33 + 0.25
    assert len(lines) == 3
    assert "sweep 1 sw-0001 NO-GO: 3/6 cells pass, 3 failing" in lines[0]
    assert "next in" in lines[0] and "next in" not in lines[2]


def test_stop_during_a_sweep_cancels_it_and_ends_the_loop() -> None:
    fake = FakeSweeps(took=30)
    state = WatchState(topology="t", interval=60.0)
    lines: list[str] = []

    async def main() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, stop.set)
        return await run_watch(fake, state, stop, log=lines.append)

    assert _run(main()) == 0
    assert fake.cancelled == 1
    assert state.sweeps == 0  # the interrupted sweep is not published as the last result
    assert any("interrupted by the stop request" in ln for ln in lines)


def test_stop_while_waiting_ends_at_once() -> None:
    fake = FakeSweeps(took=0.01)
    state = WatchState(topology="t", interval=3600.0)

    async def main() -> tuple[int, float]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, stop.set)
        t0 = loop.time()
        n = await run_watch(fake, state, stop, log=lambda _: None)
        return n, loop.time() - t0

    n, took = _run(main())  # type: ignore[misc]
    assert n == 1 and took < 5


def test_a_failing_sweep_is_counted_and_the_watch_goes_on() -> None:
    fake = FakeSweeps(took=0.01, fail_on={0})
    state = WatchState(topology="t", interval=0.2)
    lines: list[str] = []

    async def main() -> int:
        return await run_watch(fake, state, asyncio.Event(), count=2, log=lines.append)

    assert _run(main()) == 1
    assert state.errors == 1 and state.sweeps == 1
    assert lines[0] == "sweep failed: cs01: simulated failure"
    assert "netcheck_watch_sweep_errors_total{" in state.render()


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_health_fails_when_no_sweep_completed_within_three_intervals() -> None:
    clock = _Clock(1000.0)
    state = WatchState(topology="t", interval=60.0, clock=clock)
    assert state.stale_after == HEALTH_STALE_INTERVALS * 60.0 == 180.0
    state.sweep_started()
    clock.now += 180.0
    assert state.health() == (
        True,
        "ok: waiting for the first sweep (0 failed; a sweep has been running for 180 s)",
    )
    clock.now += 1.0  # the first sweep hangs: unhealthy, and the answer says why
    ok, text = state.health()
    assert not ok
    assert text == (
        "stale: no sweep completed since the watcher started, more than 3 × the 60 s "
        "interval (0 failed; a sweep has been running for 181 s)"
    )


def test_health_recovers_with_a_sweep_and_fails_again_when_they_stop() -> None:
    clock = _Clock(1000.0)
    state = WatchState(topology="t", interval=10.0, clock=clock)
    sweep = make_sweep()
    clock.now = sweep.finished_at + 5
    state.record(sweep)
    ok, text = state.health()
    assert ok and text.startswith("ok: 1 sweeps, last NO-GO 5 s ago")
    state.record_error("agent exploded")  # failing sweeps complete nothing
    clock.now = sweep.finished_at + 31
    ok, text = state.health()
    assert not ok
    assert text.startswith("stale: the last sweep completed 31 s ago, more than 3 × the 10 s")
    assert "last error: agent exploded" in text


def test_a_hanging_sweep_turns_healthz_503_over_real_http() -> None:
    from netcheck.metrics_http import ListenAddress, MetricsServer

    async def main() -> tuple[bytes, bytes]:
        state = WatchState(topology="t", interval=0.2)  # stale after 0.6 s
        server = MetricsServer(ListenAddress("127.0.0.1", 0), state.render, state.health)
        addr = await server.start()
        stop = asyncio.Event()

        async def hangs() -> SweepResult:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def healthz() -> bytes:
            reader, writer = await asyncio.open_connection(addr.host, addr.port)
            writer.write(b"GET /healthz HTTP/1.1\r\n\r\n")
            data = await reader.read()
            writer.close()
            return data

        watcher = asyncio.ensure_future(run_watch(hangs, state, stop, log=lambda _: None))
        try:
            early = await healthz()
            await asyncio.sleep(0.8)
            late = await healthz()
        finally:
            stop.set()
            await watcher
            await server.close()
        return early, late

    early, late = _run(main())  # type: ignore[misc]
    assert early.startswith(b"HTTP/1.1 200 ")
    assert late.startswith(b"HTTP/1.1 503 ")
    assert b"stale: no sweep completed since the watcher started" in late
    assert b"a sweep has been running for" in late


def test_watch_counters_accumulate_across_sweeps_and_the_age_is_served() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    clock = _Clock(1000.0)
    state = WatchState(topology="report-demo", interval=10.0, started_at=1000.0, clock=clock)

    def scrape() -> dict[str, dict[tuple[str, str, str], float]]:
        out: dict[str, dict[tuple[str, str, str], float]] = {}
        for fam in text_string_to_metric_families(state.render()):
            for s in fam.samples:
                key = (
                    s.labels.get("source", ""),
                    s.labels.get("dest", ""),
                    s.labels.get("port", ""),
                )
                out.setdefault(s.name, {})[key] = s.value
        return out

    clock.now = 1025.0
    assert scrape()["netcheck_watch_sweep_age_seconds"] == {("", "", ""): 25.0}  # none yet
    sweep = make_sweep()  # ps-azure → mt01:9443 refused, 3 attempts
    state.record(sweep)
    state.record(sweep)
    clock.now = sweep.finished_at + 7.5
    got = scrape()
    assert got["netcheck_cell_failures_total"][("ps-azure", "mt01", "9443")] == 6
    assert got["netcheck_cell_attempts_total"][("vm1", "cs01", "10443")] == 6
    assert got["netcheck_watch_sweep_age_seconds"] == {("", "", ""): 7.5}
    clock.now += 2.5  # the age is read at each scrape, not cached with the sweep's families
    assert scrape()["netcheck_watch_sweep_age_seconds"] == {("", "", ""): 10.0}
