"""What changed between two sweeps: pure, over two `SweepResult`s (live or stored).

Cells are matched by `cell_id` (source host/NIC > destination host/NIC :
proto/port), so a renamed NIC or a moved port shows as one vanished and one
new cell. "Worse" means a cell that passed in A and fails in B, or a cell new
in B that fails: either is something to look at before a failback. RTT shifts
beyond the threshold are reported both ways but do not make the diff worse by
themselves (a cell that crossed its path's RTT budget fails, and counts there).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netcheck.errors import UsageError
from netcheck.result.cells import CellResult
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict

__all__ = ["CellChange", "Change", "HostChange", "SweepDiff", "diff_sweeps"]


class Change(enum.Enum):
    REGRESSED = "regressed"  # passed in A, fails in B
    FIXED = "fixed"  # failed in A, passes in B
    VERDICT = "verdict"  # another verdict, same pass/fail (e.g. refused → filtered)
    RTT_UP = "rtt-up"  # median RTT grew by more than the threshold
    RTT_DOWN = "rtt-down"
    NEW = "new"  # only in B
    VANISHED = "vanished"  # only in A


@dataclass(frozen=True, slots=True)
class CellSide:
    verdict: str
    passed: bool
    rtt_p50_ms: float | None
    loss_pct: float
    reason: str


@dataclass(frozen=True, slots=True)
class CellChange:
    cell_id: str
    change: Change
    source_host: str
    dest_host: str
    proto: str
    port: int
    rule_id: str
    a: CellSide | None
    b: CellSide | None

    @property
    def worse(self) -> bool:
        if self.change is Change.REGRESSED:
            return True
        return self.change is Change.NEW and self.b is not None and not self.b.passed

    @property
    def rtt_delta_ms(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        if self.a.rtt_p50_ms is None or self.b.rtt_p50_ms is None:
            return None
        return self.b.rtt_p50_ms - self.a.rtt_p50_ms


@dataclass(frozen=True, slots=True)
class HostChange:
    host: str
    change: Change  # NEW or VANISHED


@dataclass(frozen=True, slots=True)
class SweepDiff:
    a_id: str
    b_id: str
    a_topology: str
    b_topology: str
    a_go: bool
    b_go: bool
    rtt_threshold_ms: float
    cells: tuple[CellChange, ...]  # changed cells only, in B's plan order then A's
    hosts: tuple[HostChange, ...]
    unchanged: int

    @property
    def worse(self) -> bool:
        return any(c.worse for c in self.cells)

    def of(self, change: Change) -> list[CellChange]:
        return [c for c in self.cells if c.change is change]


def _side(v: CellVerdict) -> CellSide:
    return CellSide(
        verdict=v.verdict.value,
        passed=v.passed,
        rtt_p50_ms=v.stats.rtt.p50 if v.stats.rtt else None,
        loss_pct=v.stats.loss_pct,
        reason=v.reason,
    )


def _change(r: CellResult, change: Change, a: CellSide | None, b: CellSide | None) -> CellChange:
    s = r.spec
    return CellChange(
        cell_id=s.cell_id,
        change=change,
        source_host=s.source_host,
        dest_host=s.dest_host,
        proto=s.proto,
        port=s.port,
        rule_id=s.rule_id,
        a=a,
        b=b,
    )


def _hosts(sweep: SweepResult) -> list[str]:
    names: dict[str, None] = {}
    for r in sweep.results:
        names.setdefault(r.spec.source_host)
        names.setdefault(r.spec.dest_host)
    return list(names)


def _scope(sweep: SweepResult) -> str:
    limit = sweep.plan.limit
    return "complete" if limit is None else f"limited to {limit.pattern!r}"


def _same_limit(a: SweepResult, b: SweepResult) -> None:
    """A limited sweep is never compared as if it were complete: every cell outside
    the limit would show as vanished (or new), which says nothing about the network."""
    la, lb = a.plan.limit, b.plan.limit
    if (la and la.pattern) != (lb and lb.pattern):
        raise UsageError(
            f"sweep {a.sweep_id} is {_scope(a)} and sweep {b.sweep_id} is {_scope(b)} "
            "(--limit): their cells can't be compared one for one; diff two sweeps "
            "run with the same --limit (or none)"
        )


def diff_sweeps(a: SweepResult, b: SweepResult, rtt_threshold_ms: float = 5.0) -> SweepDiff:
    """Cells of B against the same cells of A."""
    if rtt_threshold_ms < 0:
        raise ValueError(f"rtt threshold {rtt_threshold_ms} is negative")
    _same_limit(a, b)
    va = {r.spec.cell_id: (r, v) for r, v in a.verdicts()}
    vb = b.verdicts()
    in_b = {r.spec.cell_id for r, _ in vb}
    changes: list[CellChange] = []
    unchanged = 0
    for r, v in vb:
        side_b = _side(v)
        old = va.get(r.spec.cell_id)
        if old is None:
            changes.append(_change(r, Change.NEW, None, side_b))
            continue
        side_a = _side(old[1])
        if side_a.passed and not side_b.passed:
            changes.append(_change(r, Change.REGRESSED, side_a, side_b))
        elif side_b.passed and not side_a.passed:
            changes.append(_change(r, Change.FIXED, side_a, side_b))
        elif side_a.verdict != side_b.verdict:
            changes.append(_change(r, Change.VERDICT, side_a, side_b))
        elif (
            side_a.rtt_p50_ms is not None
            and side_b.rtt_p50_ms is not None
            and abs(side_b.rtt_p50_ms - side_a.rtt_p50_ms) > rtt_threshold_ms
        ):
            up = side_b.rtt_p50_ms > side_a.rtt_p50_ms
            changes.append(_change(r, Change.RTT_UP if up else Change.RTT_DOWN, side_a, side_b))
        else:
            unchanged += 1
    for cell_id, (r, v) in va.items():
        if cell_id not in in_b:
            changes.append(_change(r, Change.VANISHED, _side(v), None))
    hosts_a, hosts_b = _hosts(a), _hosts(b)
    seen_a, seen_b = set(hosts_a), set(hosts_b)
    hosts = [HostChange(h, Change.NEW) for h in hosts_b if h not in seen_a]
    hosts += [HostChange(h, Change.VANISHED) for h in hosts_a if h not in seen_b]
    return SweepDiff(
        a_id=a.sweep_id,
        b_id=b.sweep_id,
        a_topology=a.plan.topology.name,
        b_topology=b.plan.topology.name,
        a_go=a.go,
        b_go=b.go,
        rtt_threshold_ms=rtt_threshold_ms,
        cells=tuple(changes),
        hosts=tuple(hosts),
        unchanged=unchanged,
    )
