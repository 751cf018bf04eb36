"""The dual-NIC checks, pure: NIC selection and the per-NIC cells, overlap (topology and
live), route choice, rp_filter, captured asymmetric returns, duplicate addresses, and the
JSON section against docs/report-json.md. No packet is sent."""

from __future__ import annotations

import re
from pathlib import Path

from netcheck_agent import protocol as p

from netcheck.nic import NicCellResult, NicVerdict, analyse, per_nic_cells, topology_overlaps
from netcheck.plan import build_plan
from netcheck.report.nic_report import nic_lines, nic_report_to_dict
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.stats import judge
from netcheck.topology import load_topology_text

SITE = """\
version: 1
name: nic-site
sites:
  onprem: {networks: {lan: 198.18.2.0/24, failback: 198.18.3.0/24}}
  azure: {networks: AZURE}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem]}
hosts:
  cs01:
    site: onprem
    roles: [config_server]
    nics:
      source: {address: 198.18.2.10}
      failback: {address: 198.18.3.10, faces: [azure]}
  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}
  vcenter: {site: onprem, roles: [vcenter], address: 198.18.2.30, agent: none}
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
  vm1: {site: azure, roles: [protected_vm], address: 198.19.1.10}
  vm2: {site: azure, roles: [protected_vm], address: 198.19.1.11, agent: none}
"""


def topo(azure: str = "{vnet: 198.19.1.0/24}"):  # type: ignore[no-untyped-def]
    return load_topology_text(SITE.replace("AZURE", azure), "site.yaml")


def itf(name: str, *addrs: str, default: bool = False, rp: int = 1, kind: str = "ether"):  # type: ignore[no-untyped-def]
    return p.InterfaceFacts(
        name,
        None,
        addrs,
        1500,
        True,
        default,
        rp,
        kind,
        "02:00:00:00:00:01" if kind == "ether" else None,
    )


def facts(routes: dict[str, str], *extra: p.InterfaceFacts) -> p.NicFacts:
    """cs01 as in the lab: eth0 LAN (default route), eth1 failback; routes: dst -> iface."""
    src = {"eth0": "198.18.2.10", "eth1": "198.18.3.10"}
    return p.NicFacts(
        "n1",
        "linux",
        (
            itf("lo", "127.0.0.1/8", rp=0, kind="loopback"),
            itf("eth0", "198.18.2.10/24", default=True),
            itf("eth1", "198.18.3.10/24"),
            *extra,
        ),
        tuple(p.RouteChoice(d, src[i], i, "udp_connect") for d, i in routes.items()),
        rp_filter_all=0,
    )


HEALTHY = {
    "198.19.1.4": "eth1",
    "198.19.1.10": "eth1",
    "198.19.1.11": "eth1",
    "198.18.2.20": "eth0",
    "198.18.2.30": "eth0",
}


def open_cells(t, host="cs01"):  # type: ignore[no-untyped-def]
    plan = build_plan(t)
    cells, _ = per_nic_cells(plan, t.host(host))
    out = []
    for c in cells:
        r = CellResult(c.spec, CellStatus.MEASURED, (Sample(Outcome.OPEN, 100, "tcp_info"),))
        out.append(NicCellResult(c, judge(r)))
    return out


def by_check(report, check):  # type: ignore[no-untyped-def]
    return [f for f in report.findings if f.check == check]


# --- NIC selection and the per-NIC cells --------------------------------------------


def test_the_plan_targets_the_nic_that_faces_the_peer_and_sends_from_it() -> None:
    t = topo()
    cs01 = t.host("cs01")
    assert cs01.nic_facing("azure").name == "failback"
    assert cs01.nic_facing("onprem").name == "source"
    assert t.host("mt01").nic_facing("azure").name == "nic0"  # one NIC: the first
    specs = {s.cell_id: s for s in build_plan(t).specs}
    assert specs["ps-azure/nic0>cs01/failback:tcp/443"].dest_address == "198.18.3.10"
    assert specs["mt01/nic0>cs01/source:tcp/443"].dest_address == "198.18.2.10"
    assert specs["cs01/source>vcenter/nic0:tcp/443"].source_address == "198.18.2.10"


