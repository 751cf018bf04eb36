"""`netcheck bandwidth` across the lab's shaped VPN and its ExpressRoute, over SSH.

The coordinator runs in the lab's management namespace; the agents on ps-azure
and mt01 are uploaded and started over SSH (strict host keys) and the test data
crosses the `tc tbf`-shaped VPN router like real failback data. Every packet
stays inside lab namespaces; every run is bounded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.lab import Lab, LabState, lab_exec, lab_fault

pytestmark = pytest.mark.lab

TOPOLOGY = Path(__file__).resolve().parents[3] / "topologies" / "lab" / "failback-topology.yaml"


def vpn_rate_mbps(lab: Lab) -> float:
    rates = {e.shape.rate_bit for link in lab.links for e in link.ends if e.shape is not None}
    assert len(rates) == 1, rates
    return rates.pop() / 1e6


def bandwidth(lab: Lab, state: LabState, *extra: str) -> dict[str, Any]:
    argv = [
        *(sys.executable, "-m", "netcheck", "bandwidth", str(TOPOLOGY)),
        *("--known-hosts", str(state.known_hosts), "-i", str(state.client_key)),
        *("--format", "json", *extra),
    ]
    proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    doc: dict[str, Any] = json.loads(proc.stdout)
    (test,) = doc["tests"]
    assert test["reason"] == "completed", test
    return test


def test_the_vpn_measures_its_shaped_rate_and_expressroute_is_faster(
    lab: Lab, lab_state: LabState
) -> None:
    shaped = vpn_rate_mbps(lab)
    common = ("--from", "ps-azure", "--to", "mt01", "--duration", "4", "--streams", "4")
    vpn = bandwidth(lab, lab_state, *common)
    assert vpn["path"] == "s2s-vpn" and vpn["figure_source"] == "receiver"
    assert vpn["source_address"] == "198.19.1.4" and vpn["dest_address"] == "198.18.2.20"
    assert abs(vpn["mbps"] - shaped) <= 0.10 * shaped, f"{vpn['mbps']} vs shaped {shaped}"
    assert vpn["retransmits"] is not None
    assert len(vpn["intervals"]) == 4
    # the floor of the lab topology (min_mbps 50) holds over the shaped VPN
    assert vpn["min_ok"] is True and vpn["passed"] is True

    rev = bandwidth(lab, lab_state, "--from", "mt01", "--to", "ps-azure", "--reverse",
                    "--duration", "3", "--streams", "2")  # fmt: skip
    assert rev["sender"] == "ps-azure" and rev["receiver"] == "mt01"
    assert abs(rev["mbps"] - shaped) <= 0.10 * shaped, f"{rev['mbps']} vs shaped {shaped}"

    lab_fault(lab, "route_via_expressroute", on=True)
    try:
        er = bandwidth(lab, lab_state, *common)
    finally:
        lab_fault(lab, "route_via_expressroute", on=False)
    assert er["mbps"] > 2 * vpn["mbps"], f"ExpressRoute {er['mbps']} vs VPN {vpn['mbps']}"
