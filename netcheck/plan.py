"""Topology × catalog → the concrete probes of a sweep. Pure: no packet is sent here.

One `ProbeSpec` is one cell of the matrix: from a source host's NIC to a
destination host's NIC on one proto/port, with the rules that ask for it, the
expectation, and the path the flow should take. The NIC-selection rule of
DESIGN.md lives in `Host.nic_facing`; this module applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from netcheck.appplan import ENDPOINT_NIC, Params, app_probe, endpoint_names, endpoint_params
from netcheck.catalog import AZURE_ENDPOINTS, Catalog, Evidence, Rule, Scope, load_catalog
from netcheck.errors import ConfigError, Location
from netcheck.topology.model import Host, Role, SweepSettings, Topology

__all__ = ["NO_MATCHING_HOSTS", "Limit", "Plan", "ProbeSpec", "Skipped", "build_plan"]

NO_MATCHING_HOSTS = "no matching source and destination hosts in the topology"

# Cells that only need a TCP connect; every other kind probes a real service as it is
# (TLS, DNS, NTP, Azure endpoints: netcheck.appplan), so no responder is opened for them.
CONNECT_KIND = "tcp_connect"


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    cell_id: str
    source_host: str
    source_nic: str
    source_address: str
    dest_host: str
    dest_nic: str
    dest_address: str
    proto: str
    port: int  # the port probed
    documented_port: int  # the port the documentation (or the override) names
    rule_ids: tuple[str, ...]
    evidence: Evidence
    expect_reachable: bool
    path: str | None  # the declared path the flow should cross, None within a site
    kind: str
    params: Params = ()  # inputs of application probes (SNI, DNS name, proxy, resolver)

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"{self.cell_id}: port {self.port}")
        if not self.rule_ids:
            raise ValueError(f"{self.cell_id}: no rule")

    @property
    def rule_id(self) -> str:
        return self.rule_ids[0]

    @property
    def is_endpoint(self) -> bool:
        """The destination is an Azure endpoint name, not a host of the topology."""
        return self.kind == "https_endpoint"

    @property
    def column(self) -> str:
        """The matrix column: destination and port."""
        return f"{self.dest_host}:{self.port}"

    @property
    def row(self) -> str:
        return f"{self.source_host} ({self.source_nic} {self.source_address})"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A rule (or a rule for one source) the plan could not turn into probes, and why."""

    rule_id: str
    reason: str
    source_host: str | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """A plan narrowed with `--limit PATTERN` (netcheck.limit): what it kept of the whole."""

    pattern: str
    total_cells: int  # cells of the unlimited plan

    def describe(self, cells: int) -> str:
        return (
            f"LIMITED to hosts matching {self.pattern!r}: {cells} of {self.total_cells} cells "
            "(a cell is kept when its source or destination matches)"
        )


@dataclass(frozen=True, slots=True)
class Plan:
    topology: Topology
    catalog: Catalog
    specs: tuple[ProbeSpec, ...]
    skipped: tuple[Skipped, ...]
    settings: SweepSettings
    limit: Limit | None = None  # None: the whole matrix

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def rules(self) -> tuple[Rule, ...]:
        user = tuple(Rule.from_user(r) for r in self.topology.rules)
        return self.catalog.rules + user

    def by_source(self) -> dict[str, list[ProbeSpec]]:
        out: dict[str, list[ProbeSpec]] = {}
        for s in self.specs:
            out.setdefault(s.source_host, []).append(s)
        return out

    def listeners(self) -> dict[str, list[tuple[str, int]]]:
        """Per destination host: the (address, port) pairs the sweep will probe (TCP)."""
        out: dict[str, list[tuple[str, int]]] = {}
        for s in self.specs:
            if s.proto != "tcp" or s.kind != CONNECT_KIND:
                continue  # application probes talk to the real service
            key = (s.dest_address, s.port)
            lst = out.setdefault(s.dest_host, [])
            if key not in lst:
                lst.append(key)
        return out


def _cell_id(src: Host, src_nic: str, dst: Host, dst_nic: str, proto: str, port: int) -> str:
    return f"{src.name}/{src_nic}>{dst.name}/{dst_nic}:{proto}/{port}"


