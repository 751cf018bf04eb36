"""Bandwidth verdicts: measured throughput vs the path's floor and vs what churn needs. Pure.

The rate the failback policy's RPO needs
=========================================

The failback policy is fixed by ASR: RPO threshold 15 minutes (a declared
`failback.policy.rpo_threshold_min` replaces it, for what-if). The data to
carry is the churn of the protected VMs that fail back over the tested link:
those whose `inventory.master_target` (or replication group in
`failback.groups`) names the receiving host, or, when nothing maps VMs to
master targets, every protected VM on the sending host's site that declares
churn. With churn declared as GB/day (``D``, summed over the VMs; 1 GB =
10⁹ bytes) and peak MB/s (``P``, summed: the peaks are assumed to coincide,
which is conservative)::

    average_mbps = D × 8000 / 86400                     (GB/day → Mbit/s)
    sustained    = average_mbps × SAFETY                (SAFETY = 1.5: churn is not flat
                                                         over the day, and the link also
                                                         carries resync and protocol overhead)
    peak_needed  = P × 8 × T / (T + RPO)                (T = 60 min peak window)
    needed_mbps  = max(sustained, peak_needed)

``peak_needed`` is the link rate L for which a peak hour at P leaves at most
one RPO of backlog when it ends: the backlog grows at (P − L) for T seconds
and drains at L, so (P − L)·T ≤ L·RPO ⇔ L ≥ P·T / (T + RPO) = 0.8 P for a
one-hour peak and a 15-minute RPO. Headroom = measured − needed.

The documented capacity figures (AS/site-recovery-plan-capacity-vmware.md)
are used as sanity limits in the notes: a process server handles up to 2 TB
of churn a day, a VM's peak churn is supported up to 54 MB/s, and
replication throttling can be set between 512 kbit/s and 102 Mbit/s.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcheck.bandwidth.model import BandwidthOutcome, BandwidthStatus
from netcheck.topology.model import Role, Topology

__all__ = [
    "MAX_PEAK_MB_S_PER_VM",
    "MAX_PS_GB_PER_DAY",
    "PEAK_WINDOW_MIN",
    "RPO_MIN",
    "SAFETY",
    "THROTTLE_MAX_MBPS",
    "THROTTLE_MIN_MBPS",
    "BandwidthVerdict",
    "ChurnDemand",
    "churn_demand",
    "judge_bandwidth",
    "needed_mbps",
]

RPO_MIN = 15.0  # the failback policy's RPO threshold (fixed by ASR)
SAFETY = 1.5
PEAK_WINDOW_MIN = 60.0
MAX_PS_GB_PER_DAY = 2000.0  # 2 TB/day per process server
MAX_PEAK_MB_S_PER_VM = 54.0
THROTTLE_MIN_MBPS = 0.512
THROTTLE_MAX_MBPS = 102.0


@dataclass(frozen=True, slots=True)
class ChurnDemand:
    """The declared churn a link must carry, and the rate it needs for the RPO."""

    hosts: tuple[str, ...]
    gb_per_day: float
    peak_mb_per_s: float | None
    rpo_min: float
    average_mbps: float
    sustained_mbps: float
    peak_needed_mbps: float | None
    needed_mbps: float


@dataclass(frozen=True, slots=True)
class BandwidthVerdict:
    passed: bool
    reason: str  # why it fails, or a one-line summary when it passes
    measured_mbps: float | None
    min_mbps: float | None  # the path's expect.min_mbps
    min_ok: bool | None  # None: no floor declared (or nothing measured)
    demand: ChurnDemand | None
    rpo_ok: bool | None  # None: no churn declared (or nothing measured)
    headroom_mbps: float | None  # measured - needed
    notes: tuple[str, ...] = ()

    @property
    def needed_mbps(self) -> float | None:
        return self.demand.needed_mbps if self.demand else None


def needed_mbps(
    gb_per_day: float, peak_mb_per_s: float | None, rpo_min: float = RPO_MIN
) -> tuple[float, float, float | None, float]:
    """(average, sustained, peak_needed, needed) in Mbit/s; see the module docstring."""
    average = gb_per_day * 8000 / 86400
    sustained = average * SAFETY
    peak = None
    if peak_mb_per_s is not None:
        peak = peak_mb_per_s * 8 * PEAK_WINDOW_MIN / (PEAK_WINDOW_MIN + rpo_min)
    return average, sustained, peak, max(sustained, peak or 0.0)


def _vms_for(topo: Topology, receiver: str, sender: str) -> list[str]:
    """The protected VMs whose churn crosses a link into `receiver` (see module docstring)."""
    declared = [
        h
        for h in topo.hosts_with(Role.PROTECTED_VM)
        if h.inventory.churn_gb_per_day is not None or h.inventory.peak_churn_mb_s is not None
    ]
    mapped = []
    for vm in declared:
        mts = {vm.inventory.master_target} | {
            topo.failback.master_target_of_group(g) for g in vm.groups
        }
        mts.discard(None)
        if mts:
            mapped.append((vm, mts))
    if mapped:
        return [vm.name for vm, mts in mapped if receiver in mts]
    site = topo.host(sender).site
    return [vm.name for vm in declared if vm.site == site]


def churn_demand(topo: Topology, receiver: str, sender: str) -> ChurnDemand | None:
    """The churn the link sender → receiver carries, or None when none is declared."""
    names = _vms_for(topo, receiver, sender)
    if not names:
        return None
    invs = [topo.host(n).inventory for n in names]
    gb = sum(i.churn_gb_per_day or 0.0 for i in invs)
    peaks = [i.peak_churn_mb_s for i in invs if i.peak_churn_mb_s is not None]
    peak = sum(peaks) if peaks else None
    policy = topo.failback.policy
    rpo = policy.rpo_threshold_min if policy and policy.rpo_threshold_min else RPO_MIN
    average, sustained, peak_needed, needed = needed_mbps(gb, peak, rpo)
    return ChurnDemand(tuple(names), gb, peak, rpo, average, sustained, peak_needed, needed)


def _sanity_notes(topo: Topology, demand: ChurnDemand | None, measured: float | None) -> list[str]:
    notes = []
    if demand is not None:
        for name in demand.hosts:
            peak = topo.host(name).inventory.peak_churn_mb_s
            if peak is not None and peak > MAX_PEAK_MB_S_PER_VM:
                notes.append(
                    f"{name} declares {peak:g} MB/s peak churn, above the {MAX_PEAK_MB_S_PER_VM:g} "
                    "MB/s per VM that ASR supports: replication of this VM will fall behind"
                )
        if demand.gb_per_day > MAX_PS_GB_PER_DAY:
            notes.append(
                f"the declared churn ({demand.gb_per_day / 1000:.2f} TB/day) exceeds the 2 TB/day "
                "one process server handles: plan a scale-out process server"
            )
        if demand.needed_mbps > THROTTLE_MAX_MBPS:
            notes.append(
                f"the RPO needs {demand.needed_mbps:.1f} Mbit/s, above the {THROTTLE_MAX_MBPS:g} "
                "Mbit/s top of ASR's replication throttling range: do not throttle replication "
                "on this process server"
            )
    if measured is not None and measured < THROTTLE_MIN_MBPS:
        notes.append(
            f"measured {measured * 1000:.0f} kbit/s, below the 512 kbit/s bottom of ASR's "
            "replication throttling range"
        )
    return notes


def _fmt(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.3f}"


def judge_bandwidth(outcome: BandwidthOutcome, topo: Topology) -> BandwidthVerdict:
    """Measured vs `expect.min_mbps` of the path and vs the RPO's needed rate."""
    path = next((x for x in topo.paths if x.name == outcome.path), None)
    floor = path.expect.min_mbps if path else None
    demand = churn_demand(topo, outcome.receiver, outcome.sender)
    measured = outcome.mbps if outcome.status is BandwidthStatus.MEASURED else None
    notes = _sanity_notes(topo, demand, measured)
    direction = f"{outcome.sender} → {outcome.receiver}"
    if measured is None:
        return BandwidthVerdict(
            False,
            f"not measured ({direction}): {outcome.reason}",
            None,
            floor,
            None,
            demand,
            None,
            None,
            tuple(notes),
        )
    problems = []
    if not outcome.completed:
        problems.append(
            f"the test did not complete ({outcome.reason}); {_fmt(measured)} Mbit/s is a "
            "partial figure"
        )
    min_ok = None if floor is None else measured >= floor
    if min_ok is False:
        where = f"path {outcome.path}" if outcome.path else "the path"
        problems.append(
            f"{direction} carries {_fmt(measured)} Mbit/s, below the {_fmt(floor or 0)} Mbit/s "
            f"{where} must give (expect.min_mbps)"
        )
    rpo_ok = headroom = None
    if demand is not None:
        headroom = measured - demand.needed_mbps
        rpo_ok = headroom >= 0
        if not rpo_ok:
            problems.append(
                f"{direction} carries {_fmt(measured)} Mbit/s, but the churn of "
                f"{', '.join(demand.hosts)} needs {_fmt(demand.needed_mbps)} Mbit/s to keep "
                f"the {demand.rpo_min:g}-minute RPO: short by {_fmt(-headroom)} Mbit/s"
            )
    if problems:
        reason = "; ".join(problems)
    else:
        parts = [f"{_fmt(measured)} Mbit/s {direction}"]
        if floor is not None:
            parts.append(f"≥ {_fmt(floor)} Mbit/s floor")
        if demand is not None and headroom is not None:
            parts.append(
                f"RPO needs {_fmt(demand.needed_mbps)} Mbit/s, headroom {_fmt(headroom)} Mbit/s"
            )
        if floor is None and demand is None:
            parts.append("no floor or churn declared: measured only")
        reason = ", ".join(parts)
    return BandwidthVerdict(
        not problems and outcome.completed,
        reason,
        measured,
        floor,
        min_ok,
        demand,
        rpo_ok,
        headroom,
        tuple(notes),
    )
