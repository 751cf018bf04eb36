"""All readiness checks over a topology and (optionally) live facts: pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netcheck_agent import protocol as p

from netcheck.readiness.assignment import check_assignment
from netcheck.readiness.master_target import check_master_target
from netcheck.readiness.model import Finding, LiveStatus, ReadinessResult
from netcheck.readiness.resolve import HostView
from netcheck.readiness.site import check_cs_nics, check_policy, check_process_server_network
from netcheck.readiness.sizing import check_sizing
from netcheck.topology.model import Role, Topology

__all__ = ["evaluate", "has_inventory"]


def has_inventory(topo: Topology) -> bool:
    """Did the topology declare anything for the readiness checks?"""
    return topo.failback.declared or any(h.inventory.declared for h in topo.hosts)


def evaluate(
    topo: Topology,
    live: Mapping[str, p.Facts] | None = None,
    live_status: Sequence[LiveStatus] = (),
    live_requested: bool = False,
) -> ReadinessResult:
    """Every check, in report order: site-wide, then each master target, groups, sizing.

    `live` maps a master target's name to the facts its agent read; they win over the
    inventory, and every fact in the result says which source it came from.
    """
    live = live or {}
    views = {mt.name: HostView(mt, live.get(mt.name)) for mt in topo.hosts_with(Role.MASTER_TARGET)}
    findings: list[Finding] = []
    findings += check_policy(topo)
    findings += check_cs_nics(topo)
    findings += check_process_server_network(topo)
    for view in views.values():
        findings += check_master_target(view, topo)
    findings += check_assignment(topo, views)
    findings += check_sizing(topo)
    return ReadinessResult(tuple(findings), tuple(live_status), live_requested)
