"""One judge, built from the plan: a cell's verdict against its rule and its path's limits.

The sweep, the live progress count, the NIC report, the diagnostics and the store
all judge cells with this, so a cell is never "failing" in one place and passing in
another (the paths' RTT and loss limits included). `CellJudge.for_plan` hands every
one of them the same judge for the same plan, and a judge remembers the verdicts it
gave, so a cell is judged once per sweep however many of them ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from netcheck.plan import Plan
from netcheck.result.cells import CellResult
from netcheck.stats import CellVerdict, judge

__all__ = ["CellJudge"]

from netcheck.topology.model import PathExpect


@dataclass(frozen=True, slots=True)
class CellJudge:
    """`judge(result)` → the cell's `CellVerdict` (pure: the same result, the same verdict)."""

    expects: Mapping[str, PathExpect] = field(default_factory=dict)
    timeout_ms: int = 1500
    memo_limit: int = 10_000
    # id(result) → (result, verdict): results are frozen, so a verdict never goes stale
    _memo: dict[int, tuple[CellResult, CellVerdict]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def for_plan(cls, plan: Plan) -> CellJudge:
        global _last
        if _last is not None and _last[0] is plan:
            return _last[1]
        made = cls(
            expects={x.name: x.expect for x in plan.topology.paths},
            timeout_ms=plan.settings.timeout_ms,
            memo_limit=max(10_000, 4 * len(plan.specs)),
        )
        _last = (plan, made)
        return made

    def __call__(self, result: CellResult) -> CellVerdict:
        hit = self._memo.get(id(result))
        if hit is not None and hit[0] is result:
            return hit[1]
        path = result.spec.path
        verdict = judge(result, self.expects.get(path) if path else None, self.timeout_ms)
        if len(self._memo) >= self.memo_limit:  # `watch`: a new sweep of the same plan
            self._memo.clear()
        self._memo[id(result)] = (result, verdict)
        return verdict


_last: tuple[Plan, CellJudge] | None = None  # the plan being swept and its judge
