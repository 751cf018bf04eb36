"""Live progress on a terminal; nothing at all when stderr is not a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from netcheck.plan import Plan
from netcheck.results import AgentInfo, CellResult, CellStatus
from netcheck.stats import judge
from netcheck.sweep import SweepObserver, SweepResult

__all__ = ["TerminalProgress"]


class TerminalProgress(SweepObserver):
    """One status line, redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.total = 0
        self.agents_wanted = 0
        self.agents_up = 0
        self.agents_down = 0
        self.done = 0
        self.failing = 0
        self._last = 0.0

    def on_start(self, plan: Plan, sweep_id: str) -> None:
        self.total = len(plan.specs)
        self._draw(force=True)

    def on_agent(self, info: AgentInfo) -> None:
        if info.available:
            self.agents_up += 1
        else:
            self.agents_down += 1
        self._draw()

    def on_result(self, result: CellResult) -> None:
        self.done += 1
        if result.status is not CellStatus.MEASURED or not judge(result).passed:
            self.failing += 1
        self._draw()

    def on_finish(self, result: SweepResult) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        down = f" ({self.agents_down} unavailable)" if self.agents_down else ""
        line = (
            f"sweeping: agents up {self.agents_up}{down} · cells {self.done}/{self.total}"
            f" · failing so far {self.failing}"
        )
        self.stream.write("\r\033[K" + line)
        self.stream.flush()
