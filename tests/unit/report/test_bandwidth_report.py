"""Bandwidth tests in the terminal and JSON reports; docs/report-json.md lists every field."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from netcheck.bandwidth import (
    BandwidthOutcome,
    BandwidthSample,
    BandwidthStatus,
    EndpointReport,
    judge_bandwidth,
)
from netcheck.report import render_json, render_table
from netcheck.report.bandwidth_report import render_bandwidth_json, render_bandwidth_table
from netcheck.report.json_report import sweep_to_dict
from netcheck.report.table import Detail
from netcheck.result.model import SweepResult
from netcheck.topology.bandwidth import BandwidthCheck
from tests.unit.report.reportkit import RDP, make_sweep

DOC = Path(__file__).resolve().parents[3] / "docs" / "report-json.md"

MEASURED = BandwidthOutcome(
    BandwidthCheck("ps-azure", "mt01", 2.0, 4),
    "s2s-vpn",
    "127.0.4.4",
    "127.0.2.20",
    BandwidthStatus.MEASURED,
    "completed",
    port=40000,
    bytes=25_000_000,
    seconds=2.0,
    mbps=100.0,
    retransmits=3,
    streams=4,
    figure_source="receiver",
    intervals=(BandwidthSample(1.0, 1.0, 12_000_000, 2), BandwidthSample(2.0, 1.0, 13_000_000, 1)),
    endpoint=EndpointReport(25_000_000, 2.01, 4, 1, "completed", None),
)
REFUSED = BandwidthOutcome(
    BandwidthCheck("mt01", "ps-azure", 2.0, 1, reverse=True),
    "s2s-vpn",
    "127.0.2.20",
    "127.0.4.4",
    BandwidthStatus.FAILED,
    "refused",
    port=40001,
)


def sweep_with(*outcomes: BandwidthOutcome, kinds: dict | None = None) -> SweepResult:  # type: ignore[type-arg]
    return dataclasses.replace(make_sweep(kinds), bandwidth=outcomes)


def test_bandwidth_results_join_go_no_go() -> None:
    green = {RDP: "refused"}  # every other cell open-fast: a GO sweep
    assert sweep_with(kinds=green).go
    assert sweep_with(MEASURED, kinds=green).go
    assert not sweep_with(MEASURED, REFUSED, kinds=green).go


def test_the_json_report_carries_figures_verdicts_and_samples() -> None:
    doc = json.loads(render_json(sweep_with(MEASURED, REFUSED)))
    ok, bad = doc["bandwidth"]
    assert doc["verdict"] == "no-go"
    assert ok["sender"] == "ps-azure" and ok["receiver"] == "mt01" and ok["passed"]
    assert ok["mbps"] == 100.0 and ok["retransmits"] == 3 and ok["figure_source"] == "receiver"
    assert [s["mbps"] for s in ok["intervals"]] == [96.0, 104.0]
    assert ok["endpoint"]["rejected"] == 1
    assert bad["status"] == "failed" and bad["reason"] == "refused" and not bad["passed"]
    assert bad["sender"] == "ps-azure" and bad["receiver"] == "mt01" and bad["reverse"]
    assert bad["mbps"] is None and bad["intervals"] == [] and bad["endpoint"] is None


def test_the_terminal_report_has_a_row_per_path_and_direction() -> None:
    sweep = sweep_with(MEASURED, REFUSED)
    assert (
        "bandwidth: ps-azure → mt01 100.0 Mbit/s ok; ps-azure → mt01 (rev) not measured FAIL"
        in render_table(sweep, width=400).splitlines()
    )  # one line; the table with -v:
    text = render_table(sweep, detail=Detail.FULL, width=400)
    assert "Bandwidth (Mbit/s;" in text
    rows = [line for line in text.splitlines() if line.startswith("s2s-vpn")]
    assert len(rows) == 2
    assert "ps-azure → mt01" in rows[0] and "100.0" in rows[0] and rows[0].endswith("ok")
    assert "(rev)" in rows[1] and rows[1].endswith("FAILED")
    assert "  ps-azure → mt01: not measured (ps-azure → mt01): refused" in text


def test_the_bandwidth_command_documents() -> None:
    sweep = sweep_with(MEASURED)
    topo = sweep.plan.topology
    pairs = [(MEASURED, judge_bandwidth(MEASURED, topo))]
    doc = json.loads(render_bandwidth_json(topo, pairs, 1_700_000_000.0))
    assert doc["schema"] == "netcheck.bandwidth" and doc["verdict"] == "go"
    assert doc["tests"][0] == sweep_to_dict(sweep)["bandwidth"][0]
    assert render_bandwidth_table(topo, pairs).splitlines()[1] == "GO: 1 of 1 bandwidth tests pass"


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


def test_the_schema_document_lists_every_bandwidth_field() -> None:
    fields = _documented_fields()
    b = sweep_to_dict(sweep_with(MEASURED))["bandwidth"][0]
    with_churn = dataclasses.replace(MEASURED)
    assert fields["`bandwidth[]`"] == list(b)
    assert fields["`bandwidth[].endpoint`"] == list(b["endpoint"])
    assert fields["`bandwidth[].intervals[]`"] == list(b["intervals"][0])
    assert "bandwidth" in fields["Top level"]
    from netcheck.bandwidth.verdict import ChurnDemand
    from netcheck.report.bandwidth_report import outcome_to_dict

    v = dataclasses.replace(
        judge_bandwidth(with_churn, sweep_with().plan.topology),
        demand=ChurnDemand(("vm1",), 100.0, 10.0, 15.0, 9.3, 13.9, 64.0, 64.0),
    )
    assert fields["`bandwidth[].churn`"] == list(outcome_to_dict(MEASURED, v)["churn"])
