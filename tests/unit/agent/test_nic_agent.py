"""The agent's NIC side: parsers fed with captured text, messages round-tripped, the ARP
reply filter, the not-run reasons, and the route choice on loopback (UDP connect sends
nothing)."""

from __future__ import annotations

import asyncio
import json

import pytest
from netcheck_agent import protocol as p
from netcheck_agent.capabilities import Capabilities
from netcheck_agent.nic_raw import NicTasks, arp_check, other_macs, tcp_flags, why_not
from netcheck_agent.nics import (
    gather,
    iface_of,
    parse_if_inet6,
    parse_ip_addr_json,
    parse_ipv6_route,
    parse_proc_route,
    parse_windows_json,
    route_choice,
)

IP_J = json.dumps(
    [
        {
            "ifindex": 1,
            "ifname": "lo",
            "flags": ["LOOPBACK", "UP", "LOWER_UP"],
            "mtu": 65536,
            "link_type": "loopback",
            "address": "00:00:00:00:00:00",
            "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}],
        },
        {
            "ifindex": 7,
            "ifname": "eth1",
            "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
            "mtu": 1500,
            "link_type": "ether",
            "address": "da:3a:7b:d1:00:7f",
            "addr_info": [
                {"family": "inet", "local": "198.18.3.10", "prefixlen": 24},
                {"family": "inet6", "local": "fe80::d83a:7bff:fed1:7f", "prefixlen": 64},
            ],
        },
    ]
)

PROC_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t0102A8C6\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t0002A8C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth1\t000113C6\t0103A8C6\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""

IPV6_ROUTE = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth1\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
)

IF_INET6 = "fe80000000000000d83a7bfffed1007f 07 40 20 80     eth1\n"

WINDOWS = json.dumps(
    {
        "a": [
            {
                "InterfaceAlias": "LAN",
                "InterfaceIndex": 12,
                "IPAddress": "198.18.40.10",
                "PrefixLength": 24,
            },
            {
                "InterfaceAlias": "Failback",
                "InterfaceIndex": 14,
                "IPAddress": "198.18.50.10",
                "PrefixLength": 24,
            },
            {
                "InterfaceAlias": "LAN",
                "InterfaceIndex": 12,
                "IPAddress": "fe80::1%12",
                "PrefixLength": 64,
            },
        ],
        "i": [
            {
                "InterfaceAlias": "LAN",
                "InterfaceIndex": 12,
                "NlMtu": 1500,
                "ConnectionState": 1,
                "AddressFamily": 2,
                "InterfaceMetric": 25,
            },
            {
                "InterfaceAlias": "Failback",
                "InterfaceIndex": 14,
                "NlMtu": 1400,
                "ConnectionState": 1,
                "AddressFamily": 2,
                "InterfaceMetric": 15,
            },
        ],
        "r": {"InterfaceIndex": 12},
    }
)


def caps(scapy: bool = True, raw: bool = True) -> Capabilities:
    return Capabilities(True, True, scapy, raw, "linux", "3.11")


def test_ip_addr_json() -> None:
    lo, eth1 = parse_ip_addr_json(IP_J)
    assert (lo["name"], lo["kind"], lo["mac"], lo["addresses"]) == (
        "lo",
        "loopback",
        None,
        ["127.0.0.1/8"],
    )
    assert eth1 == {
        "name": "eth1",
        "index": 7,
        "addresses": ["198.18.3.10/24", "fe80::d83a:7bff:fed1:7f/64"],
        "mtu": 1500,
        "up": True,
        "kind": "ether",
        "mac": "da:3a:7b:d1:00:7f",
    }
    assert iface_of("198.18.3.10", [lo, eth1]) == "eth1"
    assert iface_of("127.0.3.10", [lo, eth1]) == "lo"  # lo holds its whole prefix
    assert iface_of("198.18.3.11", [lo, eth1]) is None


def test_default_routes_and_ipv6_addresses_from_proc() -> None:
    assert parse_proc_route(PROC_ROUTE) == ["eth0"]
    assert parse_ipv6_route(IPV6_ROUTE) == ["eth1"]  # lo's unreachable default is no route
    assert parse_if_inet6(IF_INET6) == {"eth1": ["fe80::d83a:7bff:fed1:7f/64"]}


def test_windows_interfaces_from_powershell_json() -> None:
    lan, fb = parse_windows_json(WINDOWS)
    assert (lan["name"], lan["addresses"], lan["mtu"], lan["default_route"]) == (
        "LAN",
        ["198.18.40.10/24", "fe80::1/64"],
        1500,
        True,
    )
    assert (fb["name"], fb["addresses"], fb["mtu"], fb["default_route"]) == (
        "Failback",
        ["198.18.50.10/24"],
        1400,
        False,
    )


