"""`SweepResult`: everything one sweep found, as one frozen value.

Connectivity cells (and the application facts their probes read), path
diagnostics, bandwidth tests, dual-NIC reports and failback readiness findings
are parts of this one result. The runner builds it, the store keeps it whole
(`netcheck.result.codec`), and every report renders it through the same
findings (`netcheck.result.findings`), so the verdict never depends on the
format it is read in, or on whether the sweep is live or stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from netcheck.azure.nsg.compare import NsgFinding
from netcheck.bandwidth.model import BandwidthOutcome
from netcheck.bandwidth.verdict import BandwidthVerdict, judge_bandwidth
from netcheck.diagnose.model import Diagnostics
from netcheck.nic.model import HostNicReport
from netcheck.plan import Plan
from netcheck.readiness.model import ReadinessResult
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, ProbeQueuing
from netcheck.result.findings import Finding, failing, is_go, sweep_findings
from netcheck.result.judge import CellJudge
from netcheck.stats import CellVerdict

__all__ = ["ResponderInfo", "SweepResult"]


@dataclass(frozen=True, slots=True)
class ResponderInfo:
    """What listened on a destination port during the sweep."""

    host: str
    address: str
    port: int
    # "responder" | "service" (real service holds the port) | "other_sweep" (a responder of
    # another netcheck sweep holds it: not a real service, nothing proven) | "none"
    state: str
    detail: str = ""


@dataclass(frozen=True, slots=True, repr=False)
class SweepResult:
    sweep_id: str
    plan: Plan
    results: tuple[CellResult, ...]  # in plan order
    agents: tuple[AgentInfo, ...]
    responders: tuple[ResponderInfo, ...]
    started_at: float
    finished_at: float
    interrupted: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # wall seconds per sweep phase
    bandwidth: tuple[BandwidthOutcome, ...] = ()  # the topology's bandwidth tests, in order
    readiness: ReadinessResult | None = None  # failback prerequisites, when checked
    diagnostics: Diagnostics | None = None  # traces of failing cells, path checks (when run)
    nics: tuple[HostNicReport, ...] = ()  # dual-NIC checks, one per multi-NIC host
    # each Azure cell's NSG prediction against its measured verdict (with an NSG export)
    nsg: tuple[NsgFinding, ...] = ()
    # agents whose probe attempts queued behind their in-flight limit (none: no queuing)
    queuing: tuple[ProbeQueuing, ...] = ()
    _verdicts: list[tuple[CellResult, CellVerdict]] | None = field(
        default=None, init=False, compare=False, repr=False
    )
    _findings: tuple[Finding, ...] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    @property
    def partial(self) -> bool:
        return self.interrupted or any(r.status is CellStatus.NOT_RUN for r in self.results)

    def judge(self) -> CellJudge:
        return CellJudge.for_plan(self.plan)

    def verdicts(self) -> list[tuple[CellResult, CellVerdict]]:
        """Each cell judged against its rule and path (computed once: results are frozen)."""
        if self._verdicts is None:
            judge = self.judge()
            judged = [(r, judge(r)) for r in self.results]
            if self.diagnostics is not None and self.diagnostics.cells:
                judged = _with_diagnosis(judged, self.diagnostics)
            object.__setattr__(self, "_verdicts", judged)
        return list(self._verdicts or ())

    def findings(self) -> tuple[Finding, ...]:
        """Every check of the sweep as one `Finding` (computed once)."""
        if self._findings is None:
            object.__setattr__(self, "_findings", sweep_findings(self))
        return self._findings or ()

    def failing(self) -> tuple[Finding, ...]:
        return failing(self.findings())

    @property
    def go(self) -> bool:
        """GO: no failing finding, of any kind, and the sweep is not partial."""
        return is_go(self.findings(), partial=self.partial)

    @property
    def verdict_word(self) -> str:
        return "GO" if self.go else "NO-GO"

    def bandwidth_verdicts(self) -> list[tuple[BandwidthOutcome, BandwidthVerdict]]:
        return [(b, judge_bandwidth(b, self.plan.topology)) for b in self.bandwidth]

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run (3.11's Runner) reprs its main task, and so
        # this result, when it restores the SIGINT handler; the field-by-field repr
        # of a 5,000-cell sweep took ~0.4 s.
        return (
            f"SweepResult(sweep_id={self.sweep_id!r}, cells={len(self.results)}, "
            f"agents={len(self.agents)}, interrupted={self.interrupted})"
        )


def _with_diagnosis(
    judged: list[tuple[CellResult, CellVerdict]], diagnostics: Diagnostics
) -> list[tuple[CellResult, CellVerdict]]:
    """An unreachable cell's reason names the ICMP answer its trace got, and from whom.

    A connect fails with EHOSTUNREACH for admin-prohibited and host-unreachable
    alike; the trace (raw or error-queue) tells them apart.
    """
    out = []
    for r, v in judged:
        d = diagnostics.for_cell(r.spec.cell_id)
        if d is not None and not v.passed and d.where.icmp:
            hop = d.where.last_hop
            ttl = f" at hop {hop.ttl}" if hop is not None else ""
            why = f"ICMP {d.where.icmp} from {d.where.last_label}{ttl} (traced)"
            v = replace(v, reason=f"{v.reason}; {why}")
        out.append((r, v))
    return out
