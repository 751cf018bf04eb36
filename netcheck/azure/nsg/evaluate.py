"""Azure's NSG semantics as pure functions: one flow against the export.

- Inbound, the subnet's NSG then the NIC's; outbound, the NIC's then the subnet's. Both
  must allow. NSGs are stateful, so the reply needs no rule.
- Within one NSG, rules of the flow's direction in priority order; the first that
  matches decides (the default rules 65000/65001/65500 come last).
- A rule matches on protocol, source and destination (prefixes, service tags,
  application security groups) and ports (single, ranges, lists).
- A user-defined route with next hop `None` drops the traffic before any NSG sees it.

Matching is three-valued. When the export cannot say whether a rule matches (a service
tag without an address list, an ASG whose NIC is not exported, a source-port
restriction on an ephemeral port) the rule *may* match. Evaluation carries on below it:
if every rule that may have matched first has the same access as the rule that surely
matches, the answer stands (with a caveat); otherwise it is `unknown`, naming what is
missing. Never a silent allow.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from netcheck.azure.nsg.model import (
    Access,
    AddressTerm,
    AzureExport,
    Direction,
    IPAddress,
    IpConfig,
    IPNetwork,
    Nic,
    Nsg,
    Route,
    RouteTable,
    SecurityRule,
    id_name,
    subnet_label,
)

__all__ = [
    "AZURE_LOAD_BALANCER",
    "Endpoint",
    "Flow",
    "Match",
    "NsgDecision",
    "Outcome",
    "Stage",
    "TagScope",
    "evaluate_flow",
    "evaluate_nsg",
    "locate",
    "match_rule",
]

# the documented source of Azure's health probes (the AzureLoadBalancer tag)
AZURE_LOAD_BALANCER = ipaddress.ip_address("168.63.129.16")


class Match(enum.Enum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"


class Outcome(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of a flow, placed in Azure (or not) by its address."""

    text: str  # the address or name as the plan has it
    address: IPAddress | None  # None: a DNS name (an Azure endpoint)
    subnet_id: str | None = None  # None: not (known to be) in an exported subnet
    nic: Nic | None = None
    ip_config: IpConfig | None = None
    why_no_nic: str = ""  # in a subnet, but its NIC is not known: why

    @property
    def in_azure(self) -> bool:
        return self.subnet_id is not None

    @property
    def asg_ids(self) -> tuple[str, ...] | None:
        return self.ip_config.asg_ids if self.ip_config is not None else None


@dataclass(frozen=True, slots=True)
class Flow:
    source: Endpoint
    destination: Endpoint
    proto: str  # "tcp" | "udp" | "icmp"
    port: int


@dataclass(frozen=True, slots=True)
class TagScope:
    """What the service tag `VirtualNetwork` stands for, as far as the inputs tell.

    Azure's VirtualNetwork is the VNet's address space, peered VNets, the on-premises
    ranges reached through the VPN / ExpressRoute gateway, and the prefixes of
    user-defined routes. `complete` is False when the VNet export is missing: an address
    outside `ranges` may then still be inside.
    """

    ranges: tuple[IPNetwork, ...]
    complete: bool
    missing: str = ""

    def virtual_network(self, address: IPAddress) -> Match:
        if any(address.version == n.version and address in n for n in self.ranges):
            return Match.YES
        return Match.NO if self.complete else Match.MAYBE


@dataclass(frozen=True, slots=True)
class Term:
    match: Match
    why: str = ""


def _address_term(term: AddressTerm, end: Endpoint, scope: TagScope) -> Term:
    if term.any:
        return Term(Match.YES)
    addr = end.address
    if addr is None:
        return Term(Match.MAYBE, f"{end.text} is a name, and the rule names {term}")
    return _address_term_ip(term, addr, end, scope)


def _address_term_ip(term: AddressTerm, addr: IPAddress, end: Endpoint, scope: TagScope) -> Term:
    if term.prefix is not None:
        ok = addr.version == term.prefix.version and addr in term.prefix
        return Term(Match.YES if ok else Match.NO)
    if term.asg is not None:
        if end.asg_ids is not None:
            return Term(Match.YES if term.asg in end.asg_ids else Match.NO)
        if not end.in_azure and scope.complete:
            # ASG members are NICs of the VNet, and the VNet export shows it has no subnet there
            return Term(Match.NO)
        return Term(
            Match.MAYBE,
            f"ASG {id_name(term.asg)}: whether {addr} is a member needs its NIC in the NIC "
            f"export ({end.why_no_nic or 'not found there'})",
        )
    tag = term.tag or ""
    in_vnet = scope.virtual_network(addr)
    if tag == "VirtualNetwork":
        why = "" if in_vnet is not Match.MAYBE else f"VirtualNetwork: {scope.missing}"
        return Term(in_vnet, why)
    if tag == "AzureLoadBalancer":
        return Term(Match.YES if addr == AZURE_LOAD_BALANCER else Match.NO)
    if tag == "Internet":
        if in_vnet is Match.YES:
            return Term(Match.NO)
        if addr.is_global:
            return Term(Match.YES if in_vnet is Match.NO else Match.MAYBE, scope.missing)
        return Term(
            Match.MAYBE,
            f"Internet: {addr} is neither in VirtualNetwork nor a public address",
        )
    # Storage, AzureCloud, Sql.WestEurope, ...: public Azure prefixes only
    if in_vnet is Match.YES or not addr.is_global:
        return Term(Match.NO)
    return Term(
        Match.MAYBE,
        f"service tag {tag}: netcheck has no address list for it "
        "(see `az network list-service-tags`)",
    )


