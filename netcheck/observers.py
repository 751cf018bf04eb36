"""Several sweep observers as one (progress display, store, `watch`'s metrics, ...)."""

from __future__ import annotations

from netcheck.plan import Plan
from netcheck.result.cells import AgentInfo, CellResult
from netcheck.result.events import SweepObserver
from netcheck.result.model import SweepResult

__all__ = ["Observers"]


class Observers(SweepObserver):
    """Calls each observer in order; `None` entries are skipped."""

    def __init__(self, *observers: SweepObserver | None) -> None:
        self.observers = tuple(o for o in observers if o is not None)

    def on_start(self, plan: Plan, sweep_id: str) -> None:
        for o in self.observers:
            o.on_start(plan, sweep_id)

    def on_phase(self, phase: str) -> None:
        for o in self.observers:
            o.on_phase(phase)

    def on_agent(self, info: AgentInfo) -> None:
        for o in self.observers:
            o.on_agent(info)

    def on_result(self, result: CellResult) -> None:
        for o in self.observers:
            o.on_result(result)

    def on_finish(self, result: SweepResult) -> None:
        for o in self.observers:
            o.on_finish(result)
