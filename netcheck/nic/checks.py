"""The dual-NIC checks: pure functions from the topology, the per-NIC cells and what the
host's agent read (interfaces, route choices, captured handshakes, ARP answers) to findings.

A check whose input is missing (no agent, not Linux, no scapy, no privilege)
gives an `unknown` finding that says why: never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netcheck_agent import protocol as p

from netcheck.nic.capture import asymmetry, path_notes
from netcheck.nic.live import Live, prefixes
from netcheck.nic.model import (
    HostNicReport,
    NicCellResult,
    NicFinding,
    NicInfo,
    NicVerdict,
)
from netcheck.topology.model import Host, IPNetwork, Nic, Topology

__all__ = ["analyse", "live_overlaps", "topology_overlaps"]

PASS, FAIL, WARN, UNKNOWN = NicVerdict.PASS, NicVerdict.FAIL, NicVerdict.WARN, NicVerdict.UNKNOWN

_HINT_OVERLAP = (
    "Give the source network and the failed-over Azure network ranges that do not overlap. "
    "With retained IP addresses the configuration server needs two NICs, one for the source "
    "machines and one for Azure failback connectivity on a subnet of its own, so the source "
    "and failed-over subnets don't overlap; NICs can't be added after the configuration "
    "server is registered."
)
_HINT_DUPLICATE = (
    "Another machine answers for this address: find it by its MAC (switch MAC table, DHCP "
    "leases) and shut it down or re-address it before failback. A restored configuration "
    "server must keep its IP address, so the old one (or a copy still running) has to go."
)
_HINT_ADDRESS = (
    "Give the NIC its declared address: a configuration server that is restored must keep its "
    "IP addresses, and the failback NIC must exist before the server is registered (NICs can't "
    "be added after registration)."
)


def _site_nets(topo: Topology, site: str) -> list[tuple[str, IPNetwork]]:
    return list(topo.site(site).networks)


def _remote_sites(host: Host) -> list[str]:
    """The other sites the host's NICs face (Azure, for a configuration server)."""
    out: list[str] = []
    for nic in host.nics:
        for s in nic.faces or (host.site,):
            if s != host.site and s not in out:
                out.append(s)
    return out


def topology_overlaps(topo: Topology, host: Host) -> list[NicFinding]:
    """The host's own site's networks against the networks of the sites its NICs face."""
    remote = _remote_sites(host)
    if not remote:
        return []
    own = _site_nets(topo, host.site)
    found = []
    for site in remote:
        for rname, rnet in _site_nets(topo, site):
            for oname, onet in own:
                if onet.version == rnet.version and onet.overlaps(rnet):
                    found.append(
                        NicFinding(
                            "nic-overlap-topology",
                            host.name,
                            FAIL,
                            f"{host.site} network {oname} {onet} overlaps {site} network "
                            f"{rname} {rnet} (topology)",
                            _HINT_OVERLAP,
                        )
                    )
    if found:
        return found
    shown = ", ".join(f"{s} ({len(_site_nets(topo, s))})" for s in remote)
    return [
        NicFinding(
            "nic-overlap-topology",
            host.name,
            PASS,
            f"no overlap between the {host.site} networks ({len(own)}) and {shown} (topology)",
        )
    ]


def live_overlaps(topo: Topology, host: Host, facts: p.NicFacts) -> list[NicFinding]:
    """Live interface prefixes of the host against the networks of the sites its NICs face."""
    remote = _remote_sites(host)
    if not remote:
        return []
    found = []
    for itf in facts.interfaces:
        if itf.kind == "loopback":
            continue
        for pref in prefixes(itf):
            if pref.network.is_link_local or pref.network.is_loopback:
                continue
            for site in remote:
                for rname, rnet in _site_nets(topo, site):
                    if pref.version == rnet.version and pref.network.overlaps(rnet):
                        found.append(
                            NicFinding(
                                "nic-overlap-live",
                                f"{host.name}/{itf.name}",
                                FAIL,
                                f"{itf.name} {pref} overlaps {site} network {rname} {rnet}: "
                                f"{host.name} takes those addresses for its own segment",
                                _HINT_OVERLAP,
                            )
                        )
    if found:
        return found
    return [
        NicFinding(
            "nic-overlap-live",
            host.name,
            PASS,
            f"no interface prefix of {host.name} overlaps {', '.join(remote)} (live)",
        )
    ]


