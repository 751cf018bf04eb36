"""Plan × Azure export → one NSG prediction per cell with an Azure end. Pure.

A topology host is an Azure end when one of its addresses is a NIC's private IP in the
NIC export, or lies in a subnet of the VNet export. Cells between two hosts outside
Azure get no prediction: no NSG is on their way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from netcheck.azure.nsg.evaluate import Flow, Outcome, Stage, TagScope, evaluate_flow, locate
from netcheck.azure.nsg.model import Access, AzureExport, Direction, IPNetwork, SecurityRule
from netcheck.plan import Plan, ProbeSpec
from netcheck.topology.model import Topology

__all__ = [
    "CellPrediction",
    "Predictions",
    "describe_stage",
    "fix_hint",
    "predict_cell",
    "predict_flow",
    "predict_plan",
    "tag_scope",
]


@dataclass(frozen=True, slots=True)
class CellPrediction:
    """What the NSGs (and user-defined routes) of the export do to one cell."""

    cell_id: str
    source: str  # "host address"
    destination: str
    proto: str
    port: int
    outcome: Outcome
    stages: tuple[Stage, ...]
    reason: str
    hint: str = ""  # for a denied cell: the change that would let it through

    @property
    def deciding(self) -> Stage | None:
        """The stage that denies the cell (the first one on its way), or leaves it unknown."""
        for wanted in (Outcome.DENIED, Outcome.UNKNOWN):
            for st in self.stages:
                if st.outcome is wanted:
                    return st
        return None

    @property
    def denied_by(self) -> SecurityRule | None:
        st = self.deciding
        return st.rule if st is not None and self.outcome is Outcome.DENIED else None

    @property
    def caveats(self) -> tuple[str, ...]:
        return tuple(c for st in self.stages for c in st.caveats)

    def to_dict(self) -> dict[str, object]:
        rule = self.denied_by
        st = self.deciding
        return {
            "cell_id": self.cell_id,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "hint": self.hint,
            "nsg": st.nsg if st is not None and self.outcome is Outcome.DENIED else None,
            "rule": rule.name if rule is not None else None,
            "priority": rule.priority if rule is not None else None,
            "direction": st.direction.label
            if st is not None and self.outcome is Outcome.DENIED
            else None,
            "attached_to": st.place
            if st is not None and self.outcome is not Outcome.ALLOWED
            else None,
            "stages": [
                {
                    "direction": s.direction.label,
                    "attached": s.attached,
                    "attached_to": s.attached_to,
                    "nsg": s.nsg,
                    "outcome": s.outcome.value,
                    "rule": s.rule.name if s.rule else None,
                    "priority": s.rule.priority if s.rule else None,
                    "route": s.route.name if s.route else None,
                    "why": s.why,
                }
                for s in self.stages
            ],
            "caveats": list(self.caveats),
        }


@dataclass(frozen=True, slots=True)
class Predictions:
    cells: tuple[CellPrediction, ...]
    notes: tuple[str, ...] = ()  # what the reader should know about the inputs

    def by_cell(self) -> dict[str, CellPrediction]:
        return {p.cell_id: p for p in self.cells}

    def get(self, cell_id: str) -> CellPrediction | None:
        return self.by_cell().get(cell_id)


def tag_scope(topo: Topology, export: AzureExport) -> TagScope:
    """What VirtualNetwork covers: the VNets, their peers, the sites joined to the Azure
    site by a VPN / ExpressRoute path (reached through the gateway), and UDR prefixes."""
    ranges: list[IPNetwork] = []
    for vnet in export.vnets or ():
        ranges += vnet.address_space
        for _peer, nets in vnet.peered_spaces:
            ranges += nets
    azure_sites = _azure_sites(topo, export)
    for site in topo.sites:
        joined = any(p.joins(site.name, a) for p in topo.paths for a in azure_sites)
        if site.name in azure_sites or joined:
            ranges += [net for _n, net in site.networks]
    for rt in export.route_tables or ():
        ranges += [r.prefix for r in rt.routes if r.prefix is not None]
    complete = export.vnets is not None
    missing = (
        ""
        if complete
        else "without the VNet export (az network vnet list, --azure-vnets) netcheck knows "
        "only the topology's networks"
    )
    return TagScope(tuple(dict.fromkeys(ranges)), complete, missing)


def _azure_sites(topo: Topology, export: AzureExport) -> set[str]:
    sites = set()
    for h in topo.hosts:
        if any(locate(str(n.address), export).in_azure for n in h.nics):
            sites.add(h.site)
    return sites


def predict_plan(plan: Plan, export: AzureExport) -> Predictions:
    """A prediction for every cell of `plan` with an Azure end, in plan order."""
    scope = tag_scope(plan.topology, export)
    cells = []
    for spec in plan.specs:
        p = predict_cell(spec, export, scope)
        if p is not None:
            cells.append(p)
    return Predictions(tuple(cells), _notes(plan, export, scope))


def _notes(plan: Plan, export: AzureExport, scope: TagScope) -> tuple[str, ...]:
    notes = []
    azure = _azure_sites(plan.topology, export)
    for h in plan.topology.hosts:
        if h.site not in azure:
            continue
        for n in h.nics:
            end = locate(str(n.address), export)
            if not end.in_azure:
                notes.append(
                    f"{h.name} {n.address} is on an Azure site but in no exported NIC or subnet; "
                    "its cells have no NSG prediction"
                )
            elif end.nic is None:
                notes.append(f"{h.name} {n.address}: subnet known, NIC not ({end.why_no_nic})")
    if not scope.complete:
        notes.append(f"VirtualNetwork tag: {scope.missing}")
    if not plan.specs or not azure:
        notes.append("no host of the topology is in the exported NICs or subnets")
    return tuple(notes)


def predict_cell(spec: ProbeSpec, export: AzureExport, scope: TagScope) -> CellPrediction | None:
    """The prediction of one plan cell; None when neither end is in Azure."""
    return predict_flow(
        spec.source_address,
        spec.dest_address,
        spec.proto,
        spec.port,
        export,
        scope,
        cell_id=spec.cell_id,
        source=f"{spec.source_host} {spec.source_address}",
        destination=f"{spec.dest_host} {spec.dest_address}",
    )


def predict_flow(
    source_address: str,
    dest_address: str,
    proto: str,
    port: int,
    export: AzureExport,
    scope: TagScope,
    *,
    cell_id: str = "",
    source: str = "",
    destination: str = "",
) -> CellPrediction | None:
    """The prediction of one flow (addresses as text; a destination may be a DNS name)."""
    src = locate(source_address, export)
    dst = locate(dest_address, export)
    if not src.in_azure and not dst.in_azure:
        return None
    flow = Flow(src, dst, proto, port)
    stages = evaluate_flow(flow, export, scope)
    p = CellPrediction(
        cell_id=cell_id or f"{source_address}>{dest_address}:{proto}/{port}",
        source=source or source_address,
        destination=destination or dest_address,
        proto=proto,
        port=port,
        outcome=_outcome(stages),
        stages=stages,
        reason="",
    )
    return _explained(p, flow)


def _outcome(stages: Iterable[Stage]) -> Outcome:
    outcomes = {s.outcome for s in stages}
    if Outcome.DENIED in outcomes:
        return Outcome.DENIED  # denied wherever else it is unknown: both must allow
    if Outcome.UNKNOWN in outcomes:
        return Outcome.UNKNOWN
    return Outcome.ALLOWED


def describe_stage(st: Stage) -> str:
    if st.attached == "route":
        return f"route table {st.attached_to}: {st.why}"
    if st.nsg is None:
        return f"no NSG on {st.place}"
    if st.rule is None:
        return f"NSG {st.nsg} ({st.direction.label}, {st.place})"
    return (
        f"NSG {st.nsg} rule {st.rule.name} (priority {st.rule.priority}, "
        f"{st.direction.label}) attached to {st.place}"
    )


def _flow_text(flow: Flow) -> str:
    proto = flow.proto.upper()
    return f"{proto} {flow.port}" if flow.proto in ("tcp", "udp") else proto


def _explained(p: CellPrediction, flow: Flow) -> CellPrediction:
    st = p.deciding
    if p.outcome is Outcome.ALLOWED:
        decided = [describe_stage(s) for s in p.stages if s.attached != "route"]
        reason = "allowed: " + "; ".join(decided)
        return replace(p, reason=reason)
    assert st is not None
    if p.outcome is Outcome.UNKNOWN:
        return replace(p, reason=f"unknown at {st.direction.label} {st.place}: {st.why}")
    if st.attached == "route":
        route = st.route
        assert route is not None
        return replace(
            p,
            reason=f"dropped by {st.why} (route table {st.attached_to})",
            hint=f"route table {st.attached_to} route {route.name} ({route.prefix_text}) has next "
            "hop None: point it at the VPN/ExpressRoute gateway or the appliance, or remove it",
        )
    rule = st.rule
    assert rule is not None
    reason = f"denied by {describe_stage(st)}"
    return replace(p, reason=reason, hint=fix_hint(st.nsg or "", rule, flow))


def fix_hint(nsg: str, rule: SecurityRule, flow: Flow) -> str:
    """The change that lets `flow` through the rule that denies it."""
    what = _flow_text(flow)
    inbound = rule.direction is Direction.INBOUND
    side = rule.source_text if inbound else rule.destination_text
    side = "any address" if side == "*" else side
    denies = f"{'from' if inbound else 'to'} {side}"
    head = (
        f"NSG {nsg} {'default ' if rule.default else ''}rule {rule.name} "
        f"(priority {rule.priority}, {rule.direction.label}) denies {what} {denies}"
    )
    if rule.default or rule.access is not Access.DENY:
        return (
            f"{head}; add an allow rule (priority 100-4096) for {what} from "
            f"{flow.source.text} to {flow.destination.text} in {nsg}"
        )
    return f"{head}; add an allow at priority < {rule.priority} or narrow it"