def test_per_nic_cells_cover_every_nic_both_ways_where_the_peer_has_an_agent() -> None:
    t = topo()
    plan = build_plan(t)
    cells, extra = per_nic_cells(plan, t.host("cs01"))
    got = {c.spec.cell_id: (c.nic, c.outbound, c.expected, c.reverse) for c in cells}
    # the plan's own cell is the expected one; the other NIC is probed next to it
    assert got["ps-azure/nic0>cs01/failback:tcp/443"] == ("failback", False, True, False)
    assert got["ps-azure/nic0>cs01/source:tcp/443"] == ("source", False, False, False)
    # host -> peer, from both NICs, the failback one expected towards Azure
    assert got["cs01/failback>ps-azure/nic0:tcp/443"] == ("failback", True, True, True)
    assert got["cs01/source>ps-azure/nic0:tcp/443"] == ("source", True, False, True)
    assert got["cs01/failback>vcenter/nic0:tcp/443"] == ("failback", True, False, False)
    # vm2 runs no agent: no cell from it (it is no source) and none towards it
    assert not any("vm2" in cid for cid in got)
    assert {s.cell_id for s in extra} == {
        cid for cid in got if cid not in {s.cell_id for s in plan.specs}
    }


def test_peers_per_group_bounds_the_extra_cells_on_a_large_site() -> None:
    t = topo()
    cells, _ = per_nic_cells(build_plan(t), t.host("cs01"), peers_per_group=1)
    inbound_other = [c for c in cells if not c.outbound and not c.expected]
    # one peer per (site, port) for the other NIC; the plan's cells are all kept
    assert {c.spec.source_host for c in inbound_other} <= {"vm1", "ps-azure", "mt01"}
    assert len([c for c in inbound_other if c.peer in ("vm1", "ps-azure")]) == 1


# --- overlap ------------------------------------------------------------------------------


def test_topology_overlap_between_the_source_site_and_azure_fails() -> None:
    # the failed-over VMs kept their addresses: an Azure subnet reuses part of the LAN
    t = topo("{vnet: 198.19.1.0/24, retained: 198.18.2.0/25}")
    found = topology_overlaps(t, t.host("cs01"))
    assert [f.verdict for f in found] == [NicVerdict.FAIL]
    assert "onprem network lan 198.18.2.0/24 overlaps azure network retained 198.18.2.0/25" in (
        found[0].message
    )
    assert "two NICs" in found[0].hint and found[0].doc == "AS/vmware-azure-prepare-failback.md"


def test_no_topology_overlap_passes() -> None:
    t = topo()
    [f] = topology_overlaps(t, t.host("cs01"))
    assert f.verdict is NicVerdict.PASS


def test_a_live_interface_prefix_inside_azure_is_an_overlap() -> None:
    t = topo()
    live = facts(HEALTHY, itf("eth2", "198.19.1.250/24"))
    report = analyse(t, t.host("cs01"), open_cells(t), live)
    [f] = by_check(report, "nic-overlap-live")
    assert f.verdict is NicVerdict.FAIL and f.subject == "cs01/eth2"
    assert "198.19.1.250/24 overlaps azure network vnet 198.19.1.0/24" in f.message


# --- the host's own view ---------------------------------------------------------------


def test_a_healthy_dual_nic_host_is_clean() -> None:
    t = topo()
    capture = p.CaptureResult("c1", "captured", (), False)
    arp = p.ArpCheck(
        "a1",
        (
            p.ArpResult("198.18.2.10", "eth0", "clear", "02:00:00:00:00:01"),
            p.ArpResult("198.18.3.10", "eth1", "clear", "02:00:00:00:00:01"),
        ),
    )
    report = analyse(t, t.host("cs01"), open_cells(t), facts(HEALTHY), "", capture, "", arp)
    failing = [f for f in report.findings if f.verdict is not NicVerdict.PASS]
    # an empty capture saw no flow: unknown, never a pass
    assert [(f.check, f.verdict) for f in failing] == [
        ("nic-asymmetric-return", NicVerdict.UNKNOWN)
    ]
    assert report.clean and report.go
    src = next(n for n in report.nics if n.name == "source")
    assert (src.iface, src.subnet, src.default_route, src.rp_filter) == (
        "eth0",
        "198.18.2.0/24",
        True,
        1,
    )


