"""Continuous mode: sweep on an interval and keep the last sweep's metrics for /metrics.

The loop never overlaps itself: the next sweep starts only after the previous
one has finished. Starts are spaced by the interval with ±10 % jitter (so many
watchers don't sweep in lockstep); a sweep that took longer than its interval
is followed by a short pause (a tenth of the interval) rather than an
immediate re-sweep. A stop request (SIGINT/SIGTERM) cancels a running sweep —
which turns what it measured into a partial result — and ends the loop.

The metrics are the sweep families of `netcheck.report.prom` (the last complete
sweep, with the per-cell attempt counters summed over every sweep since the
watcher started, so `rate()` works across sweeps) plus the watcher's own
counters and the age of its last completed sweep (what the stale-sweep alert
reads); label cardinality is bounded by the topology, never by time.

/healthz is 200 while sweeps keep completing, and 503 once none has completed for
HEALTH_STALE_INTERVALS (3) intervals — since the last completed sweep, or since
the watcher started when none has yet — whether sweeps fail or one hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from netcheck.errors import NetcheckError, UsageError
from netcheck.report.openmetrics import Labels, escape_label_value, render_openmetrics
from netcheck.report.prom import sweep_metrics
from netcheck.report.prom_values import add_counts, cell_counts
from netcheck.sweep import SweepResult

__all__ = [
    "HEALTH_STALE_INTERVALS",
    "JITTER",
    "WatchState",
    "jittered",
    "next_delay",
    "parse_interval",
    "run_watch",
]

JITTER = 0.10
#: /healthz fails when no sweep completed within this many intervals.
HEALTH_STALE_INTERVALS = 3
MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 7 * 86_400.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_interval(text: str) -> float:
    """`30s`, `5m`, `1h`, `1.5s`, `500ms`, or a bare number of seconds → seconds."""
    m = _INTERVAL.match(text)
    if not m:
        raise UsageError(
            f"--interval {text!r}: expected a duration such as 30s, 5m or 1h "
            f"(units: ms, s, m, h; a bare number means seconds)"
        )
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise UsageError(
            f"--interval {text!r}: must be between {MIN_INTERVAL_S:g}s and "
            f"{MAX_INTERVAL_S / 86_400:g} days"
        )
    return seconds


def jittered(interval: float, rng: random.Random) -> float:
    """The interval scaled by a uniform factor within ±JITTER."""
    return interval * rng.uniform(1.0 - JITTER, 1.0 + JITTER)


def next_delay(interval: float, took: float, rng: random.Random) -> float:
    """Seconds to wait after a sweep that took `took` seconds, before the next one starts."""
    return max(jittered(interval, rng) - took, interval * JITTER)


@dataclass
class WatchState:
    """What /metrics and /healthz serve: the last sweep and the watcher's counters."""

    topology: str
    interval: float
    started_at: float | None = None  # default: the clock at creation
    sweeps: int = 0
    errors: int = 0
    last: SweepResult | None = None
    last_error: str = ""
    running_since: float | None = None  # the running sweep's start, if one runs
    clock: Callable[[], float] = time.time
    # per cell: (attempts, failed attempts) summed over the completed sweeps
    counts: dict[Labels, tuple[int, int]] = field(default_factory=dict)
    _cached: str | None = None

    def __post_init__(self) -> None:
        if self.started_at is None:
            self.started_at = self.clock()

    def sweep_started(self) -> None:
        self.running_since = self.clock()

    def record(self, result: SweepResult) -> None:
        self.sweeps += 1
        self.last = result
        self.counts = add_counts(self.counts, cell_counts(result))
        self.running_since = None
        self._cached = None

    def record_error(self, why: str) -> None:
        self.errors += 1
        self.last_error = why
        self.running_since = None
        self._cached = None

    @property
    def stale_after(self) -> float:
        """Seconds without a completed sweep after which the watcher is unhealthy."""
        return HEALTH_STALE_INTERVALS * self.interval

    def age(self, now: float) -> float:
        """Seconds since the last completed sweep finished (since the watcher started,
        before the first one): what /healthz and the stale-sweep alert judge."""
        since = self.last.finished_at if self.last is not None else self.started_at
        return now - (since if since is not None else now)

    def health(self) -> tuple[bool, str]:
        now = self.clock()
        age = self.age(now)
        running = (
            f"; a sweep has been running for {now - self.running_since:.0f} s"
            if self.running_since is not None
            else ""
        )
        if age > self.stale_after:
            what = (
                "no sweep completed since the watcher started"
                if self.last is None
                else f"the last sweep completed {age:.0f} s ago"
            )
            failed = f"; last error: {self.last_error}" if self.errors else ""
            return False, (
                f"stale: {what}, more than {HEALTH_STALE_INTERVALS} × the {self.interval:g} s "
                f"interval ({self.errors} failed{running}{failed})"
            )
        if self.last is None:
            return True, f"ok: waiting for the first sweep ({self.errors} failed{running})"
        verdict = "GO" if self.last.go else "NO-GO"
        return True, f"ok: {self.sweeps} sweeps, last {verdict} {age:.0f} s ago"

    def render(self) -> str:
        if self._cached is None:  # the sweep's families change only with a new sweep
            families = sweep_metrics(self.last, self.counts) if self.last is not None else []
            text = render_openmetrics(families)
            if not text.endswith("# EOF\n"):  # pragma: no cover - the renderer's contract
                raise AssertionError("render_openmetrics must end with # EOF")
            self._cached = text[: -len("# EOF\n")]
        return self._cached + self._own() + "# EOF\n"

    def _own(self) -> str:
        t = f'{{topology="{escape_label_value(self.topology)}"}}'
        return (
            "# HELP netcheck_watch_sweeps Sweeps this watcher completed since it started.\n"
            "# TYPE netcheck_watch_sweeps counter\n"
            f"netcheck_watch_sweeps_total{t} {self.sweeps}\n"
            f"netcheck_watch_sweeps_created{t} {self.started_at!r}\n"
            "# HELP netcheck_watch_sweep_errors Sweeps that ended in an error instead of a "
            "result.\n"
            "# TYPE netcheck_watch_sweep_errors counter\n"
            f"netcheck_watch_sweep_errors_total{t} {self.errors}\n"
            f"netcheck_watch_sweep_errors_created{t} {self.started_at!r}\n"
            "# HELP netcheck_watch_interval_seconds The configured interval between sweeps.\n"
            "# TYPE netcheck_watch_interval_seconds gauge\n"
            "# UNIT netcheck_watch_interval_seconds seconds\n"
            f"netcheck_watch_interval_seconds{t} {self.interval!r}\n"
            "# HELP netcheck_watch_sweep_age_seconds Seconds since the last completed sweep "
            "finished (since the watcher started, before the first one); /healthz fails "
            f"beyond {HEALTH_STALE_INTERVALS} intervals.\n"
            "# TYPE netcheck_watch_sweep_age_seconds gauge\n"
            "# UNIT netcheck_watch_sweep_age_seconds seconds\n"
            f"netcheck_watch_sweep_age_seconds{t} {max(0.0, self.age(self.clock()))!r}\n"
        )