def test_route_choice_is_a_lookup_on_loopback() -> None:
    interfaces = parse_ip_addr_json(IP_J)
    got = route_choice("127.0.0.1", interfaces, best_interface=lambda d: None)
    assert (got.src, got.iface, got.method) == ("127.0.0.1", "lo", "udp_connect")


def test_gather_reads_this_host() -> None:
    facts = gather(p.NicFactsRequest("n1", ("127.0.0.1",)))
    assert facts.os_family == "linux"
    lo = next(i for i in facts.interfaces if i.name == "lo")
    assert lo.kind == "loopback" and "127.0.0.1/8" in lo.addresses
    assert facts.routes[0].iface == "lo"
    assert facts.rp_filter_all in (0, 1, 2)


def test_nic_messages_round_trip_and_validate() -> None:
    facts = p.NicFacts(
        "n1",
        "linux",
        (p.InterfaceFacts("eth1", 7, ("198.18.3.10/24",), 1500, True, False, 1, "ether", "aa"),),
        (p.RouteChoice("198.19.1.4", "198.18.3.10", "eth1", "udp_connect"),),
        0,
    )
    msgs = [
        p.NicFactsRequest("n1", ("198.19.1.4",)),
        facts,
        p.ArpCheckRequest("a1", (p.ArpTarget("198.18.3.10"),), 1500),
        p.ArpCheck("a1", (p.ArpResult("198.18.3.10", "eth1", "duplicate", "aa", ("bb",)),)),
        p.CaptureStart("c1", ("198.19.1.4",), 60),
        p.CaptureReady("c1", "capturing", ("eth0", "eth1")),
        p.CaptureStop("c1"),
        p.CaptureResult(
            "c1", "captured", (p.CapturedPacket("eth0", "1.2.3.4", "5.6.7.8", 1, 2, "SA", 1.5),)
        ),
    ]
    for m in msgs:
        assert p.decode(p.encode(m)) == m
    with pytest.raises(p.ProtocolError, match="destinations\\[0\\]"):
        p.decode(b'{"type":"nic_facts_request","id":"x","destinations":["not-an-ip"]}')
    with pytest.raises(p.ProtocolError, match="status"):
        p.decode(b'{"type":"arp_check","id":"x","results":[{"address":"1.2.3.4","status":"?"}]}')


def test_arp_replies_from_other_macs_only() -> None:
    replies = [
        ("198.18.3.10", "AA:AA:AA:AA:AA:AA"),
        ("198.18.3.10", "bb:bb:bb:bb:bb:bb"),
        ("198.18.3.10", "bb:bb:bb:bb:bb:bb"),
        ("198.18.3.11", "cc:cc:cc:cc:cc:cc"),
    ]
    assert other_macs(replies, "198.18.3.10", "aa:aa:aa:aa:aa:aa") == ["bb:bb:bb:bb:bb:bb"]
    assert (tcp_flags(0x02), tcp_flags(0x12), tcp_flags(0x14)) == ("S", "SA", "AR")


def test_raw_checks_say_why_they_cannot_run() -> None:
    assert why_not(caps(), "win32") == "only on Linux in this version (this host: win32)"
    assert "scapy is not installed" in (why_not(caps(scapy=False)) or "")
    assert "CAP_NET_RAW" in (why_not(caps(raw=False)) or "")
    interfaces = parse_ip_addr_json(IP_J)
    req = p.ArpCheckRequest(
        "a1", (p.ArpTarget("198.18.3.10"), p.ArpTarget("127.0.0.1"), p.ArpTarget("198.19.9.9"))
    )
    sent: list[str] = []

    def probe(iface: str, mac: str, addr: str, timeout: float, n: int) -> list[str]:
        sent.append(addr)
        return []

    res = arp_check(req, caps(raw=False), probe, interfaces)
    assert [(r.status, r.detail) for r in res.results] == [
        ("not_run", "no raw sockets (needs root or CAP_NET_RAW)"),
        ("not_run", "lo is not Ethernet (loopback)"),
        ("not_run", "no interface of this host holds it"),
    ]
    assert sent == []  # nothing was sent
    res = arp_check(req, caps(), lambda *a: ["0a:bb:cc:dd:ee:ff"], interfaces)
    assert (res.results[0].status, res.results[0].macs) == ("duplicate", ("0a:bb:cc:dd:ee:ff",))


def test_capture_not_run_without_scapy_is_an_answer_not_an_error() -> None:
    got: list[object] = []

    async def main() -> None:
        tasks = NicTasks(got.append, lambda: caps(scapy=False))
        tasks.handle(p.CaptureStart("c1", ("127.0.0.1",), 5))
        for _ in range(500):
            if got:
                break
            await asyncio.sleep(0.01)
        await tasks.shutdown()

    asyncio.run(main())
    [ready] = got
    assert isinstance(ready, p.CaptureReady) and ready.status == "not_run"
    assert "scapy is not installed" in ready.detail
