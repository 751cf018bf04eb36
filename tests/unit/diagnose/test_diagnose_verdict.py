"""Pure verdicts over crafted diagnostics: where a cell breaks, the path taken, path findings,
and how they show in the sweep verdict and the reports (terminal, JSON + its schema doc, HTML)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from netcheck.diagnose import (
    CellDiagnosis,
    Diagnostics,
    FindingLevel,
    Hop,
    Measurement,
    Method,
    PathCheck,
    PathDirection,
    gateway_label,
    identify_path,
    judge_path,
    locate_break,
)
from netcheck.errors import ConfigError
from netcheck.plan import build_plan
from netcheck.report import render_json, render_table
from netcheck.report.diagnose_report import missing_capabilities
from netcheck.report.html import NOT_MEASURED, render_html
from netcheck.report.json_report import sweep_to_dict
from netcheck.report.table import Detail
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.result.model import SweepResult
from netcheck.topology import load_topology_text

TOPO = """\
version: 1
name: diag
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
paths:
  s2s-vpn:
    kind: vpn
    sites: [azure, onprem]
    gateways: {azure-gw: 198.19.1.1, vpn-rtr: 198.18.200.2, onprem-gw: 198.18.200.6}
    expect: {mtu: 1400, max_rtt_ms: 30, max_loss_pct: 1}
  expressroute:
    kind: expressroute
    sites: [azure, onprem]
    gateways: [198.19.1.1, 198.18.201.2, 198.18.201.6]
    expect: {mtu: 1500}
hosts:
  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
