"""The NSG predictions checked on the wire, in the failback lab (issue 17).

The lab's NSG export (tests/fixtures/azure/lab) is turned into nftables rules
(`netcheck.azure.nsg.nft`): the NIC NSG on the process server's namespace, the subnet
NSG on the Azure subnet's switch. A real sweep then measures every cell, and every
measured verdict agrees with the prediction: allowed cells are open, denied ones are
filtered. The sweep itself reads the export (`--azure-nsgs ...`) and reports each Azure
cell's prediction against its measurement as an `nsg` finding; the test checks those
findings against its own comparison. Then a drop on the on-premises gateway that no NSG
knows about: the cell is predicted allowed and measured filtered, and the sweep's
finding says the cause is outside Azure, naming the last hop that answered.

Every packet goes to a lab address from inside a lab namespace; every table is removed
in a `finally`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.azure.nsg import Outcome, Predictions, compare, load_export, predict_plan
from netcheck.azure.nsg.nft import NftTable, nft_tables
from netcheck.azure.nsg.predict import tag_scope
from netcheck.lab import Lab, LabState, lab_exec
from netcheck.plan import build_plan
from netcheck.stats import Verdict
from netcheck.topology import load_topology
from tests.integration.lab.test_lab_sweep import (
    TOPOLOGY,
    Report,
    assert_no_agents_left,
    cells,
    sweep,
)

EXPORT_ARGS = (
    *("--azure-nsgs", str(Path(__file__).resolve().parents[2] / "fixtures/azure/lab/nsgs.json")),
    *("--azure-nics", str(Path(__file__).resolve().parents[2] / "fixtures/azure/lab/nics.json")),
    *("--azure-vnets", str(Path(__file__).resolve().parents[2] / "fixtures/azure/lab/vnets.json")),
)


def nsg_findings(report: Report) -> dict[str, Report]:
    """The sweep's own NSG findings, by cell id."""
    return {f["subject"]: f for f in report["findings"] if f["kind"] == "nsg"}


pytestmark = pytest.mark.lab

EXPORT = Path(__file__).resolve().parents[2] / "fixtures" / "azure" / "lab"
AZURE_SUBNET_SWITCH = "az-sw"  # the lab namespace that is the Azure subnet
ONPREM_DROP = "ps-azure/nic0>mt01/nic0:tcp/9443"
ONPREM_DROP_TABLE = "inet nsg_test_onprem_drop"


def _nft(lab: Lab, ns: str, script: str) -> None:
    done = lab_exec(lab, ns, ["nft", "-f", "-"], input=script, text=True, capture_output=True)
    assert done.returncode == 0, f"nft in {ns}: {done.stderr}"


def _namespace(table: NftTable) -> str:
    if table.kind == "subnet":
        return AZURE_SUBNET_SWITCH
    topo = load_topology(TOPOLOGY)
    (host,) = [h.name for h in topo.hosts if any(str(n.address) in table.addresses for n in h.nics)]
    return host  # the lab's host namespaces carry the topology's host names


@pytest.fixture
def predictions() -> Predictions:
    export = load_export(EXPORT / "nsgs.json", EXPORT / "nics.json", EXPORT / "vnets.json")
    return predict_plan(build_plan(load_topology(TOPOLOGY)), export)


@pytest.fixture
def nsgs_enforced(lab: Lab, lab_state: LabState) -> Iterator[list[tuple[str, NftTable]]]:
    export = load_export(EXPORT / "nsgs.json", EXPORT / "nics.json", EXPORT / "vnets.json")
    tables = [
        (_namespace(t), t) for t in nft_tables(export, tag_scope(load_topology(TOPOLOGY), export))
    ]
    assert sorted(ns for ns, _t in tables) == ["az-sw", "ps-azure"]
    try:
        for ns, t in tables:
            _nft(lab, ns, t.script)
        yield tables
    finally:
        for ns, t in tables:
            _nft(lab, ns, t.delete_script)


