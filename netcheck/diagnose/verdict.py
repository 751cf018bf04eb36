"""Pure verdicts over diagnostics: where a flow dies, which path it takes, is the path sound.

No I/O: traces, echo series and PMTU results in; the topology's words out
("9443 dies after vpn-rtr 198.18.200.2 (s2s-vpn), before onprem-gw
198.18.200.6"), and findings per declared path judged against its `expect`.
"""

from __future__ import annotations

from netcheck.diagnose.model import (
    Breakpoint,
    Finding,
    FindingLevel,
    Hop,
    Measurement,
    PathDirection,
)
from netcheck.stats import percentile
from netcheck.topology.model import Path, Topology

__all__ = [
    "gateway_label",
    "identify_path",
    "judge_path",
    "locate_break",
    "ordered_gateways",
]

#: The MTU hosts assume on Ethernet; a path below it needs working PMTUD or MSS clamping.
ETHERNET_MTU = 1500


def gateway_label(topo: Topology, address: str | None) -> str:
    """'vpn-rtr 198.18.200.2 (s2s-vpn)' for a declared gateway, else the address."""
    if address is None:
        return "?"
    owners: list[str] = []
    name = None
    for path in topo.paths:
        for i, gw in enumerate(path.gateways):
            if str(gw) == address:
                owners.append(path.name)
                name = name or path.gateway_name(i)
    if not owners:
        return address
    head = f"{name} {address}" if name else address
    return f"{head} ({', '.join(owners)})"


def ordered_gateways(path: Path, source_site: str) -> list[tuple[str, list[str]]]:
    """The path's routers in the order a flow from `source_site` meets them.

    A router is a run of gateways with one name (an unnamed gateway is a router
    of its own), declared from `sites[0]`'s side to `sites[1]`'s, each router's
    addresses likewise: the first is the one a trace from `sites[0]` sees, the
    last the one a trace from `sites[1]` sees. Returns (the address a flow from
    `source_site` sees, every address of the router) per router.
    """
    groups: list[list[str]] = []
    last_name: str | None = None
    for i, g in enumerate(path.gateways):
        name = path.gateway_name(i)
        if groups and name is not None and name == last_name:
            groups[-1].append(str(g))
        else:
            groups.append([str(g)])
        last_name = name
    if source_site == path.sites[0]:
        return [(grp[0], grp) for grp in groups]
    return [(grp[-1], grp) for grp in reversed(groups)]


def _names(topo: Topology, address: str) -> str:
    return gateway_label(topo, address)


def locate_break(
    trace: Measurement, topo: Topology, path: Path | None, source_site: str | None
) -> Breakpoint:
    """Where the traced flow stops: the last hop that answered and the first silent one."""
    port = f"{trace.proto}/{trace.port}" if trace.port else trace.proto
    if not trace.available:
        return Breakpoint(False, trace.not_available)
    hops = trace.hops
    by_ttl: dict[int, list[Hop]] = {}
    for h in hops:
        by_ttl.setdefault(h.ttl, []).append(h)
    ttls = sorted(by_ttl)
    answered = {t: next((h for h in by_ttl[t] if h.answered), None) for t in ttls}
    last_t = max((t for t in ttls if answered[t] is not None), default=None)
    if last_t is None:
        return Breakpoint(
            True,
            f"{port}: nothing answered the trace from {trace.source_host} {trace.source_address or ''}"
            f" (TTL 1 to {ttls[-1] if ttls else 1}): the probes are dropped silently at the source, "
            "at its first gateway, or at the target itself when it is one hop away",
            first_silent_ttl=ttls[0] if ttls else 1,
        )
    last = answered[last_t]
    assert last is not None
    label = gateway_label(topo, last.address)
    if last.reply in ("syn-ack", "rst", "echo-reply", "answer") or last.icmp == "port-unreachable":
        what = {
            "syn-ack": "the port answered (open) when traced",
            "rst": "the target itself reset the connection (closed)",
        }.get(last.reply, "the target answered")
        return Breakpoint(
            True,
            f"{port} reaches {trace.dest_host} {trace.dest_address} at hop {last_t}: {what}",
            last_hop=last,
            last_label=label,
            reached=True,
        )
    if last.reply == "unreachable":
        return Breakpoint(
            True,
            f"{port} is refused by {label} at hop {last_t} with ICMP {last.icmp} "
            f"(type {last.icmp_type} code {last.icmp_code})",
            last_hop=last,
            last_label=label,
            icmp=last.icmp,
        )
    silent = next((t for t in ttls if t > last_t and answered[t] is None), last_t + 1)
    nxt = ""
    if path is not None and source_site is not None and last.address is not None:
        routers = ordered_gateways(path, source_site)
        at = next((i for i, (_, addrs) in enumerate(routers) if last.address in addrs), None)
        if at is not None and at + 1 < len(routers):
            nxt = _names(topo, routers[at + 1][0])
    before = f"before {nxt}" if nxt else f"before hop {silent}"
    if not nxt and path is not None:
        before += f" ({path.name})"
    return Breakpoint(
        True,
        f"{port} dies after {label} (hop {last_t}), {before}: hop {silent} and later are silent",
        last_hop=last,
        last_label=label,
        first_silent_ttl=silent,
        next_expected=nxt,
    )


