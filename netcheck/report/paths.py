"""Per-path and per-NIC views of a sweep: pure aggregations the HTML report draws.

A declared path (VPN, ExpressRoute) has expectations — MTU, bandwidth, RTT,
loss. What a connectivity sweep measures about the path is what the cells that
cross it saw: their round-trip times and their lost attempts. Those are
aggregated here; MTU and the gateway hops come from the sweep's diagnostics
(netcheck.diagnose, shown beside these figures), bandwidth from its bandwidth
tests; without them they are reported as "not measured".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from netcheck.result.cells import CellResult, CellStatus, Outcome
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict, Verdict, percentile
from netcheck.topology.model import Path

__all__ = ["NicCell", "NicUsage", "PathSummary", "nic_usage", "path_summaries"]


@dataclass(frozen=True, slots=True)
class PathSummary:
    """What the sweep measured on one declared path, next to what the topology expects."""

    path: Path
    cells: int  # cells planned across the path
    measured: int  # of those, cells an agent measured
    reachable: int  # cells that found the port open (verdict open)
    failing: int  # cells that failed their rule
    verdicts: tuple[tuple[str, int], ...]  # verdict value -> cells, most common first
    rtt_samples: int  # answered attempts with an RTT, pooled over the open cells
    rtt_p50_ms: float | None
    rtt_p95_ms: float | None
    rtt_max_ms: float | None
    worst_cell_p50_ms: float | None  # the per-cell median judged against max_rtt_ms
    attempts: int  # attempts of the open cells (the base of the loss figure)
    lost: int  # attempts of the open cells that did not get an answer
    rtt_ok: bool | None  # None: no expectation or nothing measured
    loss_ok: bool | None

    @property
    def loss_pct(self) -> float | None:
        return 100.0 * self.lost / self.attempts if self.attempts else None


def path_summaries(
    sweep: SweepResult, verdicts: list[tuple[CellResult, CellVerdict]] | None = None
) -> list[PathSummary]:
    """One summary per declared path, in topology order.

    RTT and loss pool the attempts of the cells that crossed the path and found
    the port open: a refused or filtered port says nothing about the path's
    latency or loss, and a negative rule's cells are meant not to connect.
    """
    rows = verdicts if verdicts is not None else sweep.verdicts()
    out = []
    for path in sweep.plan.topology.paths:
        crossing = [(r, v) for r, v in rows if r.spec.path == path.name]
        open_cells = [
            (r, v)
            for r, v in crossing
            if v.verdict is Verdict.OPEN and r.spec.expect_reachable and r.samples
        ]
        rtts = sorted(
            s.rtt_us / 1000.0
            for r, _ in open_cells
            for s in r.samples
            if s.outcome is Outcome.OPEN and s.rtt_us is not None
        )
        attempts = sum(len(r.samples) for r, _ in open_cells)
        lost = sum(1 for r, _ in open_cells for s in r.samples if s.outcome is not Outcome.OPEN)
        medians = [v.stats.rtt.p50 for _, v in open_cells if v.stats.rtt]
        worst = max(medians) if medians else None
        exp = path.expect
        rtt_ok = None
        if exp.max_rtt_ms is not None and worst is not None:
            rtt_ok = worst <= exp.max_rtt_ms
        loss_ok = None
        if exp.max_loss_pct is not None and attempts:
            loss_ok = 100.0 * lost / attempts <= exp.max_loss_pct
        counts = Counter(v.verdict.value for _, v in crossing)
        out.append(
            PathSummary(
                path=path,
                cells=len(crossing),
                measured=sum(1 for r, _ in crossing if r.status is CellStatus.MEASURED),
                reachable=len(open_cells),
                failing=sum(1 for _, v in crossing if not v.passed),
                verdicts=tuple(counts.most_common()),
                rtt_samples=len(rtts),
                rtt_p50_ms=percentile(rtts, 50) if rtts else None,
                rtt_p95_ms=percentile(rtts, 95) if rtts else None,
                rtt_max_ms=rtts[-1] if rtts else None,
                worst_cell_p50_ms=worst,
                attempts=attempts,
                lost=lost,
                rtt_ok=rtt_ok,
                loss_ok=loss_ok,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class NicCell:
    """One cell seen from a NIC: the peer (host, NIC, address), the port, the outcome."""

    peer_host: str
    peer_nic: str
    peer_address: str
    port: int
    verdict: str
    passed: bool
    index: int  # the cell's position in the sweep (for links into the matrix)


@dataclass(frozen=True, slots=True)
class NicUsage:
    """A NIC of a multi-NIC host: what it reached as a source, who reached it as a destination."""

    host: str
    nic: str
    address: str
    faces: tuple[str, ...]
    outbound: tuple[NicCell, ...]
    inbound: tuple[NicCell, ...]


def nic_usage(
    sweep: SweepResult, verdicts: list[tuple[CellResult, CellVerdict]] | None = None
) -> list[NicUsage]:
    """Per NIC of every host with more than one NIC, in topology order."""
    rows = verdicts if verdicts is not None else sweep.verdicts()
    out = []
    for host in sweep.plan.topology.hosts:
        if len(host.nics) < 2:
            continue
        for nic in host.nics:
            outbound = []
            inbound = []
            for i, (r, v) in enumerate(rows):
                s = r.spec
                if s.source_host == host.name and s.source_nic == nic.name:
                    outbound.append(
                        NicCell(
                            s.dest_host,
                            s.dest_nic,
                            s.dest_address,
                            s.port,
                            v.verdict.value,
                            v.passed,
                            i,
                        )
                    )
                if s.dest_host == host.name and s.dest_nic == nic.name:
                    inbound.append(
                        NicCell(
                            s.source_host,
                            s.source_nic,
                            s.source_address,
                            s.port,
                            v.verdict.value,
                            v.passed,
                            i,
                        )
                    )
            out.append(
                NicUsage(
                    host=host.name,
                    nic=nic.name,
                    address=str(nic.address),
                    faces=nic.faces or (host.site,),
                    outbound=tuple(outbound),
                    inbound=tuple(inbound),
                )
            )
    return out