def test_azure_leaving_by_the_source_nic_is_a_route_choice_failure_with_a_fix() -> None:
    t = topo()
    wrong = dict(HEALTHY, **{"198.19.1.4": "eth0", "198.19.1.10": "eth0"})
    report = analyse(t, t.host("cs01"), open_cells(t), facts(wrong))
    bad = [f for f in by_check(report, "nic-route-choice") if f.verdict is NicVerdict.FAIL]
    assert {f.subject for f in bad} == {"cs01 → ps-azure", "cs01 → vm1"}
    f = next(f for f in bad if f.subject == "cs01 → ps-azure")
    assert "from 198.18.2.10 via eth0, NIC source, not via its failback NIC 198.18.3.10" in (
        f.message
    )
    assert "198.19.1.0/24" in f.hint and "interface metric" in f.hint
    # and strict rp_filter on eth1 then drops what Azure sends to the failback NIC
    rp = [f for f in by_check(report, "nic-rp-filter") if f.verdict is NicVerdict.FAIL]
    assert {f.subject for f in rp} == {"cs01/failback"}
    assert any(
        "strict rp_filter on eth1 drops packets from ps-azure 198.19.1.4" in f.message for f in rp
    )
    assert not report.go


def test_loose_rp_filter_makes_the_asymmetry_a_warning() -> None:
    t = topo()
    wrong = dict(HEALTHY, **{"198.19.1.4": "eth0"})
    live = facts(wrong)
    live = p.NicFacts(
        live.id,
        live.os_family,
        tuple(
            p.InterfaceFacts(
                i.name, i.index, i.addresses, i.mtu, i.up, i.default_route, 2, i.kind, i.mac
            )
            for i in live.interfaces
        ),
        live.routes,
        0,
    )
    report = analyse(t, t.host("cs01"), open_cells(t), live)
    [rp] = [f for f in by_check(report, "nic-rp-filter") if f.verdict is not NicVerdict.PASS]
    assert rp.verdict is NicVerdict.WARN and "loose lets them in" in rp.message


def test_a_missing_nic_address_and_two_default_routes() -> None:
    t = topo()
    live = p.NicFacts(
        "n1",
        "linux",
        (itf("eth0", "198.18.2.10/24", default=True), itf("eth1", "198.18.3.99/24", default=True)),
        tuple(p.RouteChoice(d, "198.18.2.10", "eth0", "udp_connect") for d in HEALTHY),
        0,
    )
    report = analyse(t, t.host("cs01"), open_cells(t), live)
    [addr] = by_check(report, "nic-address")
    assert addr.verdict is NicVerdict.FAIL and "198.18.3.10 is on no interface" in addr.message
    [dr] = by_check(report, "nic-default-route")
    assert dr.verdict is NicVerdict.WARN and "eth0 (NIC source), eth1" in dr.message


def test_what_could_not_run_is_unknown_with_the_reason() -> None:
    t = topo()
    report = analyse(
        t,
        t.host("cs01"),
        open_cells(t),
        None,
        "agent unavailable",
        None,
        "scapy is not installed for this Python (/usr/bin/python3)",
        None,
        "no raw sockets (needs root or CAP_NET_RAW)",
    )
    unknown = {f.check: f.message for f in report.findings if f.verdict is NicVerdict.UNKNOWN}
    assert set(unknown) == {
        "nic-address",
        "nic-overlap-live",
        "nic-route-choice",
        "nic-rp-filter",
        "nic-asymmetric-return",
        "nic-duplicate-address",
    }
    assert "scapy is not installed" in unknown["nic-asymmetric-return"]
    assert "CAP_NET_RAW" in unknown["nic-duplicate-address"]
    # the topology check needs no agent and still ran
    assert by_check(report, "nic-overlap-topology")[0].verdict is NicVerdict.PASS
    assert not any(f.verdict is NicVerdict.FAIL for f in report.findings)


