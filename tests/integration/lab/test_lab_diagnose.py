"""Where a path breaks, in the namespace lab: real sweeps over SSH with the diagnostics on.

The agents on the lab hosts run Debian's /usr/bin/python3, named by path in the
lab topology, with the python3-scapy package (root in their namespaces), so they
use scapy's raw packets. The same checks then run on agents whose interpreter
really has no scapy (that Python started with `-S`, no site-packages): they fall back to
the kernel's error queue (IP_RECVERR), to unprivileged ICMP sockets where
`net.ipv4.ping_group_range` allows, and otherwise say "not available" — never a
false green. Every packet stays inside lab namespaces; faults and sysctls are
undone in `finally`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.lab import Lab, LabState, lab_exec, lab_fault
from tests.integration.lab.conftest import plain_agent_python
from tests.integration.lab.test_lab_sweep import (
    TOPOLOGY,
    Report,
    assert_no_agents_left,
    cells,
    failing,
    sweep,
    variant,
)

pytestmark = pytest.mark.lab

DROP_CELL = "ps-azure/nic0>mt01/nic0:tcp/9443"
PROHIBITED_CELL = "ps-azure/nic0>cs01/failback:tcp/443"
VPN_RTR = "198.18.200.2"
ONPREM_GW_VPN = "198.18.200.6"
AZURE_HOSTS = ("vm-app01", "vm-app02", "ps-azure")


def diag_cells(report: Report) -> dict[str, Report]:
    return {c["cell_id"]: c for c in report["diagnostics"]["cells"]}


def path_check(report: Report, name: str) -> Report:
    (p,) = [p for p in report["diagnostics"]["paths"] if p["path"] == name]
    return p


def finding_codes(check: Report) -> dict[str, str]:
    return {f["code"]: f["level"] for f in check["findings"]}


def with_faults(
    lab: Lab, state: LabState, faults: tuple[str, ...], topology: Path = TOPOLOGY
) -> tuple[int, Report]:
    for f in faults:
        lab_fault(lab, f, on=True)
    try:
        return sweep(lab, state, topology)
    finally:
        for f in faults:
            lab_fault(lab, f, on=False)


@pytest.fixture
def no_scapy_topology(tmp_path: Path) -> Path:
    """The lab topology with every agent run by an interpreter that has no scapy."""
    wrapper = plain_agent_python(tmp_path)

    def edit(doc: dict[str, Any]) -> None:
        doc["defaults"]["agent"]["python"] = str(wrapper)

    return variant(tmp_path, "no-scapy", edit)


@pytest.fixture
def ping_sockets_on_azure(lab: Lab) -> Iterator[None]:
    """Let every group open ICMP datagram sockets on the Azure hosts (not on-premises)."""
    key = "net.ipv4.ping_group_range"
    old = {}
    for host in AZURE_HOSTS:
        out = lab_exec(lab, host, ["sysctl", "-n", key], capture_output=True, text=True, check=True)
        old[host] = " ".join(out.stdout.split())
    try:
        for host in AZURE_HOSTS:
            lab_exec(lab, host, ["sysctl", "-q", "-w", f"{key}=0 2147483647"], check=True)
        yield
    finally:
        for host, value in old.items():
            lab_exec(lab, host, ["sysctl", "-q", "-w", f"{key}={value}"], check=True)


# --- with scapy ----------------------------------------------------------------------------


def test_healthy_lab_vpn_mtu_1400_measured_and_flagged_and_path_identified(
    lab: Lab, lab_state: LabState
) -> None:
    code, report = sweep(lab, lab_state)
    findings = [f for p in report["diagnostics"]["paths"] for f in p["findings"]]
    assert (code, report["verdict"], failing(report)) == (0, "go", {}), findings
    assert "diagnose_s" in report["phases_s"]
    assert {a["host"]: a["capabilities"]["scapy"] for a in report["agents"]} == {
        a["host"]: True for a in report["agents"]
    }
    diag = report["diagnostics"]
    assert diag["passed"] and diag["cells"] == []
    vpn = path_check(report, "s2s-vpn")
    assert vpn["expected"] and vpn["passed"]
    # both directions: traced across the VPN's own gateways, MTU 1400 from frag-needed
    assert len(vpn["directions"]) == 2
    for d in vpn["directions"]:
        assert d["taken"] == "s2s-vpn", d["trace"]
        # vpn-rtr answers from the address facing the prober
        assert {VPN_RTR, "198.18.200.5"} & set(d["gateways_seen"]), d["gateways_seen"]
        assert d["trace"]["method"] == "scapy" and d["trace"]["reached"], d["trace"]
        pm = d["pmtu"]
        assert (pm["method"], pm["pmtu"], pm["iface_mtu"]) == ("scapy", 1400, 1500), (
            d["source_host"],
            pm["hops"],
            d["trace"]["hops"],
        )
        assert any(h["icmp"] == "frag-needed" and h["mtu"] == 1400 for h in pm["hops"]), pm
        echo = d["echo"]
        assert (echo["method"], echo["sent"], echo["received"]) == ("scapy", 5, 5)
        assert echo["rtt_p50_ms"] < 30
    codes = finding_codes(vpn)
    assert codes == {"path-taken": "info", "pmtu-below-interface": "warn"}
    flagged = [f["message"] for f in vpn["findings"] if f["code"] == "pmtu-below-interface"]
    assert all("path MTU 1400 is below the 1500" in m for m in flagged) and len(flagged) == 2
    assert finding_codes(path_check(report, "expressroute")) == {"not-crossed": "info"}
    assert_no_agents_left(lab)


def test_a_drop_on_the_vpn_router_is_located_at_that_router(lab: Lab, lab_state: LabState) -> None:
    code, report = with_faults(lab, lab_state, ("vpn_drops_replication",))
    assert code == 1 and set(failing(report)) == {DROP_CELL}
    d = diag_cells(report)[DROP_CELL]
    assert d["trace"]["method"] == "scapy"
    assert d["last_hop"] == VPN_RTR and d["first_silent_ttl"] == 3
    assert d["message"].startswith(
        "tcp/9443 dies after vpn-rtr 198.18.200.2 (s2s-vpn) (hop 2), before onprem-gw "
        "198.18.200.6 (s2s-vpn)"
    ), d["message"]
    # bounded: stopped after the silent gap, far below max TTL x probes
    assert d["trace"]["packets"] <= 12 and "stopped: gap" in d["trace"]["detail"]
    assert_no_agents_left(lab)


def test_icmp_admin_prohibited_is_named(lab: Lab, lab_state: LabState) -> None:
    code, report = with_faults(lab, lab_state, ("ps_cs_prohibited",))
    assert code == 1 and set(failing(report)) == {PROHIBITED_CELL}
    cell = cells(report)[PROHIBITED_CELL]
    assert cell["verdict"] == "unreachable"
    assert "ICMP admin-prohibited from onprem-gw 198.18.200.6 (s2s-vpn)" in cell["reason"]
    d = diag_cells(report)[PROHIBITED_CELL]
    assert (d["icmp"], d["last_hop"]) == ("admin-prohibited", ONPREM_GW_VPN)
    last = d["trace"]["hops"][-1]
    assert (last["icmp_type"], last["icmp_code"]) == (3, 13)
    assert_no_agents_left(lab)


def expressroute_first(doc: dict[str, Any]) -> None:
    doc["paths"] = {
        "expressroute": doc["paths"]["expressroute"],
        "s2s-vpn": doc["paths"]["s2s-vpn"],
    }


def test_traffic_that_should_cross_expressroute_but_takes_the_vpn_is_reported(
    lab: Lab, lab_state: LabState, tmp_path: Path
) -> None:
    # the topology expects ExpressRoute (declared first); the lab routes over the VPN
    code, report = sweep(lab, lab_state, variant(tmp_path, "er-expected", expressroute_first))
    assert code == 1 and report["verdict"] == "no-go"
    assert failing(report) == {}  # every port answers: only the path is wrong
    er = path_check(report, "expressroute")
    assert er["expected"] and not er["passed"]
    assert set(finding_codes(er).values()) == {"fail"}
    assert all(
        "traffic crosses s2s-vpn, expected expressroute" in f["message"] for f in er["findings"]
    )
    assert "vpn-rtr 198.18.200.2" in er["findings"][0]["message"]
    # and the route switch the other way: the shipped topology expects the VPN
    code, report = with_faults(lab, lab_state, ("route_via_expressroute",))
    vpn = path_check(report, "s2s-vpn")
    assert code == 1 and finding_codes(vpn) == {"path-mismatch": "fail"}
    assert "traffic crosses expressroute, expected s2s-vpn" in vpn["findings"][0]["message"]
    # ExpressRoute carried it: its 1500 MTU is measured there and matches
    er = path_check(report, "expressroute")
    assert {d["pmtu"]["pmtu"] for d in er["directions"]} == {1500}
    assert_no_agents_left(lab)


# --- without scapy ---------------------------------------------------------------------------


def test_without_scapy_the_fallbacks_locate_name_and_measure(
    lab: Lab, lab_state: LabState, no_scapy_topology: Path, ping_sockets_on_azure: None
) -> None:
    code, report = with_faults(
        lab, lab_state, ("vpn_drops_replication", "ps_cs_prohibited"), no_scapy_topology
    )
    assert code == 1 and set(failing(report)) == {DROP_CELL, PROHIBITED_CELL}
    # the cells' verdicts do not depend on scapy: connect() sees the same outcomes
    assert cells(report)[DROP_CELL]["verdict"] == "filtered"
    assert cells(report)[PROHIBITED_CELL]["verdict"] == "unreachable"
    for a in report["agents"]:
        assert a["capabilities"]["scapy"] is False and a["capabilities"]["recverr"] is True, a
    d = diag_cells(report)
    # the error queue's TCP traceroute: same location, same ICMP name, no privilege needed
    assert d[DROP_CELL]["trace"]["method"] == "recverr"
    assert d[DROP_CELL]["last_hop"] == VPN_RTR
    assert "dies after vpn-rtr 198.18.200.2 (s2s-vpn)" in d[DROP_CELL]["message"]
    assert d[PROHIBITED_CELL]["trace"]["method"] == "recverr"
    assert d[PROHIBITED_CELL]["icmp"] == "admin-prohibited"
    assert "ICMP admin-prohibited from onprem-gw" in cells(report)[PROHIBITED_CELL]["reason"]

    vpn = path_check(report, "s2s-vpn")
    by_source = {x["source_host"]: x for x in vpn["directions"]}
    assert len(by_source) == 2
    for x in by_source.values():
        assert (x["pmtu"]["method"], x["pmtu"]["pmtu"]) == ("recverr", 1400), x["pmtu"]
        assert x["trace"]["method"] == "recverr" and x["trace"]["reached"], x["trace"]
    azure = next(x for h, x in by_source.items() if h in AZURE_HOSTS)
    onprem = next(x for h, x in by_source.items() if h not in AZURE_HOSTS)
    assert azure["taken"] == "s2s-vpn"
    # From cs01 (dual NIC, strict rp_filter) the VPN routers' time-exceeded comes from
    # addresses routed out of the other NIC: the kernel drops it before the error queue
    # (scapy sees it on the wire). The path is then "unidentified", not guessed.
    assert onprem["source_host"] == "cs01"
    assert onprem["taken"] is None
    assert [h["reply"] for h in onprem["trace"]["hops"][1:3]] == ["none", "none"]
    unidentified = [f for f in vpn["findings"] if f["code"] == "path-unidentified"]
    assert [f["level"] for f in unidentified] == ["unknown"]
    assert unidentified[0]["message"].startswith("cs01 → ")
    # ping sockets allowed on the Azure side: a real echo; not on-premises: said so
    assert (azure["echo"]["method"], azure["echo"]["received"]) == ("icmp_dgram", 5)
    assert onprem["echo"]["method"] == "unavailable" and not onprem["echo"]["available"]
    assert onprem["echo"]["detail"].startswith(f"echo not available on {onprem['source_host']}: ")
    assert "ping_group_range = 1 0" in onprem["echo"]["detail"]
    codes = finding_codes(vpn)
    assert codes["echo-unavailable"] == "unknown"  # never a green echo that did not happen
    assert codes["pmtu-below-interface"] == "warn"
    assert_no_agents_left(lab)