class _HostIndex:
    """Hosts by role and by replication group, so expansion is not quadratic in VMs."""

    def __init__(self, topo: Topology) -> None:
        self.topo = topo
        self.by_role: dict[Role, list[Host]] = {}
        self.by_group: dict[str, list[Host]] = {}
        for h in topo.hosts:
            for role in h.roles:
                self.by_role.setdefault(role, []).append(h)
            for g in h.groups:
                self.by_group.setdefault(g, []).append(h)

    def _with_roles(self, roles: Iterable[object]) -> list[Host]:
        seen: dict[str, Host] = {}
        for role in roles:
            if isinstance(role, Role):
                for h in self.by_role.get(role, ()):
                    seen.setdefault(h.name, h)
        return (
            [h for h in self.topo.hosts if h.name in seen] if len(seen) > 1 else list(seen.values())
        )

    def sources(self, rule: Rule) -> list[Host]:
        if rule.source_host is not None:
            return [self.topo.host(rule.source_host)]
        return self._with_roles(rule.sources)

    def destinations(self, rule: Rule, src: Host) -> list[Host]:
        if rule.dest_host is not None:
            return [self.topo.host(rule.dest_host)]
        if rule.same_group:
            roles = set(rule.targets)
            members: dict[str, Host] = {}
            for g in src.groups:
                for h in self.by_group.get(g, ()):
                    if roles & set(h.roles):
                        members.setdefault(h.name, h)
            return list(members.values())
        return self._with_roles(rule.targets)


# Bounds on expansion, so a rule that pairs every host with every other (a user rule
# protected_vm -> protected_vm over 10,000 VMs) is an error in a second, not a
# MemoryError after minutes. The 1,000-VM benchmark plan has 5,005 cells.
MAX_PLAN_CELLS = 200_000
MAX_PLAN_PAIRS = 2_000_000  # source/destination pairs considered, cells or not


class _PlanBudget:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pairs = 0

    def spend(self, rule_id: str, cells: int) -> None:
        self.pairs += 1
        if cells > MAX_PLAN_CELLS or self.pairs > MAX_PLAN_PAIRS:
            what = (
                f"more than {MAX_PLAN_CELLS:,} cells"
                if cells > MAX_PLAN_CELLS
                else f"more than {MAX_PLAN_PAIRS:,} host pairs"
            )
            raise ConfigError(
                f"the plan grows to {what} (at rule {rule_id!r}); split the topology into "
                "sites or groups swept one at a time, or disable the rule that pairs every "
                "host with every other (disable_rules)",
                location=Location(self.source),
            )


def _applies(rule: Rule, src: Host, dst: Host) -> bool:
    if src.name == dst.name:
        return False  # e.g. the default master target runs on the configuration server
    if rule.scope is Scope.SAME_SITE and src.site != dst.site:
        return False
    if rule.same_group and not set(src.groups) & set(dst.groups):
        return False
    return not (rule.dest_os is not None and dst.os is not None and dst.os != rule.dest_os)


