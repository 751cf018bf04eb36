"""The JSON report (schema netcheck.sweep v1, docs/report-json.md) and the plan JSON."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from netcheck.appplan import AZURE_NOT_DECLARED
from netcheck.catalog import load_catalog
from netcheck.catalog.docrefs import public_doc
from netcheck.report import SCHEMA_VERSION, render_json, render_plan_json, sweep_to_dict
from netcheck.report.plan_report import plan_to_dict, render_plan_table
from netcheck.result.cells import AgentInfo, CellStatus, ProbeQueuing
from netcheck.result.findings import Finding
from netcheck.result.model import ResponderInfo
from tests.unit.report.reportkit import (
    MT_CS,
    PS_CS,
    PS_MT,
    RDP,
    VM_CS,
    make_sweep,
    report_plan,
    spec_of,
)

CATALOG = load_catalog()

CELL_KEYS = [
    "cell_id",
    "source_host",
    "source_nic",
    "source_address",
    "dest_host",
    "dest_nic",
    "dest_address",
    "proto",
    "port",
    "documented_port",
    "rule_id",
    "rule_ids",
    "flows",
    "evidence",
    "expect",
    "path",
    "status",
    "verdict",
    "passed",
    "reason",
    "hint",
    "doc",
    "error_codes",
    "sent",
    "answered",
    "loss_pct",
    "rtt_ms",
    "rtt_source",
    "samples",
    "app",
]
SAMPLE_KEYS = ["outcome", "rtt_us", "rtt_source", "errno", "detail", "proven", "t", "facts"]
AGENT_KEYS = [
    "host",
    "transport",
    "available",
    "lost",
    "reason",
    "agent_version",
    "python",
    "platform",
    "capabilities",
    "pid",
]


def _cells(doc: dict, key: tuple[str, str, int]) -> dict:  # type: ignore[type-arg]
    cell_id = spec_of(report_plan(), key).cell_id
    (c,) = [c for c in doc["cells"] if c["cell_id"] == cell_id]
    return c


def test_round_trips_through_json_loads() -> None:
    sweep = make_sweep()
    text = render_json(sweep)
    assert text.endswith("}\n")
    assert json.loads(text) == sweep_to_dict(sweep)


def test_top_level() -> None:
    doc = json.loads(render_json(make_sweep()))
    assert list(doc)[:2] == ["schema", "schema_version"]  # the full list: the doc test below
    assert doc["schema"] == "netcheck.sweep"
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["sweep_id"] == "sw-0001"
    assert doc["topology"] == {"name": "report-demo", "file": "report-demo.yaml"}
    # UTC, millisecond precision, explicit offset
    assert doc["started_at"] == "2023-11-14T22:13:20.250+00:00"
    assert doc["finished_at"] == "2023-11-14T22:13:22.750+00:00"
    assert (doc["partial"], doc["verdict"]) == (False, "no-go")
    assert doc["settings"] == {
        "samples": 3,
        "interval_ms": 200,
        "timeout_ms": 800,
        "concurrency": 4096,
        "limit": None,
    }
    counts = {"cells": 6, "passed": 3, "failed": 3, "not_measured": 0}
    assert {k: doc["summary"][k] for k in counts} == counts
    assert doc["summary"]["findings"] == {"cell": {"pass": 3, "fail": 3, "warn": 0, "unknown": 0}}
    failing = [f["id"] for f in doc["findings"] if f["verdict"] == "fail"]
    assert doc["summary"]["failing"] == failing
    assert failing == ["cell:" + c["cell_id"] for c in doc["cells"] if not c["passed"]]
    assert len(doc["cells"]) == 6


def test_phases() -> None:
    sweep = dataclasses.replace(make_sweep(), phases={"agents_s": 0.021349, "probes_s": 2.0})
    assert sweep_to_dict(sweep)["phases_s"] == {"agents_s": 0.0213, "probes_s": 2.0}
    assert sweep_to_dict(make_sweep())["phases_s"] == {}


def test_go_verdict() -> None:
    doc = sweep_to_dict(make_sweep({RDP: "refused"}))
    assert doc["verdict"] == "go"
    counts = {"cells": 6, "passed": 6, "failed": 0, "not_measured": 0}
    assert {k: doc["summary"][k] for k in counts} == counts
    assert doc["summary"]["failing"] == []


def test_every_cell_field() -> None:
    doc = json.loads(render_json(make_sweep()))
    for c in doc["cells"]:
        assert list(c) == CELL_KEYS
        for s in c["samples"]:
            assert list(s) == SAMPLE_KEYS
    ok = _cells(doc, VM_CS)
    assert ok["app"] is None  # a plain TCP cell
    assert {
        k: ok[k] for k in CELL_KEYS if k not in ("rtt_ms", "samples", "hint", "doc", "app")
    } == {
        "cell_id": "vm1/nic0>cs01/failback:tcp/10443",
        "source_host": "vm1",
        "source_nic": "nic0",
        "source_address": "127.0.4.10",
        "dest_host": "cs01",
        "dest_nic": "failback",
        "dest_address": "127.0.3.10",
        "proto": "tcp",
        "port": 10443,
        "documented_port": 443,
        "rule_id": "vm-to-cs-https",
        "rule_ids": ["vm-to-cs-https"],
        "flows": [1, 9],
        "evidence": "documented",
        "expect": "reachable",
        "path": "s2s-vpn",
        "status": "measured",
        "verdict": "open",
        "passed": True,
        "reason": "",
        "error_codes": ["95226", "(7) Couldn't connect to server"],
        "sent": 3,
        "answered": 3,
        "loss_pct": 0.0,
        "rtt_source": "tcp_info",
    }
    assert ok["hint"] == ""  # a passing cell needs no fix
    assert ok["doc"] == public_doc(CATALOG.rule("vm-to-cs-https").doc)  # the public URLs
    # RTTs in ms, rounded to the microsecond: 0.12, 0.11, 0.15
    assert ok["rtt_ms"] == {
        "min": 0.11,
        "avg": round((0.12 + 0.11 + 0.15) / 3, 3),
        "p50": 0.12,
        "p95": 0.147,
        "p99": 0.149,
        "max": 0.15,
        "jitter": 0.025,
    }
    assert ok["samples"][0] == {
        "outcome": "open",
        "rtt_us": 120,
        "rtt_source": "tcp_info",
        "errno": None,
        "detail": "",
        "proven": True,
        "t": 0.0,
        "facts": None,
    }


def test_failing_cells_carry_hint_reason_and_evidence() -> None:
    doc = sweep_to_dict(make_sweep())
    refused = _cells(doc, PS_MT)
    assert (refused["verdict"], refused["passed"], refused["evidence"]) == (
        "refused",
        False,
        "inferred",
    )
    assert refused["hint"] == CATALOG.rule("ps-to-mt-data").hint
    assert refused["reason"].startswith("connection refused by mt01 127.0.2.20:9443")
    assert (refused["answered"], refused["loss_pct"], refused["rtt_ms"], refused["rtt_source"]) == (
        0,
        100.0,
        None,
        None,
    )
    assert refused["samples"][0]["errno"] == 111
    filtered = _cells(doc, PS_CS)
    assert (filtered["verdict"], filtered["flows"], filtered["error_codes"]) == (
        "filtered",
        [10],
        ["806"],
    )
    rdp = _cells(doc, RDP)
    assert (rdp["expect"], rdp["verdict"], rdp["passed"], rdp["evidence"]) == (
        "blocked",
        "open",
        False,
        "user",
    )
    assert (rdp["hint"], rdp["doc"], rdp["flows"], rdp["path"]) == (
        "Close RDP to the process server.",
        "topology rule",
        [],
        None,
    )


def test_partial_and_not_measured() -> None:
    doc = sweep_to_dict(make_sweep({RDP: "refused", MT_CS: CellStatus.NOT_RUN}, interrupted=True))
    assert (doc["partial"], doc["verdict"]) == (True, "no-go")
    counts = {"cells": 6, "passed": 5, "failed": 1, "not_measured": 1}
    assert {k: doc["summary"][k] for k in counts} == counts
    c = _cells(doc, MT_CS)
    assert (c["status"], c["verdict"], c["passed"], c["sent"], c["samples"]) == (
        "not_run",
        "not-run",
        False,
        0,
        [],
    )
    assert c["reason"] == "not_run on mt01"


def test_agents_responders_skipped() -> None:
    agents = (
        AgentInfo(
            "vm1",
            "ssh",
            True,
            agent_version="1.0",
            python="3.11.4",
            platform="Linux",
            capabilities={"raw": False},
            pid=4242,
            timings={"start_s": 0.123456, "ready_s": 0.5},
        ),
        AgentInfo("mt01", "ssh", False, reason="Permission denied"),
    )
    responders = (ResponderInfo("mt01", "127.0.2.20", 9443, "none", "no agent on the host"),)
    doc = json.loads(render_json(make_sweep(agents=agents, responders=responders)))
    assert {k: v for k, v in doc["agents"][0].items() if k in AGENT_KEYS} == {
        "host": "vm1",
        "transport": "ssh",
        "available": True,
        "lost": False,
        "reason": "",
        "agent_version": "1.0",
        "python": "3.11.4",
        "platform": "Linux",
        "capabilities": {"raw": False},
        "pid": 4242,
    }
    assert doc["agents"][0]["timings_s"] == {"start_s": 0.1235, "ready_s": 0.5}
    assert doc["agents"][1]["timings_s"] == {}
    assert (doc["agents"][1]["available"], doc["agents"][1]["reason"], doc["agents"][1]["pid"]) == (
        False,
        "Permission denied",
        None,
    )
    assert doc["responders"] == [
        {
            "host": "mt01",
            "address": "127.0.2.20",
            "port": 9443,
            "state": "none",
            "detail": "no agent on the host",
        }
    ]
    assert doc["skipped"][0] == {
        "rule_id": "cs-to-azure-https",
        "reason": AZURE_NOT_DECLARED,
        "source_host": None,
    }
    assert {s["rule_id"] for s in doc["skipped"]} == {s.rule_id for s in report_plan().skipped}


# --- the plan ----------------------------------------------------------------------


def test_plan_json() -> None:
    plan = report_plan()
    text = render_plan_json(plan)
    doc = json.loads(text)
    assert doc == plan_to_dict(plan)
    assert list(doc) == ["schema", "schema_version", "topology", "cells", "skipped", "limit"]
    assert (doc["schema"], doc["schema_version"]) == ("netcheck.plan", 1)
    assert doc["topology"] == {"name": "report-demo", "file": "report-demo.yaml"}
    assert len(doc["cells"]) == len(plan.specs) == 6
    assert doc["cells"][0] == {
        "cell_id": "vm1/nic0>cs01/failback:tcp/10443",
        "source_host": "vm1",
        "source_nic": "nic0",
        "source_address": "127.0.4.10",
        "dest_host": "cs01",
        "dest_nic": "failback",
        "dest_address": "127.0.3.10",
        "proto": "tcp",
        "port": 10443,
        "documented_port": 443,
        "rule_ids": ["vm-to-cs-https"],
        "evidence": "documented",
        "expect": "reachable",
        "path": "s2s-vpn",
        "kind": "tcp_connect",
    }
    rdp = [c for c in doc["cells"] if c["port"] == 3389]
    assert [(c["expect"], c["evidence"]) for c in rdp] == [("blocked", "user")]
    assert len(doc["skipped"]) == len(plan.skipped)


def test_plan_table() -> None:
    text = render_plan_table(report_plan())
    lines = text.splitlines()
    assert lines[0] == (
        "Plan for 'report-demo' (report-demo.yaml): 6 cells from 3 source hosts; "
        "3 attempts each, timeout 800 ms"
    )
    row = next(ln for ln in lines if ln.startswith("vm1") and "3389" in ln)
    assert row.split() == [
        "vm1",
        "nic0",
        "127.0.4.10",
        "ps-azure",
        "nic0",
        "127.0.4.4",
        "tcp/3389",
        "BLOCKED",
        "-",
        "no-rdp",
        "user",
    ]
    remapped = next(ln for ln in lines if ln.startswith("mt01"))
    assert "tcp/10443 (doc 443)" in remapped
    assert f"  - cs-to-azure-https: {AZURE_NOT_DECLARED}" in lines


# --- docs/report-json.md documents exactly these fields --------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "report-json.md"


def _documented_fields() -> dict[str, list[str]]:
    """Heading → the `field` names of the table under it."""
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


def test_the_schema_document_lists_every_field() -> None:
    sweep = make_sweep(
        agents=(AgentInfo("vm1", "ssh", True),),
        responders=(ResponderInfo("a", "b", 1, "none"),),
    )
    sweep = dataclasses.replace(sweep, queuing=(ProbeQueuing("vm1", 300, 44, 256),))
    doc = sweep_to_dict(sweep)
    fields = _documented_fields()
    assert fields["`queuing[]`"] == list(doc["queuing"][0])
    assert fields["Top level"] == list(doc)
    assert fields["`settings`"] == list(doc["settings"])
    assert fields["`summary`"] == list(doc["summary"])
    assert fields["`agents[]`"] == list(doc["agents"][0])
    assert fields["`responders[]`"] == list(doc["responders"][0])
    assert fields["`skipped[]`"] == list(doc["skipped"][0])
    assert fields["`findings[]`"] == list(doc["findings"][0])
    assert fields["`findings[]`"] == [
        f.name for f in dataclasses.fields(Finding) if f.name != "group"
    ]
    cell = _cells(doc, VM_CS)
    assert fields["`cells[]`"] == list(cell)
    assert fields["`cells[].rtt_ms`"] == list(cell["rtt_ms"])
    assert fields["`cells[].samples[]`"] == list(cell["samples"][0])
    plan = plan_to_dict(report_plan())
    assert fields["The plan — schema `netcheck.plan`, version 1"] == list(plan)
    # plan cells: the fields shared with the sweep report are named in the prose,
    # the plan's own in the table
    assert fields["`cells[]` of the plan"] == ["kind"]
    plan_cell_doc = DOC.read_text(encoding="utf-8").split("### `cells[]` of the plan")[1]
    shared = [k for k in plan["cells"][0] if k != "kind"]  # type: ignore[index]
    named = re.findall(r"`([a-z_]+)`", plan_cell_doc.split("| field")[0])
    assert named == shared


def test_the_fast_finding_line_is_the_compact_json_of_the_finding() -> None:
    from netcheck.report.findings_report import finding_to_dict
    from netcheck.report.json_report import _compact, _finding_line
    from netcheck.result.findings import FindingVerdict

    tricky = Finding(
        "nic:x:cs01>ps", "nic", 'a "quoted" \\ check', "cs01 → ps-azure\tété", FindingVerdict.FAIL,
        "line\nbreak \x01 ✓ 😀", "hint </script>", "doc",
    )  # fmt: skip
    assert _finding_line(tricky) == _compact(finding_to_dict(tricky))
    doc = json.loads(render_json(make_sweep()))
    assert [json.loads(_compact(f)) for f in doc["findings"]] == doc["findings"]