def identify_path(
    topo: Topology, hops: tuple[Hop, ...], site_a: str, site_b: str
) -> tuple[str | None, tuple[str, ...]]:
    """Which declared path between the sites the hops cross, and the gateways seen.

    A gateway shared by several paths (one VNet gateway for VPN and
    ExpressRoute) identifies none of them; the path with the most gateways of
    its own among the answering hops wins. None when no distinguishing one answered.
    """
    seen = [h.address for h in hops if h.answered and h.address]
    candidates = [p for p in topo.paths if p.joins(site_a, site_b)]
    owners: dict[str, set[str]] = {}
    for p in candidates:
        for g in p.gateways:
            owners.setdefault(str(g), set()).add(p.name)
    score: dict[str, int] = {}
    gws: list[str] = []
    for addr in seen:
        if addr in owners:
            gws.append(addr)
            if len(owners[addr]) == 1:
                (name,) = owners[addr]
                score[name] = score.get(name, 0) + 1
    if not score:
        return None, tuple(dict.fromkeys(gws))
    best = max(score.items(), key=lambda kv: kv[1])[0]
    return best, tuple(dict.fromkeys(gws))


def _echo_findings(path: Path, d: PathDirection) -> list[Finding]:
    out: list[Finding] = []
    m = d.echo
    if m is None:
        return out
    who = f"{d.source_host} → {d.dest_host}"
    if not m.available:
        return [Finding(FindingLevel.UNKNOWN, "echo-unavailable", f"{who}: {m.not_available}")]
    loss = m.loss_pct
    rtts = sorted(m.rtts_ms())
    exp = path.expect
    if loss is not None and m.received == 0:
        out.append(
            Finding(
                FindingLevel.WARN,
                "echo-no-reply",
                f"{who}: no ICMP echo reply ({m.sent} sent): ICMP echo is blocked on the path "
                "or at the host; RTT and loss are judged from the TCP cells only",
            )
        )
        return out
    # A few echoes are a diagnostic figure, not a loss measurement to fail a sweep on
    # (one lost reply of five is 20%): the cells crossing the path are judged against
    # the same max_loss_pct / max_rtt_ms with their own attempts. These warn.
    if loss is not None and exp.max_loss_pct is not None and loss > exp.max_loss_pct:
        out.append(
            Finding(
                FindingLevel.WARN,
                "loss",
                f"{who}: ICMP echo loss {loss:.0f}% ({m.sent - m.received} of {m.sent}) exceeds "
                f"{path.name}'s max_loss_pct {exp.max_loss_pct:g}",
            )
        )
    if rtts and exp.max_rtt_ms is not None:
        p50 = percentile(rtts, 50)
        if p50 > exp.max_rtt_ms:
            out.append(
                Finding(
                    FindingLevel.WARN,
                    "rtt",
                    f"{who}: ICMP echo median RTT {p50:.1f} ms exceeds {path.name}'s "
                    f"max_rtt_ms {exp.max_rtt_ms:g}",
                )
            )
    return out


