"""The hooks a sweep calls while it runs: progress displays, the store, `watch`'s metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netcheck.plan import Plan
from netcheck.result.cells import AgentInfo, CellResult

if TYPE_CHECKING:  # the model imports the verdict code; observers only need its type
    from netcheck.result.model import SweepResult

__all__ = ["SweepObserver"]


class SweepObserver:
    """Every method is optional."""

    def on_start(self, plan: Plan, sweep_id: str) -> None:
        pass

    def on_phase(self, phase: str) -> None:
        """A phase begins: agents, responders, facts, probes, nic, diagnostics, bandwidth,
        teardown."""

    def on_agent(self, info: AgentInfo) -> None:
        pass

    def on_result(self, result: CellResult) -> None:
        pass

    def on_finish(self, result: SweepResult) -> None:
        pass
