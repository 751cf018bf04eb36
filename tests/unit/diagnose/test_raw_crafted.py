"""The scapy probes fed crafted scapy replies: classification and the probes' decisions.

No packet leaves the machine: `exchange` (scapy's `sr` in production) is replaced by
a function that answers the probes it is given with packets built here, the way the
routers and hosts of the failback lab would.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from netcheck_agent import protocol as p
from netcheck_agent.probes import raw
from netcheck_agent.probes.replies import classify_packet, syn_outcome

from tests.conftest import require

require(importlib.util.find_spec("scapy") is not None, "scapy is not installed (test extra)")

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror  # noqa: E402

PS, MT = "198.19.1.4", "198.18.2.20"
AZURE_GW, VPN_RTR, ONPREM_GW = "198.19.1.1", "198.18.200.2", "198.18.200.6"


def wire(pkt: Any) -> Any:
    """As it would come off the wire (fields computed, layers re-dissected)."""
    return IP(bytes(pkt))


def icmp_error(src: str, icmp_type: int, code: int, quoted: Any, **kw: Any) -> Any:
    q = quoted.getlayer(IP)
    inner = IPerror(src=q.src, dst=q.dst, ttl=1, proto=q.proto) / TCPerror(
        sport=q[TCP].sport, dport=q[TCP].dport
    )
    return wire(IP(src=src, dst=q.src) / ICMP(type=icmp_type, code=code, **kw) / inner)


SYN = IP(src=PS, dst=MT, ttl=3) / TCP(sport=40000, dport=9443, flags="S")


def test_syn_ack_is_open_and_rst_is_closed() -> None:
    synack = wire(IP(src=MT, dst=PS) / TCP(sport=9443, dport=40000, flags="SA"))
    rst = wire(IP(src=MT, dst=PS) / TCP(sport=9443, dport=40000, flags="RA"))
    a, b = classify_packet(synack), classify_packet(rst)
    assert (a.reply, a.address, syn_outcome(a), a.from_target) == ("syn-ack", MT, "open", True)
    assert (b.reply, syn_outcome(b), b.from_target) == ("rst", "closed", True)
    assert syn_outcome(classify_packet(None)) == "filtered"


def test_time_exceeded_names_the_router_not_the_target() -> None:
    r = classify_packet(icmp_error(VPN_RTR, 11, 0, SYN))
    assert (r.reply, r.address, r.icmp, r.icmp_type, r.icmp_code) == (
        "time-exceeded",
        VPN_RTR,
        "time-exceeded",
        11,
        0,
    )
    assert not r.from_target


def test_fragmentation_needed_carries_the_next_hop_mtu() -> None:
    r = classify_packet(icmp_error(AZURE_GW, 3, 4, SYN, nexthopmtu=1400))
    assert (r.reply, r.icmp, r.mtu) == ("unreachable", "frag-needed", 1400)


def test_admin_prohibited_and_the_other_unreachables_are_named() -> None:
    named = {
        code: classify_packet(icmp_error(ONPREM_GW, 3, code, SYN)).icmp for code in (0, 1, 3, 13)
    }
    assert named == {
        0: "net-unreachable",
        1: "host-unreachable",
        3: "port-unreachable",
        13: "admin-prohibited",
    }
    r = classify_packet(icmp_error(ONPREM_GW, 3, 13, SYN))
    assert (syn_outcome(r), r.mtu, r.from_target) == ("unreachable", None, False)


def test_echo_reply() -> None:
    r = classify_packet(wire(IP(src=MT, dst=PS) / ICMP(type=0, id=7, seq=1)))
    assert (r.reply, r.from_target) == ("echo-reply", True)


# --- the probes over a crafted failback path ------------------------------------------------


class FakePath:
    """ps-azure → azure-gw → vpn-rtr → onprem-gw → mt01, answering scapy probes.

    `drop_after`: routers from that hop on drop the flow (vpn-rtr drops at 2: it still
    answers TTL 2, like Linux, which checks the TTL before the forward hook).
    `prohibit_at`: that router rejects the flow with admin-prohibited. `mtu`: the
    VPN hop's MTU (azure-gw answers frag-needed above it).
    """

    routers = (AZURE_GW, VPN_RTR, ONPREM_GW)

    def __init__(
        self, drop_after: int | None = None, prohibit_at: int | None = None, mtu: int = 1500
    ):
        self.drop_after = drop_after
        self.prohibit_at = prohibit_at
        self.mtu = mtu
        self.sent: list[Any] = []
        self.emitted: list[Any] = []

    def answer(self, pkt: Any) -> Any:
        ip = pkt.getlayer(IP)
        if ip.flags.DF and len(pkt) > self.mtu:
            return icmp_error_any(AZURE_GW, 3, 4, pkt, nexthopmtu=self.mtu)
        for hop, router in enumerate(self.routers, 1):
            if self.drop_after is not None and hop > self.drop_after:
                return None
            if ip.ttl == hop:
                return icmp_error_any(router, 11, 0, pkt)
            if self.prohibit_at == hop:
                return icmp_error_any(router, 3, 13, pkt)
        if pkt.haslayer(TCP):
            return wire(
                IP(src=MT, dst=PS)
                / TCP(sport=9443, dport=pkt[TCP].sport, flags="SA", ack=pkt[TCP].seq + 1)
            )
        if pkt.haslayer(UDP):
            return icmp_error_any(MT, 3, 3, pkt)
        return wire(IP(src=MT, dst=PS) / ICMP(type=0, id=pkt[ICMP].id, seq=pkt[ICMP].seq))

    def exchange(self, packets: Any, timeout_s: float) -> list[tuple[Any, Any, float | None]]:
        self.sent.extend(packets)
        out = []
        for pkt in packets:
            reply = self.answer(pkt)
            out.append((pkt, reply, None if reply is None else 0.001 * pkt[IP].ttl))
        return out

    def emit(self, pkt: Any) -> None:
        self.emitted.append(pkt)


def icmp_error_any(src: str, icmp_type: int, code: int, quoted: Any, **kw: Any) -> Any:
    q = quoted.getlayer(IP)
    return wire(
        IP(src=src, dst=PS) / ICMP(type=icmp_type, code=code, **kw) / IPerror(bytes(q)[:28])
    )


def req(kind: str, **kw: Any) -> p.DiagRequest:
    base: dict[str, Any] = {"src": PS, "timeout_ms": 100, "max_ttl": 16, "max_packets": 32}
    base.update(kw)
    port = base.pop("port", 9443)
    return p.DiagRequest("d1", kind, MT, port, **base)


def test_tcp_traceroute_reaches_the_port_and_resets_the_handshake() -> None:
    net = FakePath()
    res = raw.traceroute(req("traceroute"), net.exchange, net.emit)
    assert (res.method, res.reached) == ("scapy", True)
    assert [(h.address, h.reply) for h in res.hops] == [
        (AZURE_GW, "time-exceeded"),
        (VPN_RTR, "time-exceeded"),
        (ONPREM_GW, "time-exceeded"),
        (MT, "syn-ack"),
    ]
    assert all(x[TCP].dport == 9443 and x[TCP].flags == "S" for x in net.sent)
    (rst,) = net.emitted  # our RST for the one SYN-ACK
    assert rst[TCP].flags == "R" and rst[IP].src == PS
    assert res.packets == len(net.sent) + 1


def test_traceroute_of_a_drop_at_the_vpn_router_ends_there_within_budget() -> None:
    net = FakePath(drop_after=2)
    res = raw.traceroute(req("traceroute"), net.exchange, net.emit)
    answered = [h for h in res.hops if h.reply != "none"]
    assert answered[-1].address == VPN_RTR and not res.reached
    assert res.detail == "stopped: gap" and len(net.sent) <= 8
    assert net.emitted == []


def test_traceroute_names_admin_prohibited() -> None:
    net = FakePath(prohibit_at=3)
    res = raw.traceroute(req("traceroute"), net.exchange, net.emit)
    last = res.hops[-1]
    assert (last.address, last.icmp, last.icmp_type, last.icmp_code) == (
        ONPREM_GW,
        "admin-prohibited",
        3,
        13,
    )


def test_syn_probe() -> None:
    net = FakePath()
    res = raw.syn(req("syn"), net.exchange, net.emit)
    assert (res.detail, res.reached, res.packets) == ("open", True, 2)
    net = FakePath(prohibit_at=3)
    res = raw.syn(req("syn"), net.exchange, net.emit)
    assert (res.detail, res.hops[0].icmp) == ("unreachable", "admin-prohibited")


def test_pmtu_over_the_vpn_is_1400_from_frag_needed() -> None:
    net = FakePath(mtu=1400)
    res = raw.pmtu(req("pmtu", proto="icmp", port=0), net.exchange)
    assert res.pmtu == 1400
    assert [h.size for h in res.hops] == [1500, 1400]
    assert res.hops[0].icmp == "frag-needed" and res.hops[0].mtu == 1400
    assert all(x[IP].flags.DF for x in net.sent)
    assert [len(x) for x in net.sent] == [1500, 1400]


def test_echo_counts_loss() -> None:
    net = FakePath()
    res = raw.echo(req("echo", proto="icmp", port=0, count=3, interval_ms=0), net.exchange)
    assert (res.sent, res.received, res.reached) == (3, 3, True)
    net = FakePath(drop_after=0)
    res = raw.echo(req("echo", proto="icmp", port=0, count=3, interval_ms=0), net.exchange)
    assert (res.sent, res.received, res.reached) == (3, 0, False)