# --- facts helpers -----------------------------------------------------------------------


_RP = {0: "off", 1: "strict", 2: "loose"}


def _nic_infos(host: Host, live: Live | None) -> tuple[NicInfo, ...]:
    out = []
    for nic in host.nics:
        faces = nic.faces or (host.site,)
        held = live.holding(str(nic.address)) if live else None
        if held is None or live is None:
            out.append(NicInfo(nic.name, str(nic.address), faces))
            continue
        itf, subnet = held
        out.append(
            NicInfo(
                nic.name,
                str(nic.address),
                faces,
                iface=itf.name,
                subnet=subnet,
                default_route=itf.default_route,
                rp_filter=live.rp_filter(itf.name),
                mtu=itf.mtu,
                mac=itf.mac,
            )
        )
    return tuple(out)


def _route_hint(host: Host, want: Nic, peer_site: str, topo: Topology, iface: str | None) -> str:
    nets = ", ".join(str(n) for _, n in _site_nets(topo, peer_site))
    dev = iface or f"the {want.name} NIC"
    return (
        f"Route {peer_site} ({nets}) via the gateway of {host.name}'s {want.name} NIC "
        f"{want.address}: Linux `ip route add <prefix> via <gateway> dev {dev}` (and persist "
        "it), Windows `route -p add <prefix> mask <mask> <gateway> if <index>`; or give the "
        f"{want.name} NIC the lower interface metric. Only one NIC should carry a default "
        "route."
    )


def _route_findings(
    topo: Topology,
    host: Host,
    cells: Sequence[NicCellResult],
    live: Live,
    infos: dict[str, NicInfo],
) -> list[NicFinding]:
    out: list[NicFinding] = []
    seen: set[str] = set()
    for c in cells:
        if not c.cell.expected:
            continue
        peer = topo.host(c.cell.peer)
        addr = c.cell.peer_address
        if addr in seen:
            continue
        seen.add(addr)
        want = host.nic(c.cell.nic)
        info = infos[want.name]
        choice = live.routes.get(addr)
        subject = f"{host.name} → {peer.name}"
        if choice is None:
            out.append(
                NicFinding("nic-route-choice", subject, UNKNOWN, f"no route choice read for {addr}")
            )
            continue
        if choice.src is None:
            out.append(
                NicFinding(
                    "nic-route-choice",
                    subject,
                    FAIL,
                    f"{host.name} has no route to {peer.name} {addr} ({choice.detail})",
                    _route_hint(host, want, peer.site, topo, info.iface),
                )
            )
            continue
        if info.iface is None:
            out.append(
                NicFinding(
                    "nic-route-choice",
                    subject,
                    UNKNOWN,
                    f"{host.name} picks {choice.src} ({choice.iface}) for {peer.name} {addr}; "
                    f"its {want.name} NIC {want.address} is on no interface to compare with",
                )
            )
            continue
        on_iface = [n.name for n in infos.values() if n.iface == choice.iface]
        picked_name = f", NIC {on_iface[0]}" if len(on_iface) == 1 else ""
        if choice.iface == info.iface:
            out.append(
                NicFinding(
                    "nic-route-choice",
                    subject,
                    PASS,
                    f"{host.name} sends to {peer.name} {addr} via {choice.iface} "
                    f"(source {choice.src}{picked_name}), the NIC facing {peer.site}",
                )
            )
            continue
        out.append(
            NicFinding(
                "nic-route-choice",
                subject,
                FAIL,
                f"{host.name} would send to {peer.name} {addr} ({peer.site}) from {choice.src} "
                f"via {choice.iface}{picked_name}, not via its {want.name} NIC {want.address} "
                f"({info.iface})",
                _route_hint(host, want, peer.site, topo, info.iface),
            )
        )
    return out