"""
TOPOLOGY = load_topology_text(TOPO, "diag.yaml")
VPN = TOPOLOGY.paths[0]
DOC = Path(__file__).resolve().parents[3] / "docs" / "report-json.md"


def hop(
    ttl: int, address: str | None, reply: str = "time-exceeded", icmp: str = "", **kw: Any
) -> Hop:
    if reply == "time-exceeded" and not icmp:
        icmp = "time-exceeded"
    if address is None:
        reply = "none"
    return Hop(ttl, reply, address, None if address is None else 0.5 * ttl, icmp, **kw)


def trace(
    *hops: Hop, method: Method = Method.SCAPY, detail: str = "", port: int = 9443
) -> Measurement:
    return Measurement(
        "traceroute", "ps-azure", "198.19.1.4", "mt01", "198.18.2.20", "tcp", port, method,
        detail, hops, any(h.reply == "syn-ack" for h in hops),
    )  # fmt: skip


VPN_HOPS = (hop(1, "198.19.1.1"), hop(2, "198.18.200.2"), hop(3, "198.18.200.6"))
ER_HOPS = (hop(1, "198.19.1.1"), hop(2, "198.18.201.2"), hop(3, "198.18.201.6"))


# --- topology: named gateways ----------------------------------------------------------------


def test_gateways_may_be_named() -> None:
    assert VPN.gateway_names == ("azure-gw", "vpn-rtr", "onprem-gw")
    assert [str(g) for g in VPN.gateways] == ["198.19.1.1", "198.18.200.2", "198.18.200.6"]
    assert TOPOLOGY.paths[1].gateway_names == ()
    assert gateway_label(TOPOLOGY, "198.18.200.2") == "vpn-rtr 198.18.200.2 (s2s-vpn)"
    assert gateway_label(TOPOLOGY, "198.19.1.1") == "azure-gw 198.19.1.1 (s2s-vpn, expressroute)"
    assert gateway_label(TOPOLOGY, "198.18.201.2") == "198.18.201.2 (expressroute)"
    assert gateway_label(TOPOLOGY, "198.18.99.1") == "198.18.99.1"


def test_a_bad_gateway_address_in_the_mapping_names_its_line() -> None:
    bad = TOPO.replace("vpn-rtr: 198.18.200.2", "vpn-rtr: 198.18.200.300")
    with pytest.raises(ConfigError) as exc:
        load_topology_text(bad, "diag.yaml")
    assert "diag.yaml:10:47: paths.s2s-vpn.gateways.vpn-rtr: " in str(exc.value)


# --- where a cell breaks -------------------------------------------------------------------------


def test_a_drop_on_the_vpn_router_is_located_there() -> None:
    t = trace(*VPN_HOPS[:2], hop(3, None), hop(4, None))
    where = locate_break(t, TOPOLOGY, VPN, "azure")
    assert where.located and not where.reached
    assert where.last_hop is not None and where.last_hop.address == "198.18.200.2"
    assert where.first_silent_ttl == 3
    assert where.next_expected == "onprem-gw 198.18.200.6 (s2s-vpn)"
    assert where.message == (
        "tcp/9443 dies after vpn-rtr 198.18.200.2 (s2s-vpn) (hop 2), before onprem-gw "
        "198.18.200.6 (s2s-vpn): hop 3 and later are silent"
    )


def test_from_the_other_side_the_gateways_come_in_reverse() -> None:
    t = dataclasses.replace(trace(hop(1, "198.18.200.6"), hop(2, None)), source_host="mt01")
    where = locate_break(t, TOPOLOGY, VPN, "onprem")
    assert where.next_expected == "vpn-rtr 198.18.200.2 (s2s-vpn)"


def test_admin_prohibited_is_named_with_its_router() -> None:
    t = trace(
        *VPN_HOPS,
        hop(4, "198.18.200.6", "unreachable", "admin-prohibited", icmp_type=3, icmp_code=13),
    )
    where = locate_break(t, TOPOLOGY, VPN, "azure")
    assert where.icmp == "admin-prohibited"
    assert (
        "refused by onprem-gw 198.18.200.6 (s2s-vpn) at hop 4 with ICMP admin-prohibited (type 3 code 13)"
        in where.message
    )


def test_nothing_answered_and_target_reached_and_not_available() -> None:
    silent = locate_break(trace(hop(1, None), hop(2, None)), TOPOLOGY, VPN, "azure")
    assert silent.located and silent.first_silent_ttl == 1 and "nothing answered" in silent.message
    reached = locate_break(
        trace(*VPN_HOPS, hop(4, "198.18.2.20", "syn-ack")), TOPOLOGY, VPN, "azure"
    )
    assert reached.reached and "open" in reached.message
    na = locate_break(
        trace(method=Method.UNAVAILABLE, detail="no raw sockets; IP_RECVERR is Linux-only"),
        TOPOLOGY, VPN, "azure",
    )  # fmt: skip
    assert not na.located
    assert (
        na.message
        == "traceroute not available on ps-azure: no raw sockets; IP_RECVERR is Linux-only"
    )


# --- path identification and path findings ----------------------------------------------------


def test_identify_path_by_the_gateways_of_its_own() -> None:
    assert identify_path(TOPOLOGY, VPN_HOPS, "azure", "onprem") == (
        "s2s-vpn",
        ("198.19.1.1", "198.18.200.2", "198.18.200.6"),
    )
    assert identify_path(TOPOLOGY, ER_HOPS, "azure", "onprem")[0] == "expressroute"
    # the shared VNet gateway alone identifies nothing
    assert identify_path(TOPOLOGY, (VPN_HOPS[0], hop(2, None)), "azure", "onprem") == (
        None,
        ("198.19.1.1",),
    )


def measurement(kind: str, **kw: Any) -> Measurement:
    base: dict[str, Any] = {
        "kind": kind, "source_host": "ps-azure", "source_address": "198.19.1.4",
        "dest_host": "mt01", "dest_address": "198.18.2.20", "proto": "icmp", "port": 0,
        "method": Method.SCAPY,
    }  # fmt: skip
    base.update(kw)
    return Measurement(**base)


def echo(sent: int, received: int, rtt: float = 2.0, **kw: Any) -> Measurement:
    hops = tuple(
        Hop(i, "echo-reply" if i <= received else "none", "198.18.2.20" if i <= received else None,
            rtt if i <= received else None)
        for i in range(1, sent + 1)
    )  # fmt: skip
    return measurement("echo", hops=hops, sent=sent, received=received, **kw)


def pmtu(value: int | None, iface_mtu: int = 1500, **kw: Any) -> Measurement:
    return measurement("pmtu", pmtu=value, iface="eth0", iface_mtu=iface_mtu, **kw)


def direction(hops: tuple[Hop, ...] = VPN_HOPS, **kw: Any) -> PathDirection:
    taken, seen = identify_path(TOPOLOGY, hops, "azure", "onprem")
    base: dict[str, Any] = {
        "source_host": "ps-azure", "dest_host": "mt01", "dest_address": "198.18.2.20",
        "trace": trace(*hops), "echo": echo(5, 5), "pmtu": pmtu(1400),
        "taken": taken, "gateways_seen": seen,
    }  # fmt: skip
    base.update(kw)
    return PathDirection(**base)


def codes(findings: tuple[Any, ...]) -> dict[str, str]:
    return {f.code: f.level.value for f in findings}


def test_vpn_at_1400_passes_but_is_flagged_below_the_hosts_1500() -> None:
    found = judge_path(TOPOLOGY, VPN, (direction(),))
    assert codes(found) == {"path-taken": "info", "pmtu-below-interface": "warn"}
    warn = next(f for f in found if f.code == "pmtu-below-interface")
    assert "path MTU 1400 is below the 1500 that ps-azure's interface eth0 assumes" in warn.message
    assert "clamp the MSS to 1360" in warn.message


def test_pmtu_below_expect_fails_when_a_router_said_so() -> None:
    said = (Hop(64, "unreachable", "198.19.1.1", 0.3, "frag-needed", 3, 4, mtu=1300, size=1500),)
    found = judge_path(TOPOLOGY, VPN, (direction(pmtu=pmtu(1300, hops=said)),))
    assert codes(found)["pmtu-below-expect"] == "fail"
    # only silence above 1300 (black hole, or lost probes): a warning, not a no-go
    found = judge_path(TOPOLOGY, VPN, (direction(pmtu=pmtu(1300)),))
    assert codes(found)["pmtu-below-expect"] == "warn"
    assert "no frag-needed came back" in found[-2].message


def test_traffic_over_the_vpn_when_expressroute_is_expected_is_a_mismatch() -> None:
    # declare expressroute first: it becomes the expected path
    doc = TOPO.split("paths:\n")
    head, rest = doc[0], doc[1]
    vpn_block, rest2 = rest.split("  expressroute:\n")
    er_block, hosts = rest2.split("hosts:\n")
    er_first = load_topology_text(
        head + "paths:\n  expressroute:\n" + er_block + vpn_block + "hosts:\n" + hosts, "er.yaml"
    )
    assert er_first.path_between("azure", "onprem").name == "expressroute"  # type: ignore[union-attr]
    d = direction()  # the hops cross the VPN
    er = next(p for p in er_first.paths if p.name == "expressroute")
    vpn = next(p for p in er_first.paths if p.name == "s2s-vpn")
    er_found = judge_path(er_first, er, (d,))
    assert codes(er_found) == {"path-mismatch": "fail"}
    assert er_found[0].message.startswith(
        "ps-azure → mt01: traffic crosses s2s-vpn, expected expressroute (the first path declared "
        "between azure and onprem); hops: azure-gw 198.19.1.1"
    )
    # RTT and MTU are judged on the path that carried the traffic
    vpn_found = judge_path(er_first, vpn, (d,))
    assert codes(vpn_found) == {"path-taken": "info", "pmtu-below-interface": "warn"}


def test_the_alternative_path_is_not_judged_on_traffic_it_did_not_carry() -> None:
    found = judge_path(TOPOLOGY, TOPOLOGY.paths[1], (direction(),))
    assert codes(found) == {"not-crossed": "info"}


def test_echo_loss_and_rtt_against_expect() -> None:
    # a few echoes warn; the cells crossing the path carry the loss / RTT verdict
    assert codes(judge_path(TOPOLOGY, VPN, (direction(echo=echo(5, 4)),)))["loss"] == "warn"
    assert (
        codes(judge_path(TOPOLOGY, VPN, (direction(echo=echo(5, 5, rtt=40.0)),)))["rtt"] == "warn"
    )
    assert (
        codes(judge_path(TOPOLOGY, VPN, (direction(echo=echo(5, 0)),)))["echo-no-reply"] == "warn"
    )


def test_nothing_available_is_unknown_never_green() -> None:
    na = Method.UNAVAILABLE
    d = direction(
        trace=trace(method=na, detail="no raw sockets"),
        echo=measurement("echo", method=na, detail="ping_group_range = 1 0"),
        pmtu=measurement("pmtu", method=na, detail="IP_RECVERR is Linux-only"),
        taken=None,
        gateways_seen=(),
    )
    found = judge_path(TOPOLOGY, VPN, (d,))
    assert codes(found) == {
        "trace-unavailable": "unknown",
        "echo-unavailable": "unknown",
        "pmtu-unavailable": "unknown",
    }
    assert "echo not available on ps-azure: ping_group_range = 1 0" in found[1].message
    assert all(f.level is not FindingLevel.INFO for f in found)
    assert codes(judge_path(TOPOLOGY, VPN, ())) == {"not-measured": "unknown"}


# --- in the sweep and the reports ---------------------------------------------------------------


def sweep_with(diag: Diagnostics | None, verdict: Outcome = Outcome.TIMEOUT) -> SweepResult:
    plan = build_plan(TOPOLOGY)
    results = tuple(
        CellResult(s, CellStatus.MEASURED, (Sample(verdict, errno=113 if verdict is Outcome.UNREACHABLE else None,
                                                   detail="EHOSTUNREACH" if verdict is Outcome.UNREACHABLE else ""),) * 3)
        if s.source_host == "ps-azure" and s.dest_host == "mt01"
        else CellResult(s, CellStatus.MEASURED, (Sample(Outcome.OPEN, rtt_us=2000, proven=True),) * 3)
        for s in plan.specs
    )  # fmt: skip
    return SweepResult("sw-diag", plan, results, (), (), 1.7e9, 1.7e9 + 1, diagnostics=diag)


def diagnostics(path_dir: PathDirection, cell_trace: Measurement) -> Diagnostics:
    plan = build_plan(TOPOLOGY)
    (cell,) = [s for s in plan.specs if s.source_host == "ps-azure" and s.dest_host == "mt01"]
    where = locate_break(cell_trace, TOPOLOGY, VPN, "azure")
    checks = tuple(
        PathCheck(p.name, i == 0, (path_dir,), judge_path(TOPOLOGY, p, (path_dir,)))
        for i, p in enumerate(TOPOLOGY.paths)
    )
    return Diagnostics((CellDiagnosis(cell.cell_id, cell_trace, where),), checks, ("a note",))


PROHIBITED = trace(
    *VPN_HOPS, hop(4, "198.18.200.6", "unreachable", "admin-prohibited", icmp_type=3, icmp_code=13)
)
DROPPED = trace(*VPN_HOPS[:2], hop(3, None), hop(4, None))


def test_unreachable_cell_reason_names_the_icmp_reason() -> None:
    sw = sweep_with(diagnostics(direction(), PROHIBITED), Outcome.UNREACHABLE)
    (bad,) = [(r, v) for r, v in sw.verdicts() if not v.passed]
    assert "(EHOSTUNREACH)" in bad[1].reason
    assert bad[1].reason.endswith(
        "; ICMP admin-prohibited from onprem-gw 198.18.200.6 (s2s-vpn) at hop 4 (traced)"
    )
    # without diagnostics the reason is what a connect can say
    (plain,) = [v for _, v in sweep_with(None, Outcome.UNREACHABLE).verdicts() if not v.passed]
    assert "admin-prohibited" not in plain.reason


def test_a_failing_path_check_makes_the_sweep_no_go() -> None:
    base = sweep_with(None, Outcome.OPEN)
    assert base.go
    ok = dataclasses.replace(base, diagnostics=diagnostics(direction(), PROHIBITED))
    assert ok.go  # a warning (PMTU below 1500) does not fail
    said = (Hop(64, "unreachable", "198.19.1.1", 0.3, "frag-needed", 3, 4, mtu=1200, size=1500),)
    bad = dataclasses.replace(
        base, diagnostics=diagnostics(direction(pmtu=pmtu(1200, hops=said)), PROHIBITED)
    )
    assert not bad.go


def test_terminal_report() -> None:
    sweep = sweep_with(diagnostics(direction(), DROPPED))
    assert "paths: s2s-vpn ok (echo" in render_table(sweep)  # one line; in full with -v:
    text = render_table(sweep, detail=Detail.FULL, width=400)
    assert (
        "     where: tcp/9443 dies after vpn-rtr 198.18.200.2 (s2s-vpn) (hop 2), before onprem-gw"
        in text
    )
    assert "Paths (diagnostics):" in text
    assert "  s2s-vpn (expected path): ok" in text
    assert (
        "      route (scapy): azure-gw 198.19.1.1 (s2s-vpn, expressroute) → vpn-rtr 198.18.200.2 (s2s-vpn) → onprem-gw 198.18.200.6 (s2s-vpn)  [crosses s2s-vpn]"
        in text
    )
    assert "      path MTU (scapy): 1400; eth0 MTU 1500" in text
    assert "    WARN ps-azure → mt01: path MTU 1400 is below the 1500" in text
    assert "  expressroute (alternative path): ok" in text
    assert "  note: a note" in text


def test_html_fills_the_mtu_and_hops_slots() -> None:
    page = render_html(sweep_with(diagnostics(direction(), DROPPED)))
    assert "1400 (ps-azure → mt01, scapy)" in page
    assert "crosses s2s-vpn" in page
    before = render_html(sweep_with(None)).count(NOT_MEASURED)
    after = page.count(NOT_MEASURED)
    assert after == before - 3  # VPN: MTU and hops; ExpressRoute: hops (its MTU was not crossed)


def _documented_fields() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    heading = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        m = re.match(r"\| `([a-z_0-9]+)` \|", line)
        if m:
            out.setdefault(heading, []).append(m.group(1))
    return out


def test_json_diagnostics_match_the_schema_document() -> None:
    sw = sweep_with(diagnostics(direction(), PROHIBITED), Outcome.UNREACHABLE)
    doc = sweep_to_dict(sw)
    d = doc["diagnostics"]
    fields = _documented_fields()
    assert fields["`diagnostics`"] == list(d)
    assert fields["`diagnostics.cells[]`"] == list(d["cells"][0])
    assert fields["`diagnostics.paths[]`"] == list(d["paths"][0])
    assert fields["`diagnostics.paths[].directions[]`"] == list(d["paths"][0]["directions"][0])
    assert fields["Diagnostics measurements"] == list(d["cells"][0]["trace"])
    assert fields["Diagnostics hops"] == list(d["cells"][0]["trace"]["hops"][0])
    cell = d["cells"][0]
    assert (cell["icmp"], cell["last_hop"], cell["last_hop_label"]) == (
        "admin-prohibited",
        "198.18.200.6",
        "onprem-gw 198.18.200.6 (s2s-vpn)",
    )
    vpn = d["paths"][0]
    assert vpn["expected"] and vpn["passed"]
    assert vpn["directions"][0]["pmtu"]["pmtu"] == 1400
    assert vpn["directions"][0]["echo"]["loss_pct"] == 0.0
    assert {"level": "warn", "code": "pmtu-below-interface"}.items() <= vpn["findings"][1].items()
    assert '"diagnostics": null' in render_json(sweep_with(None))


def test_diagnostics_survive_the_store_round_trip_as_json() -> None:
    from netcheck.report.diagnose_report import diagnostics_from_dict, diagnostics_to_dict

    na = Method.UNAVAILABLE
    d = diagnostics(
        direction(echo=measurement("echo", method=na, detail="ping_group_range = 1 0")),
        PROHIBITED,
    )
    back = diagnostics_from_dict(diagnostics_to_dict(d))
    assert diagnostics_to_dict(back) == diagnostics_to_dict(d)
    assert back.cells[0].where.last_hop == d.cells[0].where.last_hop
    assert back.paths[0].directions[0].echo == d.paths[0].directions[0].echo


ROUTERS_TOPO = TOPO.replace(
    "    gateways: {azure-gw: 198.19.1.1, vpn-rtr: 198.18.200.2, onprem-gw: 198.18.200.6}\n",
    "    gateways:\n"
    "      azure-gw: [198.19.1.1, 198.18.200.1]\n"
    "      vpn-rtr: [198.18.200.2, 198.18.200.5]\n"
    "      onprem-gw: [198.18.200.6, 198.18.2.1]\n",
)


def test_a_router_may_have_an_address_per_side() -> None:
    topo = load_topology_text(ROUTERS_TOPO, "routers.yaml")
    vpn = topo.paths[0]
    assert vpn.gateway_names == ("azure-gw",) * 2 + ("vpn-rtr",) * 2 + ("onprem-gw",) * 2
    # from on-premises, the routers answer from their on-prem-facing addresses
    back = trace(hop(1, "198.18.2.1"), hop(2, "198.18.200.5"), hop(3, None))
    back = dataclasses.replace(back, source_host="mt01")
    where = locate_break(back, topo, vpn, "onprem")
    assert where.message.startswith(
        "tcp/9443 dies after vpn-rtr 198.18.200.5 (s2s-vpn) (hop 2), before azure-gw "
        "198.18.200.1 (s2s-vpn)"
    )
    assert identify_path(topo, back.hops, "onprem", "azure")[0] == "s2s-vpn"


def test_a_missing_capability_is_said_once_per_host_with_what_enables_it() -> None:
    why = (
        "scapy is not installed for this Python; unprivileged ICMP sockets are not allowed "
        "for this user's groups (net.ipv4.ping_group_range = 1 0)"
    )

    def gone(kind: str, src: str) -> Measurement:
        return Measurement(
            kind, src, None, "mt01", "198.18.2.20", "icmp", 0, Method.UNAVAILABLE, why
        )

    directions = tuple(
        PathDirection(src, "mt01", "198.18.2.20", gone("traceroute", src), gone("echo", src),
                      gone("pmtu", src), None)
        for src in ("ps-azure", "ps-azure", "cs01")
    )  # fmt: skip
    diag = Diagnostics(paths=(PathCheck("s2s-vpn", True, directions, ()),))
    lines = missing_capabilities(diag)
    assert len(lines) == 2  # one per host, not one per measurement (nine here)
    assert lines[0] == (
        f"not measured on ps-azure: route, echo, path MTU: {why}; to enable: install scapy for "
        "the agent's Python (apt install python3-scapy for a host's python3; pip install "
        "'netcheck[raw]' where netcheck itself runs), or allow unprivileged ICMP echo "
        "(sysctl -w net.ipv4.ping_group_range='0 2147483647')"
    )
    text = render_table(sweep_with(diag), width=400)
    assert text.count("scapy is not installed") == 2  # once per host, in the summary
    full = render_table(sweep_with(diag), width=400, detail=Detail.FULL)
    assert full.count("scapy is not installed") == 2  # the details do not repeat it
