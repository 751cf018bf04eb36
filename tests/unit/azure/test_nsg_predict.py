"""Predictions over a real plan (the lab topology), and prediction vs measurement findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.azure.nsg import compare, load_export, predict_plan
from netcheck.azure.nsg.compare import NsgFinding
from netcheck.azure.nsg.evaluate import Outcome
from netcheck.plan import build_plan
from netcheck.stats import Verdict
from netcheck.topology import load_topology
from tests.unit.azure.nsgdocs import PS1, VM1, export, nsg, predict, rule

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "tests" / "fixtures" / "azure" / "lab"
TOPOLOGY = ROOT / "topologies" / "lab" / "failback-topology.yaml"


@pytest.fixture(scope="module")
def lab_predictions():  # type: ignore[no-untyped-def]
    plan = build_plan(load_topology(TOPOLOGY))
    ex = load_export(LAB / "nsgs.json", LAB / "nics.json", LAB / "vnets.json")
    return plan, predict_plan(plan, ex)


def test_every_cell_with_an_azure_end_and_only_those(lab_predictions) -> None:  # type: ignore[no-untyped-def]
    plan, preds = lab_predictions
    azure = {"198.19.1.4", "198.19.1.10", "198.19.1.11"}
    want = [s.cell_id for s in plan.specs if {s.source_address, s.dest_address} & azure]
    assert [p.cell_id for p in preds.cells] == want
    assert len(want) == 8
    assert preds.notes == ()


def test_lab_predictions(lab_predictions) -> None:  # type: ignore[no-untyped-def]
    _plan, preds = lab_predictions
    got = {
        p.cell_id: (p.outcome.value, p.denied_by.name if p.denied_by else None) for p in preds.cells
    }
    assert got == {
        "vm-app01/nic0>cs01/failback:tcp/443": ("allowed", None),
        "vm-app02/nic0>cs01/failback:tcp/443": ("allowed", None),
        "vm-app01/nic0>ps-azure/nic0:tcp/9443": ("denied", "deny-replication"),
        "vm-app02/nic0>ps-azure/nic0:tcp/9443": ("denied", "deny-replication"),
        "vm-app01/nic0>vm-app02/nic0:tcp/20004": ("denied", "deny-vm-consistency"),
        "vm-app02/nic0>vm-app01/nic0:tcp/20004": ("denied", "deny-vm-consistency"),
        "ps-azure/nic0>cs01/failback:tcp/443": ("allowed", None),
        "ps-azure/nic0>mt01/nic0:tcp/9443": ("allowed", None),  # on-prem is in VirtualNetwork
    }
    vm_ps = preds.get("vm-app01/nic0>ps-azure/nic0:tcp/9443")
    assert vm_ps is not None
    assert vm_ps.hint == (
        "NSG nsg-ps-nic rule deny-replication (priority 200, inbound) denies TCP 9443 from "
        "198.19.1.0/24; add an allow at priority < 200 or narrow it"
    )
    assert vm_ps.reason.endswith("attached to nic nic-ps-azure")


def test_vnet_tag_without_vnet_export_uses_the_topology_and_says_so() -> None:
    plan = build_plan(load_topology(TOPOLOGY))
    ex = load_export(LAB / "nsgs.json", LAB / "nics.json")
    preds = predict_plan(plan, ex)
    assert any("VirtualNetwork tag: without the VNet export" in n for n in preds.notes)
    ps_mt = preds.get("ps-azure/nic0>mt01/nic0:tcp/9443")
    assert (
        ps_mt is not None and ps_mt.outcome is Outcome.ALLOWED
    )  # topology: mt01 is on-prem over the VPN


# --- prediction vs measurement ------------------------------------------------------------


def _allowed():  # type: ignore[no-untyped-def]
    return predict(export([nsg("n", [], subnets=())]), VM1, PS1)


def _denied():  # type: ignore[no-untyped-def]
    from tests.unit.azure.nsgdocs import SUBNET_B

    return predict(
        export([nsg("nsg-ps", [rule("deny-replication", 200)], subnets=(SUBNET_B,))]), VM1, PS1
    )


def test_agreeing_allow_passes() -> None:
    f = compare(_allowed(), Verdict.OPEN)
    assert isinstance(f, NsgFinding)
    assert (f.kind, f.verdict, f.subject) == ("nsg", "pass", f.subject)
    assert f.id == f"nsg:{f.subject}"


def test_predicted_allow_measured_filtered_points_outside_azure_with_the_hop() -> None:
    f = compare(_allowed(), Verdict.FILTERED, last_hop="onprem-gw 198.18.200.6")
    assert f.verdict == "fail"
    assert f.reason.startswith("predicted allow, measured filtered: outside Azure")
    assert "the on-premises firewall, the VPN, a route" in f.reason
    assert "onprem-gw 198.18.200.6" in f.reason and "onprem-gw 198.18.200.6" in f.hint


def test_predicted_deny_measured_open_says_stale_or_misattached() -> None:
    for measured in (Verdict.OPEN, Verdict.REFUSED):  # a RST came from the host: it got through
        f = compare(_denied(), measured)
        assert f.verdict == "warn"
        assert "the export is stale, or the rule is not attached where it seems" in f.reason


def test_agreeing_deny_of_a_needed_cell_fails_with_the_rule_hint() -> None:
    p = _denied()
    f = compare(p, Verdict.FILTERED)
    assert f.verdict == "fail" and f.hint == p.hint and "deny-replication" in f.hint
    assert compare(p, Verdict.FILTERED, expect_reachable=False).verdict == "pass"


def test_unmeasured_or_unknown_is_unknown() -> None:
    assert compare(_allowed(), Verdict.AGENT_LOST).verdict == "unknown"
    assert compare(_allowed(), Verdict.HANDSHAKE_ONLY).verdict == "unknown"


def test_finding_dict_shape() -> None:
    d = compare(_denied(), Verdict.FILTERED).to_dict()
    assert set(d) == {"id", "kind", "subject", "verdict", "reason", "hint", "doc"}


def test_compare_cells_over_a_plan(lab_predictions) -> None:  # type: ignore[no-untyped-def]
    from netcheck.azure.nsg import compare_cells

    _plan, preds = lab_predictions
    ps_mt = "ps-azure/nic0>mt01/nic0:tcp/9443"
    vm_ps = "vm-app01/nic0>ps-azure/nic0:tcp/9443"
    found = compare_cells(
        preds,
        {ps_mt: Verdict.FILTERED, vm_ps: Verdict.OPEN, "not/a>cell:tcp/1": Verdict.OPEN},
        last_hops={ps_mt: "onprem-gw 198.18.200.6 (s2s-vpn)"},
    )
    assert [(f.subject, f.verdict) for f in found] == [(vm_ps, "warn"), (ps_mt, "fail")]
    assert "onprem-gw 198.18.200.6 (s2s-vpn)" in found[1].reason
