"""How long an agent may take: the deadlines of a sweep, computed in one place.

Like blackbox_exporter's per-request context deadline, every wait on an agent
reads its limit from here instead of carrying a number of its own. A probe
batch's limit comes from the plan: the cells still to measure, their samples,
interval and per-attempt timeout, and the agent's concurrency. An agent that
misses it is *lost* (its finished cells are kept), never waited on forever.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from netcheck_agent import protocol as p

__all__ = [
    "AGENT_START_S",
    "HELLO_TIMEOUT_S",
    "MARGIN_S",
    "MARGIN_SHARE",
    "SEND_TIMEOUT_S",
    "Budget",
    "ProbeLoad",
    "StartPace",
]

#: Fixed part of every margin: an SSH round trip, a busy event loop, a slow host.
MARGIN_S = 5.0
#: Proportional part of the margin (the agent's own scheduling is not exact).
MARGIN_SHARE = 0.25
#: An agent that does not read what we send for this long is lost (its channel is full).
SEND_TIMEOUT_S = 30.0
#: Starting an agent: SSH login, the zipapp upload (once per version), the process start.
#: Not from the plan (it does not depend on it); the hello has its own limit after it.
AGENT_START_S = 120.0
#: From a started agent process to its hello (Python start, capability detection), with
#: no other agent of the sweep getting further meanwhile (see `StartPace`).
HELLO_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class Budget:
    """A time limit and how it was derived, for the message when it is missed."""

    seconds: float
    why: str

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError(f"a budget must be positive, got {self.seconds!r}")


@dataclass(frozen=True, slots=True)
class ProbeLoad:
    """What one probe batch asks of an agent: enough to bound how long it may take."""

    cells: int
    samples: int
    interval_ms: int
    timeout_ms: int  # the longest attempt timeout in the batch
    concurrency: int  # attempts in flight on the agent

    def __post_init__(self) -> None:
        if self.cells < 0 or self.samples < 1 or self.concurrency < 1:
            raise ValueError(f"not a probe load: {self!r}")
        if self.interval_ms < 0 or self.timeout_ms < 0:
            raise ValueError(f"not a probe load: {self!r}")

    @classmethod
    def of(cls, requests: Sequence[p.ProbeRequest], concurrency: int) -> ProbeLoad:
        """The load of a batch: the worst cell's settings apply to every cell."""
        return cls(
            cells=len(requests),
            samples=max((r.samples for r in requests), default=1),
            interval_ms=max((r.interval_ms for r in requests), default=0),
            timeout_ms=max((r.timeout_ms for r in requests), default=0),
            concurrency=concurrency,
        )

    def with_cells(self, cells: int) -> ProbeLoad:
        return ProbeLoad(cells, self.samples, self.interval_ms, self.timeout_ms, self.concurrency)

    def seconds(self, margin_s: float = MARGIN_S) -> float:
        """`budget(margin_s).seconds`, without the words: asked again after every result."""
        step = max(self.interval_ms, self.timeout_ms)
        waves = max(1, -(-self.cells // self.concurrency))  # ceil, in integers
        work_s = waves * (self.samples * step + self.timeout_ms) / 1000
        return work_s + margin_s + MARGIN_SHARE * work_s

    def budget(self, margin_s: float = MARGIN_S) -> Budget:
        """The longest the agent may take to finish these cells, with a margin.

        One cell takes at most `samples` attempts spaced by the interval, or by the
        timeout when attempts run out their timeout, then the last attempt's timeout:
        samples × max(interval, timeout) + timeout. The agent runs `concurrency`
        attempts at once, so more cells than that take that long once per wave.
        The bound is loose on purpose: it exists to end a wait on a frozen agent,
        not to judge a slow one. `margin_s` is the fixed part of the margin.
        """
        step = max(self.interval_ms, self.timeout_ms)
        cell_ms = self.samples * step + self.timeout_ms
        waves = max(1, math.ceil(self.cells / self.concurrency))
        work_s = waves * cell_ms / 1000
        margin = margin_s + MARGIN_SHARE * work_s
        each = f"{self.samples} samples × {step} ms + {self.timeout_ms} ms timeout"
        if waves > 1:
            each = f"{waves} waves of {self.concurrency} cells × ({each})"
        return Budget(work_s + margin, f"{each} + {margin:.0f} s margin")


class StartPace:
    """When a sweep gives up on an agent that has not said hello: per host, fleet-aware.

    A fixed hello limit turns load into a verdict: sixty agents starting at once on
    a loaded machine (or behind one busy coordinator) each take longer than one
    alone, and the last ones missed 20 s though nothing was wrong. So a host's limit
    is counted from its own start, and stretched while the fleet makes progress:

    - the agent must say hello within `quiet_s` of its process start, or of the last
      time any agent of the sweep got further (logged in, started, said hello),
      whichever is later: a fleet still coming up is load, not a dead host;
    - and never later than `cap_s` after this host's SSH connect began, so a dead
      agent in a busy fleet still fails in bounded time.

    Alone (or after every other agent is up) a silent agent fails after `quiet_s`,
    as before. The state is only the time of the last progress; the caller passes
    the clock's readings (one monotonic clock), so this class stays pure.
    """

    __slots__ = ("cap_s", "last_progress", "quiet_s")

    def __init__(self, quiet_s: float = HELLO_TIMEOUT_S, cap_s: float = AGENT_START_S) -> None:
        if not (quiet_s > 0 and cap_s >= quiet_s):
            raise ValueError(f"need 0 < quiet_s <= cap_s, got {quiet_s!r}, {cap_s!r}")
        self.quiet_s = quiet_s
        self.cap_s = cap_s
        self.last_progress = -math.inf

    def progress(self, now: float) -> None:
        """An agent of the sweep got further at `now`."""
        self.last_progress = max(self.last_progress, now)

    def hello_deadline(self, began: float, spawned: float) -> float:
        """When to give up on the hello of an agent whose connect began at `began` and
        whose process started at `spawned`."""
        quiet_end = max(spawned, self.last_progress) + self.quiet_s
        return min(began + self.cap_s, quiet_end)

    def explain(self, began: float, spawned: float, now: float) -> str:
        """Why the agent is given up at `now`, for the host's reason."""
        waited = now - spawned
        if now - began >= self.cap_s and began < spawned:
            return (
                f"the agent did not say hello within {self.cap_s:g} s of the SSH connect "
                f"({waited:.0f} s after it started)"
            )
        if self.last_progress <= spawned:
            return f"the agent did not say hello within {self.quiet_s:g} s"
        return (
            f"the agent did not say hello within {waited:.0f} s of its start (no agent "
            f"of the sweep got further in the last {self.quiet_s:g} s)"
        )
