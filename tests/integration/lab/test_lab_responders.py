"""A real DNAT in the lab: the misdirected cell fails, naming the responder that answered.

The Azure gateway namespace gets an nft DNAT that sends on-premises traffic for
ps-azure 198.19.1.4:9443 to mt01 198.18.2.20:9443 (and SNATs it to the gateway's
VNet address, so the answer comes back the same way, as a port forward in a real
gateway does).
Every host runs its real agent and responders over SSH; the coordinator is the
real CLI in the management namespace. The cell cs01 → ps-azure:9443 then reaches
mt01's responder, which answers with *its* key: the cell fails with "answered by
a different netcheck responder (mt01?)" and the sweep is NO-GO, while
ps-azure → mt01:9443, which really goes to mt01, stays proven.

Set NETCHECK_LAB_TEST_PREFIX so the lab does not collide with another run's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.lab import Lab, LabState, lab_exec
from tests.integration.lab.test_lab_sweep import cells, failing, sweep, variant

pytestmark = pytest.mark.lab

PS, MT = "198.19.1.4", "198.18.2.20"
GW = "198.19.1.1"  # azure-gw on the VNet: an address on-premises routes back over the VPN
TABLE = "netcheck_test_dnat"
DNAT = f"""
table ip {TABLE} {{
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {PS} tcp dport 9443 counter dnat to {MT}
  }}
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
    ct status dnat ip daddr {MT} tcp dport 9443 counter snat to {GW}
  }}
}}
"""
CS_TO_PS = "cs01/failback>ps-azure/nic0:tcp/9443"
PS_TO_MT = "ps-azure/nic0>mt01/nic0:tcp/9443"


@pytest.fixture
def dnat_ps_to_mt(lab: Lab, lab_state: LabState) -> Iterator[None]:
    """The DNAT in azure-gw for as long as the test runs."""
    lab_exec(lab, "azure-gw", ["nft", "-f", "-"], input=DNAT, text=True, check=True)
    try:
        yield
    finally:
        lab_exec(lab, "azure-gw", ["nft", "delete", "table", "ip", TABLE], check=False)


def with_cs_to_ps(tmp_path: Path) -> Path:
    """The lab topology plus a cell that crosses the gateway to ps-azure:9443."""

    def edit(doc: dict[str, object]) -> None:
        doc["rules"] = [
            {"id": "cs-to-ps-data", "from": "host:cs01", "to": "host:ps-azure", "port": 9443}
        ]

    return variant(tmp_path, "cs-to-ps", edit)


def test_a_dnat_to_another_responder_fails_the_cell_and_the_sweep(
    lab: Lab, lab_state: LabState, dnat_ps_to_mt: None, tmp_path: Path
) -> None:
    code, report = sweep(lab, lab_state, with_cs_to_ps(tmp_path))
    by_id = cells(report)
    misdirected = by_id[CS_TO_PS]
    assert misdirected["status"] == "measured" and not misdirected["passed"]
    assert misdirected["verdict"] == "handshake-only"
    assert "answered by a different netcheck responder (mt01?)" in misdirected["reason"]
    assert all(
        s["detail"] == "answered by a different netcheck responder (mt01?)" and not s["proven"]
        for s in misdirected["samples"]
    )
    # the cell that really goes to mt01 is proven; ps-azure's own responder listened
    assert by_id[PS_TO_MT]["passed"]
    assert all(s["proven"] for s in by_id[PS_TO_MT]["samples"])
    responders = {(r["host"], r["port"]): r["state"] for r in report["responders"]}
    assert responders[("ps-azure", 9443)] == responders[("mt01", 9443)] == "responder"
    assert set(failing(report)) == {CS_TO_PS}
    assert (code, report["verdict"]) == (1, "no-go")
    # the DNAT really was hit (not a route or a firewall failing the cell)
    listed = lab_exec(
        lab, "azure-gw", ["nft", "list", "table", "ip", TABLE], capture_output=True, text=True
    ).stdout
    hits = re.search(r"counter packets (\d+) bytes \d+ dnat to", listed)
    assert hits is not None and int(hits.group(1)) >= 3, listed


def test_without_the_dnat_the_same_cell_is_proven(
    lab: Lab, lab_state: LabState, tmp_path: Path
) -> None:
    code, report = sweep(lab, lab_state, with_cs_to_ps(tmp_path))
    cell = cells(report)[CS_TO_PS]
    assert cell["passed"] and all(s["proven"] for s in cell["samples"]), cell
    assert (code, report["verdict"], failing(report)) == (0, "go", {})