def test_a_reply_arriving_on_the_other_nic_is_asymmetric_and_dropped_by_strict_rp_filter() -> None:
    t = topo()
    pk = [
        # cs01 failback -> ps-azure: SYN out of eth1, SYN-ACK back on eth0
        p.CapturedPacket("eth1", "198.18.3.10", "198.19.1.4", 40000, 443, "S", 1.0),
        p.CapturedPacket("eth0", "198.19.1.4", "198.18.3.10", 443, 40000, "SA", 1.01),
        # ps-azure -> cs01 failback: arrives on eth0, nothing answers
        p.CapturedPacket("eth0", "198.19.1.4", "198.18.3.10", 50000, 443, "S", 2.0),
        # mt01 -> cs01 source: symmetric
        p.CapturedPacket("eth0", "198.18.2.20", "198.18.2.10", 50001, 443, "S", 3.0),
        p.CapturedPacket("eth0", "198.18.2.10", "198.18.2.20", 443, 50001, "SA", 3.0),
    ]
    capture = p.CaptureResult("c1", "captured", tuple(pk), False)
    report = analyse(t, t.host("cs01"), open_cells(t), facts(HEALTHY), "", capture)
    asym = {f.subject: f for f in by_check(report, "nic-asymmetric-return")}
    assert set(asym) == {"cs01/failback → ps-azure", "cs01/failback ← ps-azure"}
    out = asym["cs01/failback → ps-azure"]
    assert out.verdict is NicVerdict.FAIL
    assert (
        "left via eth1; its reply arrived on eth0, where strict rp_filter drops it" in out.message
    )
    inn = asym["cs01/failback ← ps-azure"]
    assert "arrived on eth0 (not eth1, the interface holding it); no answer left" in inn.message
    notes = {c.cell.spec.cell_id: c.path_note for c in report.cells if c.path_note}
    assert notes["mt01/nic0>cs01/source:tcp/443"] == "arrived on eth0, answered from eth0"
    assert notes["cs01/failback>ps-azure/nic0:tcp/443"] == (
        "left eth1, reply on eth0 (strict rp_filter on eth0 drops it)"
    )


def test_a_duplicate_address_names_the_other_mac() -> None:
    t = topo()
    arp = p.ArpCheck(
        "a1",
        (
            p.ArpResult("198.18.2.10", "eth0", "clear", "02:00:00:00:00:01"),
            p.ArpResult(
                "198.18.3.10", "eth1", "duplicate", "02:00:00:00:00:01", ("0a:bb:cc:dd:ee:ff",)
            ),
        ),
    )
    report = analyse(t, t.host("cs01"), open_cells(t), facts(HEALTHY), arp=arp)
    dup = [f for f in by_check(report, "nic-duplicate-address") if f.verdict is NicVerdict.FAIL]
    assert [f.subject for f in dup] == ["cs01/failback"]
    assert "0a:bb:cc:dd:ee:ff" in dup[0].message and "keep its IP address" in dup[0].hint


# --- the report ---------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "report-json.md"


def _documented(heading: str) -> list[str]:
    out: list[str] = []
    current = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            current = line.lstrip("#").strip()
            continue
        m = re.match(r"\| `([a-z_0-9]+)` \|", line)
        if m and current == heading:
            out.append(m.group(1))
    return out


def test_the_json_section_matches_the_schema_document() -> None:
    t = topo()
    report = analyse(t, t.host("cs01"), open_cells(t), facts(HEALTHY))
    d = nic_report_to_dict(report)
    assert _documented("`nics[]`") == list(d)
    assert _documented("`nics[].nics[]`") == list(d["nics"][0])
    assert _documented("`nics[].cells[]`") == list(d["cells"][0])
    assert _documented("`nics[].findings[]`") == list(d["findings"][0])
    assert "nics" in _documented("Top level")
    src = d["nics"][0]
    assert "→ vcenter:443" in src["reaches"] and src["rp_filter"] == 1


def test_the_terminal_section_names_nics_matrix_and_findings() -> None:
    t = topo()
    wrong = dict(HEALTHY, **{"198.19.1.4": "eth0"})
    text = "\n".join(nic_lines(analyse(t, t.host("cs01"), open_cells(t), facts(wrong))))
    assert "NICs of cs01 (live facts):" in text
    assert "failback  198.18.3.10  eth1  198.18.3.0/24" in text
    assert "*ok" in text
    assert "FAIL    nic-route-choice  cs01 → ps-azure" in text
    assert (
        "doc: https://learn.microsoft.com/azure/site-recovery/vmware-azure-prepare-failback" in text
    )