def _rp_findings(
    topo: Topology,
    host: Host,
    cells: Sequence[NicCellResult],
    live: Live,
    infos: dict[str, NicInfo],
) -> list[NicFinding]:
    """Strict rp_filter on the NIC a peer's packets arrive on, when the route back differs."""
    if live.facts.os_family != "linux":
        return [
            NicFinding(
                "nic-rp-filter",
                host.name,
                UNKNOWN,
                f"reverse-path filtering is a Linux setting; {host.name} runs "
                f"{live.facts.os_family}",
            )
        ]
    out: list[NicFinding] = []
    seen: set[tuple[str, str]] = set()
    for c in cells:
        if not c.cell.expected or c.cell.outbound:
            continue
        info = infos[c.cell.nic]
        src = c.cell.peer_address
        if (src, c.cell.nic) in seen or info.iface is None:
            continue
        seen.add((src, c.cell.nic))
        back = live.routes.get(src)
        if back is None or back.iface is None or back.iface == info.iface:
            continue
        rp = info.rp_filter
        where = f"{host.name}/{info.name}"
        if rp == 1:
            out.append(
                NicFinding(
                    "nic-rp-filter",
                    where,
                    FAIL,
                    f"strict rp_filter on {info.iface} drops packets from {c.cell.peer} {src} "
                    f"arriving on the {info.name} NIC: the route back to {src} leaves via "
                    f"{back.iface}",
                    f"Route {src} back through {info.iface} (the {info.name} NIC faces "
                    f"{', '.join(info.faces)}), or set net.ipv4.conf.{info.iface}.rp_filter=2 "
                    "(loose) if the asymmetry is intended.",
                )
            )
        else:
            out.append(
                NicFinding(
                    "nic-rp-filter",
                    where,
                    WARN,
                    f"packets from {c.cell.peer} {src} arrive on {info.iface} but the route back "
                    f"leaves via {back.iface} (rp_filter {_RP.get(rp, '?') if rp is not None else '?'} lets them in)",
                    f"Route {src} back through {info.iface} so replies leave the NIC "
                    "they came in on.",
                )
            )
    if not out:
        shown = ", ".join(
            f"{n.iface} {_RP.get(n.rp_filter, '?') if n.rp_filter is not None else '?'}"
            for n in infos.values()
            if n.iface
        )
        out.append(
            NicFinding(
                "nic-rp-filter",
                host.name,
                PASS,
                f"every peer's packets arrive on the NIC the route back leaves from "
                f"(rp_filter: {shown or 'unknown'})",
            )
        )
    return out


def _default_route(host: Host, live: Live, infos: dict[str, NicInfo]) -> NicFinding:
    carrying = [i.name for i in live.facts.interfaces if i.default_route]
    nics = {n.iface: n.name for n in infos.values() if n.iface}
    shown = ", ".join(f"{i} (NIC {nics[i]})" if i in nics else i for i in carrying)
    if any(i.default_route is None for i in live.facts.interfaces):
        return NicFinding("nic-default-route", host.name, UNKNOWN, "default routes unreadable")
    if len(carrying) > 1:
        return NicFinding(
            "nic-default-route",
            host.name,
            WARN,
            f"{host.name} has default routes through {shown}: which NIC a flow leaves by then "
            "depends on metrics, not on the destination",
            "Keep one default route (on the source NIC) and route the Azure prefixes "
            "explicitly via the failback NIC.",
        )
    return NicFinding(
        "nic-default-route",
        host.name,
        PASS,
        f"default route through {shown}" if carrying else f"{host.name} has no default route",
    )


