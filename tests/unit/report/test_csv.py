"""`--format csv`: read back with Python's csv reader, names with commas and quotes intact,
one row per cell, one per other finding, the sweep (and its --limit) on the first row."""

from __future__ import annotations

import csv
import dataclasses
import io

from netcheck.limit import limit_plan
from netcheck.plan import build_plan
from netcheck.report.csv_report import COLUMNS
from netcheck.report.formats import FORMATS, render
from netcheck.result.model import SweepResult
from netcheck.topology import load_topology_text
from tests.unit.report.reportkit import PS_MT, RDP, TOPOLOGY, make_sweep
from tests.unit.report.test_bandwidth_report import REFUSED

ODD_HOST = 'cs,"01"'
ODD_NAME = 'report,"demo"'
ODD_HINT = 'Close RDP, "3389", to the process server;\nthen sweep again.'
FORMULA_HOST = "=1+1"


def _odd_sweep() -> SweepResult:
    text = (
        TOPOLOGY.replace("name: report-demo", f"name: '{ODD_NAME}'")
        .replace("  cs01:\n", f"  '{ODD_HOST}':\n")
        .replace("  mt01:", f"  '{FORMULA_HOST}':")
        .replace(
            "hint: Close RDP to the process server.}",
            'hint: "Close RDP, \\"3389\\", to the process server;\\nthen sweep again."}',
        )
    )
    plan = build_plan(load_topology_text(text, "odd.yaml"))
    names = {h.name for h in plan.topology.hosts}
    assert {ODD_HOST, FORMULA_HOST} <= names and plan.topology.name == ODD_NAME
    sweep = make_sweep({(PS_MT[0], FORMULA_HOST, PS_MT[2]): "refused"}, plan=plan)
    return dataclasses.replace(sweep, bandwidth=(REFUSED,))


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_csv_is_a_format() -> None:
    assert "csv" in FORMATS


def test_rows_for_the_sweep_each_cell_and_each_other_finding() -> None:
    sweep = _odd_sweep()
    text = render(sweep, "csv")
    assert text.endswith("\n")
    rows = _rows(text)
    head, body = rows[0], rows[1:]
    assert head["row"] == "sweep" and head["id"] == sweep.sweep_id
    assert head["subject"] == ODD_NAME  # a comma and quotes, intact
    assert head["verdict"] == "no-go" and head["limit"] == ""
    assert head["finished_at"] == "2023-11-14T22:13:22Z"
    cells = [r for r in body if r["row"] == "cell"]
    others = [r for r in body if r["row"] == "finding"]
    assert len(cells) == len(sweep.results) and len(cells) + len(others) == len(body)
    assert len(cells) + len(others) == len(sweep.findings())
    assert {r["kind"] for r in others} == {"bandwidth"}
    # every finding once: the failing rows are exactly the sweep's failing findings
    assert {r["id"] for r in body if r["verdict"] == "fail"} == {f.id for f in sweep.failing()}
    # names with commas and quotes survive, as does a hint with a line break
    to_odd = [r for r in cells if r["dest"] == ODD_HOST]
    assert to_odd and all(r["id"].startswith("cell:") for r in to_odd)
    assert {r["source"] for r in cells} >= {"vm1", "ps-azure"}
    rdp = next(r for r in cells if (r["source"], r["dest"], r["port"]) == (RDP[0], RDP[1], "3389"))
    assert rdp["expect"] == "blocked" and rdp["verdict"] == "fail" and rdp["result"] == "open"
    assert rdp["hint"] == ODD_HINT
    # what was measured, per cell
    refused = next(r for r in cells if r["port"] == "9443" and r["source"] == "ps-azure")
    assert (refused["result"], refused["attempts"], refused["answered"]) == ("refused", "3", "0")
    assert refused["loss_pct"] == "100" and refused["rtt_p50_ms"] == ""
    fast = next(r for r in cells if (r["source"], r["port"]) == ("vm1", "9443"))
    assert fast["verdict"] == "pass" and fast["rtt_p50_ms"] == "0.12"


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    rows = _rows(render(_odd_sweep(), "csv"))
    to_formula = [r for r in rows if r["row"] == "cell" and r["dest"].endswith(FORMULA_HOST)]
    assert to_formula and {r["dest"] for r in to_formula} == {"'" + FORMULA_HOST}
    assert all(not v.startswith(("=", "+", "@")) for r in rows for v in r.values())


def test_a_limited_sweep_says_so_on_its_first_row() -> None:
    plan = limit_plan(make_sweep().plan, "ps-azure")
    sweep = make_sweep(plan=plan)
    head = _rows(render(sweep, "csv"))[0]
    assert head["limit"] == "ps-azure"
    assert f"LIMITED to hosts matching 'ps-azure': {len(plan.specs)} of " in head["reason"]