def build_plan(
    topo: Topology,
    catalog: Catalog | None = None,
    settings: SweepSettings | None = None,
    only_rules: Iterable[str] = (),
) -> Plan:
    """Expand the topology against the catalog and the topology's own rules."""
    catalog = catalog or load_catalog()
    rules = list(catalog.rules) + [Rule.from_user(r) for r in topo.rules]
    known = {r.id for r in rules}
    for rid in topo.disabled_rules:
        if rid not in known:
            raise ConfigError(
                f"unknown rule id {rid!r}; known: {', '.join(sorted(known))}",
                location=Location(topo.source),
                field="disable_rules",
            )
    only = set(only_rules)
    for rid in only - known:
        raise ConfigError(f"unknown rule id {rid!r}; known: {', '.join(sorted(known))}")
    specs: dict[tuple[str, str, str, str, int], ProbeSpec] = {}
    index = _HostIndex(topo)
    budget = _PlanBudget(topo.source)
    skipped: list[Skipped] = []
    for rule in rules:
        if rule.id in topo.disabled_rules or (only and rule.id not in only):
            continue
        documented, probed = rule.port_for(topo.ports)
        if AZURE_ENDPOINTS in rule.targets:
            _plan_endpoints(rule, topo, catalog, index, probed, specs, skipped)
            continue
        matched = False
        for src in index.sources(rule):
            for dst in index.destinations(rule, src):
                budget.spend(rule.id, len(specs))
                if not _applies(rule, src, dst):
                    continue
                matched = True
                probe = app_probe(rule, dst, documented, topo)
                if probe is None:
                    skipped.append(
                        Skipped(rule.id, f"no {rule.proto.upper()} probe for port {documented}")
                    )
                    continue
                if not src.agent.runs:
                    skipped.append(
                        Skipped(rule.id, f"no agent on {src.name} (agent: none)", src.name)
                    )
                    continue
                s_nic = src.nic_facing(dst.site)
                d_nic = dst.nic_facing(src.site)
                key = (src.name, s_nic.name, dst.name, rule.proto, probed)
                # d_nic follows from the pair of hosts, so the key needs no dest NIC
                if key in specs:
                    old = specs[key]
                    specs[key] = _merge(old, rule)
                    continue
                path = topo.path_between(src.site, dst.site)
                specs[key] = ProbeSpec(
                    cell_id=_cell_id(src, s_nic.name, dst, d_nic.name, rule.proto, probed),
                    source_host=src.name,
                    source_nic=s_nic.name,
                    source_address=str(s_nic.address),
                    dest_host=dst.name,
                    dest_nic=d_nic.name,
                    dest_address=str(d_nic.address),
                    proto=rule.proto,
                    port=probed,
                    documented_port=documented,
                    rule_ids=(rule.id,),
                    evidence=rule.evidence,
                    expect_reachable=rule.expect_reachable,
                    path=path.name if path else None,
                    kind=probe[0],
                    params=probe[1],
                )
        if not matched:
            skipped.append(
                Skipped(rule.id, "no matching source and destination hosts in the topology")
            )
    return Plan(
        topology=topo,
        catalog=catalog,
        specs=tuple(specs.values()),
        skipped=_dedupe(skipped),
        settings=settings or topo.sweep,
    )


def _plan_endpoints(
    rule: Rule,
    topo: Topology,
    catalog: Catalog,
    index: _HostIndex,
    port: int,
    specs: dict[tuple[str, str, str, str, int], ProbeSpec],
    skipped: list[Skipped],
) -> None:
    """One `https_endpoint` cell per source host and concrete endpoint name."""
    names, why = endpoint_names(topo, catalog)
    skipped.extend(Skipped(rule.id, reason) for reason in why)
    sources = index.sources(rule)
    if not sources:
        skipped.append(Skipped(rule.id, NO_MATCHING_HOSTS))
        return
    for src in sources:
        if not names:
            break
        if not src.agent.runs:
            skipped.append(Skipped(rule.id, f"no agent on {src.name} (agent: none)", src.name))
            continue
        nic = src.nic_facing(src.site)
        params = endpoint_params(topo, src)
        for name in names:
            key = (src.name, nic.name, name, rule.proto, port)
            if key in specs:
                specs[key] = _merge(specs[key], rule)
                continue
            specs[key] = ProbeSpec(
                cell_id=f"{src.name}/{nic.name}>{name}/{ENDPOINT_NIC}:{rule.proto}/{port}",
                source_host=src.name,
                source_nic=nic.name,
                source_address=str(nic.address),
                dest_host=name,
                dest_nic=ENDPOINT_NIC,
                dest_address=name,
                proto=rule.proto,
                port=port,
                documented_port=rule.port_for(topo.ports)[0],
                rule_ids=(rule.id,),
                evidence=rule.evidence,
                expect_reachable=rule.expect_reachable,
                path=None,
                kind="https_endpoint",
                params=params,
            )


def _merge(spec: ProbeSpec, rule: Rule) -> ProbeSpec:
    """Two rules asking for the same cell: one probe, both rule ids.

    Contradicting expectations (one rule says reachable, another blocked) are not
    guessed at: they are a topology error.
    """
    if spec.expect_reachable != rule.expect_reachable:
        raise ConfigError(
            f"rules {spec.rule_id!r} and {rule.id!r} contradict each other on "
            f"{spec.source_host} → {spec.dest_host}:{spec.port} (one expects reachable, one blocked)"
        )
    evidence = spec.evidence
    if Evidence.DOCUMENTED in (spec.evidence, rule.evidence):
        evidence = Evidence.DOCUMENTED
    return replace(spec, rule_ids=(*spec.rule_ids, rule.id), evidence=evidence)


def _dedupe(items: list[Skipped]) -> tuple[Skipped, ...]:
    seen: set[Skipped] = set()
    out = []
    for s in items:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return tuple(out)