def _interfaces(host: Host, infos: dict[str, NicInfo], live: Live) -> list[NicFinding]:
    out = []
    for info in infos.values():
        if info.iface is None:
            out.append(
                NicFinding(
                    "nic-address",
                    f"{host.name}/{info.name}",
                    FAIL,
                    f"the {info.name} NIC's address {info.address} is on no interface of "
                    f"{host.name}",
                    _HINT_ADDRESS,
                )
            )
    by_iface: dict[str, list[str]] = {}
    for info in infos.values():
        if info.iface:
            by_iface.setdefault(info.iface, []).append(info.name)
    for iface, names in by_iface.items():
        if len(names) < 2:
            continue
        itf = live.iface(iface)
        if itf is not None and itf.kind == "loopback":
            out.append(
                NicFinding(
                    "nic-address",
                    host.name,
                    PASS,
                    f"NICs {', '.join(names)} are addresses on {iface} (a loopback demo): "
                    "the per-interface checks do not apply",
                )
            )
            continue
        out.append(
            NicFinding(
                "nic-address",
                host.name,
                WARN,
                f"NICs {', '.join(names)} are addresses on one interface {iface}, not two NICs",
                "With retained IP addresses the configuration server needs two NICs (one for the "
                "source machines, one for Azure failback); add the second before registration.",
            )
        )
    if not out:
        out.append(
            NicFinding(
                "nic-address",
                host.name,
                PASS,
                "every NIC's address is on an interface of its own: "
                + ", ".join(f"{i.name} {i.address} on {i.iface}" for i in infos.values()),
            )
        )
    return out


# --- capture ------------------------------------------------------------------------------


def _arp(host: Host, arp: p.ArpCheck, infos: dict[str, NicInfo]) -> list[NicFinding]:
    out = []
    by_addr = {i.address: i for i in infos.values()}
    for r in arp.results:
        info = by_addr.get(r.address)
        subject = f"{host.name}/{info.name}" if info else host.name
        if r.status == "duplicate":
            out.append(
                NicFinding(
                    "nic-duplicate-address",
                    subject,
                    FAIL,
                    f"another machine answers ARP for {r.address} on {r.iface}: "
                    f"{', '.join(r.macs)} (this NIC is {r.own_mac})",
                    _HINT_DUPLICATE,
                )
            )
        elif r.status == "clear":
            out.append(
                NicFinding(
                    "nic-duplicate-address",
                    subject,
                    PASS,
                    f"no other machine answered ARP for {r.address} on {r.iface}",
                )
            )
        else:
            out.append(
                NicFinding(
                    "nic-duplicate-address",
                    subject,
                    UNKNOWN,
                    f"ARP probe for {r.address} not run: {r.detail or r.status}",
                )
            )
    return out


def analyse(
    topo: Topology,
    host: Host,
    cells: Iterable[NicCellResult],
    facts: p.NicFacts | None,
    facts_why: str = "",
    capture: p.CaptureResult | None = None,
    capture_why: str = "",
    arp: p.ArpCheck | None = None,
    arp_why: str = "",
) -> HostNicReport:
    """Every check for one multi-NIC host."""
    live = Live(facts) if facts is not None else None
    cells = path_notes(list(cells), capture, live)
    infos_t = _nic_infos(host, live)
    infos = {i.name: i for i in infos_t}
    findings = topology_overlaps(topo, host)
    if live is None:
        why = f"no live facts from {host.name}: {facts_why or 'not read'}"
        for check in ("nic-address", "nic-overlap-live", "nic-route-choice", "nic-rp-filter"):
            findings.append(NicFinding(check, host.name, UNKNOWN, why))
    else:
        findings += _interfaces(host, infos, live)
        findings += live_overlaps(topo, host, live.facts)
        findings.append(_default_route(host, live, infos))
        findings += _route_findings(topo, host, cells, live, infos)
        findings += _rp_findings(topo, host, cells, live, infos)
    if capture is not None and capture.status == "captured":
        findings += asymmetry(host, cells, capture, live)
    else:
        why = capture.detail if capture is not None else capture_why
        findings.append(
            NicFinding(
                "nic-asymmetric-return",
                host.name,
                UNKNOWN,
                f"replies were not captured on {host.name}: {why or 'not run'}",
            )
        )
    if arp is not None:
        findings += _arp(host, arp, infos)
    else:
        findings.append(
            NicFinding(
                "nic-duplicate-address",
                host.name,
                UNKNOWN,
                f"ARP probes not run on {host.name}: {arp_why or 'not run'}",
            )
        )
    return HostNicReport(
        host=host.name,
        live="live" if facts is not None else (facts_why or "not read"),
        nics=infos_t,
        cells=tuple(cells),
        findings=tuple(findings),
    )