def _pmtu_findings(path: Path, d: PathDirection) -> list[Finding]:
    m = d.pmtu
    if m is None:
        return []
    who = f"{d.source_host} → {d.dest_host}"
    if not m.available:
        return [Finding(FindingLevel.UNKNOWN, "pmtu-unavailable", f"{who}: {m.not_available}")]
    if m.pmtu is None:
        return [
            Finding(
                FindingLevel.UNKNOWN,
                "pmtu-unknown",
                f"{who}: path MTU not found ({m.detail or 'no probe size reached the target'})",
            )
        ]
    out: list[Finding] = []
    exp = path.expect.mtu
    if exp is not None and m.pmtu < exp:
        # a router said so (frag-needed) or our stack knew it: a fact. Only silence
        # above the size: a PMTU black hole, or lost probes: a warning.
        said = any(h.icmp == "frag-needed" or h.reply == "local-error" for h in m.hops)
        out.append(
            Finding(
                FindingLevel.FAIL if said else FindingLevel.WARN,
                "pmtu-below-expect",
                f"{who}: path MTU {m.pmtu} is below {path.name}'s expected mtu {exp}"
                + (
                    ""
                    if said
                    else " (no frag-needed came back: larger probes went unanswered, a PMTU "
                    "black hole or lost probes)"
                ),
            )
        )
    if m.iface_mtu is not None and m.pmtu < m.iface_mtu and m.iface_mtu >= ETHERNET_MTU:
        out.append(
            Finding(
                FindingLevel.WARN,
                "pmtu-below-interface",
                f"{who}: path MTU {m.pmtu} is below the {m.iface_mtu} that {d.source_host}'s "
                f"interface {m.iface or '?'} assumes: full-size packets (replication data) only "
                "pass while ICMP frag-needed comes back (PMTUD) or the VPN clamps the TCP MSS; "
                f"a firewall dropping that ICMP stalls replication while small packets pass. "
                f"Set the interface MTU to {m.pmtu} or clamp the MSS to {m.pmtu - 40}",
            )
        )
    return out


def _path_findings(
    topo: Topology, path: Path, expected: Path | None, d: PathDirection
) -> list[Finding]:
    who = f"{d.source_host} → {d.dest_host}"
    if d.trace is None:
        return []
    if not d.trace.available:
        return [
            Finding(FindingLevel.UNKNOWN, "trace-unavailable", f"{who}: {d.trace.not_available}")
        ]
    if d.taken is None:
        return [
            Finding(
                FindingLevel.UNKNOWN,
                "path-unidentified",
                f"{who}: no gateway that identifies a declared path answered the trace"
                + (f" (seen: {', '.join(d.gateways_seen)})" if d.gateways_seen else ""),
            )
        ]
    if expected is not None and d.taken != expected.name:
        seen = ", ".join(gateway_label(topo, g) for g in d.gateways_seen)
        return [
            Finding(
                FindingLevel.FAIL,
                "path-mismatch",
                f"{who}: traffic crosses {d.taken}, expected {expected.name} (the first path "
                f"declared between {expected.sites[0]} and {expected.sites[1]}); hops: {seen}",
            )
        ]
    return [Finding(FindingLevel.INFO, "path-taken", f"{who}: crosses {d.taken}, as expected")]


def judge_path(
    topo: Topology, path: Path, directions: tuple[PathDirection, ...]
) -> tuple[Finding, ...]:
    """Findings for one declared path from what was measured between its two sites.

    Traffic between two sites takes one route: the first declared path is the
    one it should take, so a trace identifying another is a `path-mismatch`
    on that expected path. RTT, loss and MTU describe the path the traffic
    took, so they are judged on this path only when it carried the traffic
    (when the trace could not tell: on the expected path only).
    """
    expected = topo.path_between(*path.sites)
    is_expected = expected is not None and expected.name == path.name
    out: list[Finding] = []
    for d in directions:
        if is_expected:
            out += _path_findings(topo, path, expected, d)
        elif d.taken != path.name:
            if d.taken is None:  # the trace could not tell: judged on the expected path only
                continue
            out.append(
                Finding(
                    FindingLevel.INFO,
                    "not-crossed",
                    f"{d.source_host} → {d.dest_host}: the traffic crosses {d.taken}, not this "
                    "path (not measured here)",
                )
            )
            continue
        else:  # this alternative path carried the traffic
            out.append(
                Finding(
                    FindingLevel.INFO,
                    "path-taken",
                    f"{d.source_host} → {d.dest_host}: crosses {path.name} "
                    f"(instead of {expected.name if expected else '?'})",
                )
            )
        if d.taken in (None, path.name):
            out += _echo_findings(path, d)
            out += _pmtu_findings(path, d)
    if not directions:
        out.append(
            Finding(
                FindingLevel.UNKNOWN,
                "not-measured",
                f"{path.name}: no agent on either side could measure it",
            )
        )
    return tuple(out)