def _side(terms: tuple[AddressTerm, ...], end: Endpoint, scope: TagScope) -> Term:
    results = [_address_term(t, end, scope) for t in terms]
    if any(r.match is Match.YES for r in results):
        return Term(Match.YES)
    maybes = [r for r in results if r.match is Match.MAYBE]
    return Term(Match.MAYBE, maybes[0].why) if maybes else Term(Match.NO)


def match_rule(rule: SecurityRule, flow: Flow, scope: TagScope) -> Term:
    """Does `rule` match `flow`? YES, NO, or MAYBE with what is missing."""
    if rule.protocol != "*" and rule.protocol != flow.proto:
        return Term(Match.NO)
    maybe: list[str] = []
    if flow.proto in ("tcp", "udp"):
        if not any(flow.port in p for p in rule.destination_ports):
            return Term(Match.NO)
        if not all(p.is_any for p in rule.source_ports):
            maybe.append(
                f"it restricts the source port ({','.join(map(str, rule.source_ports))}) "
                "and the probe's source port is ephemeral"
            )
    elif not all(p.is_any for p in rule.destination_ports):
        return Term(Match.NO)  # a port-restricted rule only ever matches port-carrying protocols
    for terms, end in ((rule.sources, flow.source), (rule.destinations, flow.destination)):
        t = _side(terms, end, scope)
        if t.match is Match.NO:
            return t
        if t.match is Match.MAYBE:
            maybe.append(t.why)
    return Term(Match.MAYBE, "; ".join(maybe)) if maybe else Term(Match.YES)


@dataclass(frozen=True, slots=True)
class NsgDecision:
    access: Access | None  # None: unknown
    rule: SecurityRule | None  # the rule that decided (None when unknown)
    why: str = ""  # unknown: what is missing
    caveats: tuple[str, ...] = ()


def evaluate_nsg(nsg: Nsg, direction: Direction, flow: Flow, scope: TagScope) -> NsgDecision:
    """First match wins, by priority; MAYBE rules are resolved as the module says."""
    pending: list[tuple[SecurityRule, str]] = []
    for rule in sorted(nsg.rules_for(direction), key=lambda r: r.priority):
        m = match_rule(rule, flow, scope)
        if m.match is Match.NO:
            continue
        if m.match is Match.MAYBE:
            pending.append((rule, m.why))
            continue
        differing = [(r, why) for r, why in pending if r.access is not rule.access]
        if differing:
            r, why = differing[0]
            return NsgDecision(
                None,
                None,
                f"NSG {nsg.name} rule {r.name} (priority {r.priority}, {r.access.value.lower()}) "
                f"may match first: {why}",
            )
        caveats = tuple(
            f"rule {r.name} (priority {r.priority}) may match first ({why}); same access"
            for r, why in pending
        )
        return NsgDecision(rule.access, rule, caveats=caveats)
    if pending:
        r, why = pending[0]
        return NsgDecision(None, None, f"NSG {nsg.name} rule {r.name} may match: {why}")
    return NsgDecision(None, None, f"NSG {nsg.name} has no rule for this flow, not even a default")


@dataclass(frozen=True, slots=True)
class Stage:
    """One place on the flow's way that can drop it: an NSG on a subnet or a NIC, or a route."""

    direction: Direction
    attached: str  # "subnet" | "nic" | "route"
    attached_to: str  # the subnet (vnet/subnet), the NIC's name, or the route table's name
    outcome: Outcome
    nsg: str | None = None  # None: no NSG attached there (or a route stage)
    rule: SecurityRule | None = None
    route: Route | None = None
    why: str = ""
    caveats: tuple[str, ...] = ()

    @property
    def place(self) -> str:
        return f"{self.attached} {self.attached_to}"


def locate(address_text: str, export: AzureExport) -> Endpoint:
    """Place an address in the export: its NIC (by private IP) and subnet, or nowhere."""
    try:
        addr: IPAddress = ipaddress.ip_address(address_text)
    except ValueError:
        return Endpoint(address_text, None)
    for nic in export.nics or ():
        for cfg in nic.ip_configs:
            if cfg.address == addr:
                return Endpoint(address_text, addr, cfg.subnet_id, nic, cfg)
    for vnet in export.vnets or ():
        for s in vnet.subnets:
            if any(addr.version == p.version and addr in p for p in s.prefixes):
                why = (
                    "no NIC export given (--azure-nics)"
                    if export.nics is None
                    else "no NIC in the NIC export carries it"
                )
                return Endpoint(address_text, addr, s.id, why_no_nic=why)
    return Endpoint(address_text, addr)


