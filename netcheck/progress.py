"""Sweep progress: a live status line on a terminal, plain log lines otherwise.

Off a terminal (CI logs, pipes) progress goes to the `netcheck.progress`
logger at INFO, so it shows with `-v` and stays silent without it: a script
reading stderr sees only warnings and errors.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from netcheck.plan import Plan
from netcheck.result.cells import AgentInfo, CellResult, CellStatus
from netcheck.result.events import SweepObserver
from netcheck.result.judge import CellJudge
from netcheck.result.model import SweepResult

__all__ = ["TerminalProgress"]

log = logging.getLogger("netcheck.progress")

LOG_EVERY_S = 2.0  # off a terminal: one "cells done" line at most this often


class TerminalProgress(SweepObserver):
    """One status line, redrawn at most 10 times a second; log lines when not on a TTY."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.logging = not self.enabled and log.isEnabledFor(logging.INFO)
        self._last_log = 0.0
        self.total = 0
        self.agents_wanted = 0
        self.agents_up = 0
        self.agents_down = 0
        self.done = 0
        self.failing = 0
        self.phase = "starting"
        self._last = 0.0
        self._judge = CellJudge()

    def on_start(self, plan: Plan, sweep_id: str) -> None:
        self.total = len(plan.specs)
        self._judge = CellJudge.for_plan(plan)  # the paths' RTT and loss limits too
        self._last_log = time.monotonic()
        if self.logging:
            log.info(
                "sweep %s of %r: %d cells from %d source hosts",
                sweep_id,
                plan.topology.name,
                self.total,
                len(plan.by_source()),
            )
        self._draw(force=True)

    def on_phase(self, phase: str) -> None:
        self.phase = phase
        if self.logging:
            log.info("phase: %s", phase)
        self._draw(force=True)

    def on_agent(self, info: AgentInfo) -> None:
        if info.available:
            self.agents_up += 1
        else:
            self.agents_down += 1
        if self.logging:
            if info.available:
                log.info("[host=%s] agent up (%s)", info.host, info.transport)
            else:
                log.info("[host=%s] agent unavailable: %s", info.host, info.reason)
        self._draw()

    def on_result(self, result: CellResult) -> None:
        self.done += 1
        if not (self.enabled or self.logging):
            return  # nothing shows the count: don't pay for judging every cell
        if result.status is not CellStatus.MEASURED or not self._judge(result).passed:
            self.failing += 1
        if self.logging:
            now = time.monotonic()
            if now - self._last_log >= LOG_EVERY_S:
                self._last_log = now
                log.info("cells %d/%d done, failing so far %d", self.done, self.total, self.failing)
        self._draw()

    def on_finish(self, result: SweepResult) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()
        if self.logging:
            log.info(
                "sweep %s done: cells %d/%d, failing %d%s",
                result.sweep_id,
                self.done,
                self.total,
                self.failing,
                " (interrupted)" if result.interrupted else "",
            )

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        down = f" ({self.agents_down} unavailable)" if self.agents_down else ""
        line = (
            f"{self.phase}: agents up {self.agents_up}{down} · cells {self.done}/{self.total}"
            f" · failing so far {self.failing}"
        )
        self.stream.write("\r\033[K" + line)
        self.stream.flush()
