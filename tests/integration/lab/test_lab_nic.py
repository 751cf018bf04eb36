"""The dual-NIC configuration server in the failback lab: `netcheck nic` over SSH.

The coordinator runs in the lab's management namespace; cs01's agent (root over SSH,
the machine's python3 with Debian's python3-scapy) reads its interfaces and route
choices, captures the handshakes on eth0/eth1 and ARP-probes both NIC addresses, while
the Azure and on-prem agents probe both NICs. Each dual-NIC fault of the lab file is
switched on alone, detected and named by its check; with every fault off the report is
clean. Every packet stays inside the lab's namespaces; every fault is undone in a
`finally`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.lab import Lab, LabState, lab_exec, lab_fault
from tests.conftest import require

pytestmark = pytest.mark.lab

TOPOLOGY = Path(__file__).resolve().parents[3] / "topologies" / "lab" / "failback-topology.yaml"
Report = dict[str, Any]


def nic(lab: Lab, state: LabState) -> tuple[int, Report]:
    argv = [
        *(sys.executable, "-m", "netcheck", "nic", str(TOPOLOGY), "--host", "cs01"),
        *("--known-hosts", str(state.known_hosts), "-i", str(state.client_key)),
        "--format",
        "json",
    ]
    proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    report: Report = json.loads(proc.stdout)
    assert report["schema"] == "netcheck.nic"
    cs01 = next(a for a in report["agents"] if a["host"] == "cs01")
    require(
        cs01["capabilities"].get("scapy", False) and cs01["capabilities"].get("raw_sockets", False),
        "cs01's python3 has no scapy (apt-get install python3-scapy) or no raw sockets",
    )
    return proc.returncode, report


def bad(report: Report) -> set[tuple[str, str, str]]:
    return {
        (f["check"], f["subject"], f["verdict"])
        for f in report["findings"]
        if f["verdict"] != "pass"
    }


def test_without_faults_the_nic_report_is_clean_and_measured(lab: Lab, lab_state: LabState) -> None:
    code, report = nic(lab, lab_state)
    assert bad(report) == set()
    assert (code, report["verdict"], report["live"]) == (0, "pass", "live")
    nics = {n["name"]: n for n in report["nics"]}
    assert (nics["source"]["iface"], nics["source"]["subnet"]) == ("eth0", "198.18.2.0/24")
    assert (nics["failback"]["iface"], nics["failback"]["subnet"]) == ("eth1", "198.18.3.0/24")
    assert (nics["source"]["default_route"], nics["failback"]["default_route"]) == (True, False)
    assert nics["source"]["rp_filter"] == nics["failback"]["rp_filter"] == 1
    # which NIC reaches what: Azure only through the failback NIC, on-prem only through
    # the source NIC (strict rp_filter drops the other NIC's replies, as the capture shows)
    assert "← ps-azure:443" in nics["failback"]["reaches"]
    assert "→ ps-azure:443" in nics["failback"]["reaches"]
    assert "← ps-azure:443" in nics["source"]["does_not_reach"]
    assert "→ vcenter:443" in nics["source"]["reaches"]
    assert "→ vcenter:443" in nics["failback"]["does_not_reach"]
    for c in report["cells"]:
        assert c["passed"] == c["expected"], c
        assert c["path_note"], c  # every handshake was seen on the wire
    notes = {c["cell_id"]: c["path_note"] for c in report["cells"]}
    assert notes["cs01/source>ps-azure/nic0:tcp/443"] == (
        "left eth1, reply on eth0 (strict rp_filter on eth0 drops it)"
    )
    # the checks that need raw sockets ran: measured passes, not unknowns
    checks = {(f["check"], f["verdict"]) for f in report["findings"]}
    assert ("nic-asymmetric-return", "pass") in checks
    assert ("nic-duplicate-address", "pass") in checks


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        (
            "cs_default_route_wrong_nic",
            {
                ("nic-route-choice", "cs01 → ps-azure", "fail"),
                ("nic-rp-filter", "cs01/failback", "fail"),
                ("nic-asymmetric-return", "cs01/failback → ps-azure", "fail"),
            },
        ),
        (
            "cs_failback_return_via_lan",
            {
                ("nic-asymmetric-return", "cs01/failback ← ps-azure", "fail"),
                ("nic-asymmetric-return", "cs01/failback → ps-azure", "fail"),
            },
        ),
        ("cs_overlap_azure_subnet", {("nic-overlap-live", "cs01/eth0", "fail")}),
        ("cs_duplicate_failback_ip", {("nic-duplicate-address", "cs01/failback", "fail")}),
    ],
)
def test_each_dual_nic_fault_is_detected_and_named(
    lab: Lab, lab_state: LabState, fault: str, named: set[tuple[str, str, str]]
) -> None:
    lab_fault(lab, fault, on=True)
    try:
        code, report = nic(lab, lab_state)
    finally:
        lab_fault(lab, fault, on=False)
    assert (code, report["verdict"]) == (1, "fail")
    found = bad(report)
    assert named <= found, found
    # nothing else is blamed: every finding that is not pass belongs to the fault's checks
    assert {check for check, _, _ in found} == {check for check, _, _ in named}
    for f in report["findings"]:
        if f["verdict"] == "fail":
            assert (
                f["hint"]
                and f["doc"]
                == "https://learn.microsoft.com/azure/site-recovery/vmware-azure-prepare-failback"
            ), f
    if fault == "cs_duplicate_failback_ip":
        dup = next(f for f in report["findings"] if f["verdict"] == "fail")
        mac = lab_exec(
            lab,
            "cs-old",
            ["cat", "/sys/class/net/eth0/address"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        assert mac in dup["message"]  # the other machine, named by its MAC


def test_the_sweep_carries_the_nic_section(lab: Lab, lab_state: LabState) -> None:
    argv = [
        *(sys.executable, "-m", "netcheck", "sweep", str(TOPOLOGY), "--no-progress"),
        *("--known-hosts", str(lab_state.known_hosts), "-i", str(lab_state.client_key)),
        *("--format", "json", "--no-store"),
    ]
    lab_fault(lab, "cs_duplicate_failback_ip", on=True)
    try:
        proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=120)
    finally:
        lab_fault(lab, "cs_duplicate_failback_ip", on=False)
    report = json.loads(proc.stdout)
    [section] = report["nics"]
    assert section["host"] == "cs01" and section["verdict"] == "fail"
    assert (proc.returncode, report["verdict"]) == (1, "no-go")
    assert any(
        f["check"] == "nic-duplicate-address" and f["verdict"] == "fail"
        for f in section["findings"]
    )