def _nsg_stage(
    nsg: Nsg | None, direction: Direction, kind: str, name: str, flow: Flow, scope: TagScope
) -> Stage:
    if nsg is None:
        return Stage(direction, kind, name, Outcome.ALLOWED, why=f"no NSG on {kind} {name}")
    d = evaluate_nsg(nsg, direction, flow, scope)
    if d.access is None:
        return Stage(direction, kind, name, Outcome.UNKNOWN, nsg.name, why=d.why)
    outcome = Outcome.ALLOWED if d.access is Access.ALLOW else Outcome.DENIED
    caveats = d.caveats
    if nsg.defaults_assumed and d.rule is not None and d.rule.default:
        caveats += (
            f"NSG {nsg.name}: no defaultSecurityRules in the export; Azure's documented ones",
        )
    return Stage(direction, kind, name, outcome, nsg.name, d.rule, caveats=caveats)


def _nic_stage(
    end: Endpoint, direction: Direction, flow: Flow, scope: TagScope, export: AzureExport
) -> Stage:
    if end.nic is not None:
        return _nsg_stage(export.nic_nsg(end.nic.id), direction, "nic", end.nic.name, flow, scope)
    label = f"of {end.text}"
    on_nics = export.nsgs_on_nics
    if not on_nics:
        return Stage(
            direction,
            "nic",
            label,
            Outcome.ALLOWED,
            why="no NSG in the export is attached to a NIC",
        )
    names = ", ".join(n.name for n in on_nics)
    return Stage(
        direction,
        "nic",
        label,
        Outcome.UNKNOWN,
        why=f"{names} attached to NICs, and the NIC of {end.text} is unknown ({end.why_no_nic})",
    )


def _route_stage(
    end: Endpoint, to: Endpoint, export: AzureExport, scope: TagScope, reply: bool
) -> Stage | None:
    """The user-defined route the subnet of `end` uses towards `to`, when it matters."""
    if end.subnet_id is None or to.address is None or export.route_tables is None:
        return None
    rt = export.route_table(end.subnet_id)
    if rt is None:
        return None
    best = _longest(rt, to.address)
    if best is None:
        return None
    # a system route to the VNet (or a peer) that is more specific wins over the UDR
    if best.prefix is not None and any(
        to.address.version == n.version and to.address in n and n.prefixlen > best.prefix.prefixlen
        for n in scope.ranges
    ):
        return None
    what = "the reply to" if reply else "traffic to"
    direction = Direction.OUTBOUND
    if best.next_hop_type == "None":
        return Stage(
            direction,
            "route",
            rt.name,
            Outcome.DENIED,
            route=best,
            why=f"route {best.name} ({best.prefix_text}, next hop None) drops {what} {to.text}",
        )
    if best.next_hop_type == "VirtualAppliance":
        return Stage(
            direction,
            "route",
            rt.name,
            Outcome.ALLOWED,
            route=best,
            why=f"{what} {to.text} passes the virtual appliance {best.next_hop_ip} "
            f"(route {best.name}); its own filtering is not in the export",
            caveats=(
                f"via virtual appliance {best.next_hop_ip} (route table {rt.name}, route {best.name})",
            ),
        )
    return None


def _longest(rt: RouteTable, address: IPAddress) -> Route | None:
    best: Route | None = None
    for r in rt.routes:
        p = r.prefix
        if p is None or p.version != address.version or address not in p:
            continue
        if best is None or best.prefix is None or p.prefixlen > best.prefix.prefixlen:
            best = r
    return best


def evaluate_flow(flow: Flow, export: AzureExport, scope: TagScope) -> tuple[Stage, ...]:
    """Every stage on the flow's way, in packet order (source side first).

    Outbound at an Azure source: route, then the NIC's NSG, then the subnet's. Inbound at
    an Azure destination: the subnet's NSG, then the NIC's, then the route the reply takes.
    """
    stages: list[Stage] = []
    src, dst = flow.source, flow.destination
    if src.subnet_id is not None:
        route = _route_stage(src, dst, export, scope, reply=False)
        if route is not None:
            stages.append(route)
        stages.append(_nic_stage(src, Direction.OUTBOUND, flow, scope, export))
        stages.append(
            _nsg_stage(
                export.subnet_nsg(src.subnet_id),
                Direction.OUTBOUND,
                "subnet",
                subnet_label(src.subnet_id),
                flow,
                scope,
            )
        )
    if dst.subnet_id is not None:
        stages.append(
            _nsg_stage(
                export.subnet_nsg(dst.subnet_id),
                Direction.INBOUND,
                "subnet",
                subnet_label(dst.subnet_id),
                flow,
                scope,
            )
        )
        stages.append(_nic_stage(dst, Direction.INBOUND, flow, scope, export))
        reply = _route_stage(dst, src, export, scope, reply=True)
        if reply is not None:
            stages.append(reply)
    return tuple(stages)