def _last_hop(report: Report, cell_id: str) -> str | None:
    for d in (report.get("diagnostics") or {}).get("cells", []):
        if d["cell_id"] == cell_id and d.get("last_hop"):
            return str(
                d.get("last_hop_label") or d["last_hop"]
            )  # "onprem-gw 198.18.200.6 (s2s-vpn)"
    return None


def _check_every_cell(report: Report, preds: Predictions, except_cell: str | None = None) -> None:
    measured = cells(report)
    predicted = preds.by_cell()
    assert set(predicted) <= set(measured)
    reported = nsg_findings(report)
    assert set(reported) == set(predicted)  # one finding per predicted cell, no more
    for cell_id, c in measured.items():
        assert c["status"] == "measured", cell_id
        p = predicted.get(cell_id)
        if p is None:  # no Azure end: no NSG on its way
            assert c["verdict"] == "open", (cell_id, c["reason"])
            continue
        if cell_id == except_cell:
            continue
        want = {Outcome.ALLOWED: "open", Outcome.DENIED: "filtered"}[p.outcome]
        assert c["verdict"] == want, (cell_id, p.reason, c["reason"])
        finding = compare(p, Verdict(c["verdict"]), expect_reachable=True)
        assert "as predicted" in finding.reason, finding
        assert finding.verdict == ("pass" if p.outcome is Outcome.ALLOWED else "fail")
        # the sweep's finding is the same, and a denied cell names the rule that denies it
        got = reported[cell_id]
        assert (got["verdict"], got["reason"], got["hint"]) == (
            finding.verdict,
            finding.reason,
            finding.hint,
        )
        if p.outcome is Outcome.DENIED:
            assert "NSG " in got["hint"] and "priority" in got["hint"], got


def test_measured_verdicts_agree_with_the_nsg_predictions(
    lab: Lab, lab_state: LabState, nsgs_enforced: object, predictions: Predictions
) -> None:
    outcomes = sorted(p.outcome.value for p in predictions.cells)
    assert outcomes == ["allowed"] * 4 + ["denied"] * 4  # both kinds are on the wire
    code, report = sweep(lab, lab_state, TOPOLOGY, None, *EXPORT_ARGS)
    assert (code, report["verdict"]) == (1, "no-go")
    _check_every_cell(report, predictions)
    assert_no_agents_left(lab)


def test_onprem_drop_is_predicted_allow_measured_filtered_outside_azure(
    lab: Lab, lab_state: LabState, nsgs_enforced: object, predictions: Predictions
) -> None:
    p = predictions.get(ONPREM_DROP)
    assert p is not None and p.outcome is Outcome.ALLOWED
    drop = (
        f"add table {ONPREM_DROP_TABLE}\ndelete table {ONPREM_DROP_TABLE}\n"
        f"table {ONPREM_DROP_TABLE} {{\n  chain forward {{\n"
        "    type filter hook forward priority filter; policy accept;\n"
        "    ip saddr 198.19.1.4 ip daddr 198.18.2.20 tcp dport 9443 counter drop\n  }\n}\n"
    )
    _nft(lab, "onprem-gw", drop)
    try:
        code, report = sweep(lab, lab_state, TOPOLOGY, None, *EXPORT_ARGS)
    finally:
        _nft(lab, "onprem-gw", f"add table {ONPREM_DROP_TABLE}\ndelete table {ONPREM_DROP_TABLE}\n")
    assert code == 1
    _check_every_cell(report, predictions, except_cell=ONPREM_DROP)
    c = cells(report)[ONPREM_DROP]
    assert c["verdict"] == "filtered", c["reason"]
    hop = _last_hop(report, ONPREM_DROP)
    finding = compare(p, Verdict.FILTERED, last_hop=hop)
    assert finding.verdict == "fail"
    assert finding.reason.startswith("predicted allow, measured filtered: outside Azure")
    # the sweep traces a filtered cell (the lab agents have scapy): the finding names the hop
    assert hop is not None, report.get("diagnostics")
    assert hop in finding.reason
    got = nsg_findings(report)[ONPREM_DROP]
    assert (got["verdict"], got["reason"]) == ("fail", finding.reason)
    assert_no_agents_left(lab)