def _line(n: int, result: SweepResult, delay: float | None) -> str:
    rows = result.verdicts()
    passed = sum(1 for _, v in rows if v.passed)
    when = dt.datetime.fromtimestamp(result.finished_at, tz=dt.timezone.utc)
    verdict = "GO" if result.go else "NO-GO"
    partial = " PARTIAL" if result.partial else ""
    nxt = f"; next in {delay:.1f} s" if delay is not None else ""
    return (
        f"{when:%Y-%m-%dT%H:%M:%SZ} sweep {n} {result.sweep_id} {verdict}{partial}: "
        f"{passed}/{len(rows)} cells pass, {len(rows) - passed} failing, "
        f"{result.finished_at - result.started_at:.1f} s{nxt}"
    )


async def run_watch(
    sweep_once: Callable[[], Awaitable[SweepResult]],
    state: WatchState,
    stop: asyncio.Event,
    *,
    count: int | None = None,
    log: Callable[[str], None],
    rng: random.Random | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> int:
    """Sweep until `stop` is set or `count` sweeps were started; returns the sweeps completed.

    `count` bounds the attempts, so a run with a sweep that keeps failing still ends.
    """
    rng = rng or random.Random()
    done = attempts = 0
    while not stop.is_set():
        t0 = monotonic()
        attempts += 1
        state.sweep_started()
        task = asyncio.ensure_future(sweep_once())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if not task.done():
            task.cancel()  # run_sweep turns the cancel into a partial result
        try:
            result = await task
        except asyncio.CancelledError:
            state.running_since = None
            log("sweep cancelled by the stop request")
            break
        except NetcheckError as exc:
            state.record_error(str(exc))
            log(f"sweep failed: {exc}")
            result = None
        except Exception as exc:  # keep watching: the next sweep may well work
            state.record_error(f"{type(exc).__name__}: {exc}")
            log(f"sweep failed (internal error): {type(exc).__name__}: {exc}")
            result = None
        took = monotonic() - t0
        if result is not None:
            if stop.is_set() and result.interrupted:
                log(f"sweep {result.sweep_id} interrupted by the stop request; not published")
                break
            done += 1
            state.record(result)
        last = count is not None and attempts >= count
        delay = None if last or stop.is_set() else next_delay(state.interval, took, rng)
        if result is not None:
            log(_line(state.sweeps, result, delay))
        if delay is None:
            break
        with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
    return done
