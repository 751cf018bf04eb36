"""One judge, built from the plan: a cell's verdict against its rule and its path's limits.

The sweep, the live progress count, the NIC report, the diagnostics and the store
all judge cells with this, so a cell is never "failing" in one place and passing in
another (the paths' RTT and loss limits included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netcheck.plan import Plan
from netcheck.result.cells import CellResult
from netcheck.stats import CellVerdict, judge
from netcheck.topology.model import PathExpect

__all__ = ["CellJudge"]


@dataclass(frozen=True, slots=True)
class CellJudge:
    """`judge(result)` → the cell's `CellVerdict` (pure)."""

    expects: Mapping[str, PathExpect] = field(default_factory=dict)
    timeout_ms: int = 1500

    @classmethod
    def for_plan(cls, plan: Plan) -> CellJudge:
        return cls(
            expects={x.name: x.expect for x in plan.topology.paths},
            timeout_ms=plan.settings.timeout_ms,
        )

    def __call__(self, result: CellResult) -> CellVerdict:
        path = result.spec.path
        return judge(result, self.expects.get(path) if path else None, self.timeout_ms)
