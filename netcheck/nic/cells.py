"""Which cells the per-NIC matrix of a multi-NIC host probes. Pure: no packet is sent.

For every cell of the plan that involves the host, the same flow from (or to)
each of its other NICs, and, for flows the plan only has towards the host, the
host → peer direction from every NIC where the peer runs an agent that may
open responders. The cell the NIC-selection rule picks is marked `expected`;
the plan's own cells are reused as they are (probed once).
"""

from __future__ import annotations

from dataclasses import replace

from netcheck.nic.model import PerNicCell
from netcheck.plan import Plan, ProbeSpec
from netcheck.topology.model import Host, Nic

__all__ = ["multi_nic_hosts", "per_nic_cells"]


def multi_nic_hosts(plan: Plan, only: str | None = None) -> list[Host]:
    """Hosts with more than one NIC and an agent (the checks read the host itself)."""
    return [
        h
        for h in plan.topology.hosts
        if len(h.nics) > 1 and h.agent.runs and (only is None or h.name == only)
    ]


def _cell_id(spec: ProbeSpec) -> str:
    return (
        f"{spec.source_host}/{spec.source_nic}>{spec.dest_host}/{spec.dest_nic}"
        f":{spec.proto}/{spec.port}"
    )


def _from(spec: ProbeSpec, nic: Nic) -> ProbeSpec:
    s = replace(spec, source_nic=nic.name, source_address=str(nic.address), cell_id="")
    return replace(s, cell_id=_cell_id(s))


def _to(spec: ProbeSpec, nic: Nic) -> ProbeSpec:
    s = replace(spec, dest_nic=nic.name, dest_address=str(nic.address), cell_id="")
    return replace(s, cell_id=_cell_id(s))


def per_nic_cells(
    plan: Plan, host: Host, peers_per_group: int | None = None
) -> tuple[tuple[PerNicCell, ...], tuple[ProbeSpec, ...]]:
    """(every per-NIC cell of `host`, the specs among them the plan does not probe).

    `peers_per_group` bounds the extra cells on a large site: per direction, peer
    site and port, only the first N peers are probed from / to the other NICs
    (NIC behaviour is per route and subnet, not per VM); None probes all.
    """
    topo = plan.topology
    cells: dict[str, PerNicCell] = {}
    groups: dict[tuple[bool, str, int], list[str]] = {}

    def admit(outbound: bool, peer: Host, port: int) -> bool:
        if peers_per_group is None:
            return True
        members = groups.setdefault((outbound, peer.site, port), [])
        if peer.name in members:
            return True
        if len(members) >= peers_per_group:
            return False
        members.append(peer.name)
        return True

    def add(cell: PerNicCell) -> None:
        cells.setdefault(cell.spec.cell_id, cell)

    plan_ids = {s.cell_id for s in plan.specs}
    for spec in plan.specs:
        if spec.source_host == host.name:
            peer = topo.host(spec.dest_host)
            add(PerNicCell(spec, host.name, spec.source_nic, True, True))
            if admit(True, peer, spec.port):
                for nic in host.nics:
                    if nic.name != spec.source_nic:
                        add(PerNicCell(_from(spec, nic), host.name, nic.name, True, False))
        elif spec.dest_host == host.name:
            peer = topo.host(spec.source_host)
            add(PerNicCell(spec, host.name, spec.dest_nic, False, True))
            if not admit(False, peer, spec.port):
                continue
            for nic in host.nics:
                if nic.name != spec.dest_nic:
                    add(PerNicCell(_to(spec, nic), host.name, nic.name, False, False))
            if not (peer.agent.runs and peer.agent.responders):
                continue
            # the host → peer direction, from every NIC of the host
            back = peer.nic_facing(host.site)
            want = host.nic_facing(peer.site)
            for nic in host.nics:
                rev = replace(
                    spec,
                    source_host=host.name,
                    source_nic=nic.name,
                    source_address=str(nic.address),
                    dest_host=peer.name,
                    dest_nic=back.name,
                    dest_address=str(back.address),
                    cell_id="",
                )
                rev = replace(rev, cell_id=_cell_id(rev))
                if rev.cell_id not in plan_ids:
                    add(PerNicCell(rev, host.name, nic.name, True, nic.name == want.name, True))
    all_cells = tuple(cells.values())
    extra = tuple(c.spec for c in all_cells if c.spec.cell_id not in plan_ids)
    return all_cells, extra
