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
#: From a started agent process to its hello (Python start, capability detection).
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
