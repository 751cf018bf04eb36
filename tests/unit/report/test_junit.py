"""JUnit XML over a hand-built sweep: parses, counts match, failures carry reason, hint, doc."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from netcheck.catalog.docrefs import public_doc
from netcheck.report.junit import render_junit
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from tests.unit.report.reportkit import PS_CS, PS_MT, RDP, VM_CS, make_sweep, report_plan, spec_of


def _parse(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text.encode("utf-8"))


def test_one_suite_per_source_and_counts_match() -> None:
    sweep = make_sweep()
    root = _parse(render_junit(sweep))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    sources = {r.spec.source_host for r in sweep.results}
    assert {s.get("hostname") for s in suites} == sources
    assert len(suites) == len(sources)
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(sweep.results) == int(root.get("tests", "-1"))
    failed = sum(1 for _, v in sweep.verdicts() if not v.passed)
    assert failed == 3  # filtered, refused, OPEN!
    assert int(root.get("failures", "-1")) == failed == len(root.findall(".//failure"))
    assert root.get("errors") == "0"
    for suite in suites:
        tc = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(tc)
        assert int(suite.get("failures", "-1")) == len(suite.findall("testcase/failure"))
        assert suite.get("skipped") == "0" and suite.get("timestamp") == "2023-11-14T22:13:20"
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert props["sweep_id"] == "sw-0001" and props["verdict"] == "no-go"
        # every attribute the common JUnit schema needs is present
        for case in tc:
            assert case.get("name") and case.get("classname") and case.get("time")
            float(case.get("time", "x"))


def test_case_names_and_failure_bodies() -> None:
    sweep = make_sweep()
    root = _parse(render_junit(sweep))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    plan = report_plan()
    refused = cases["ps-azure/nic0 → mt01/nic0 tcp/9443"]
    failure = refused.find("failure")
    assert failure is not None
    assert failure.get("type") == "refused"
    assert "connection refused by mt01 127.0.2.20:9443" in (failure.get("message") or "")
    body = failure.text or ""
    rule = plan.rule(spec_of(plan, PS_MT).rule_id)
    assert f"fix:      {rule.hint}" in body and f"doc:      {public_doc(rule.doc)}" in body
    assert "path:     s2s-vpn" in body
    filtered = cases[f"ps-azure/nic0 → cs01/failback tcp/{spec_of(plan, PS_CS).port}"].find(
        "failure"
    )
    assert filtered is not None and filtered.get("type") == "filtered"
    rdp = cases["vm1/nic0 → ps-azure/nic0 tcp/3389"].find("failure")
    assert rdp is not None and "must not be" in (rdp.get("message") or "")
    assert "expect:   blocked" in (rdp.text or "")
    passing = cases[f"vm1/nic0 → cs01/failback tcp/{spec_of(plan, VM_CS).port}"]
    assert passing.find("failure") is None
    assert "rtt ms p50 0.120" in (passing.findtext("system-out") or "")


def test_unmeasured_cells_are_failures_not_skips() -> None:
    sweep = make_sweep(
        {PS_CS: CellStatus.AGENT_UNAVAILABLE, PS_MT: CellStatus.NOT_RUN, RDP: "refused"},
        interrupted=True,
    )
    root = _parse(render_junit(sweep))
    assert root.find(".//skipped") is None
    types = sorted(f.get("type") or "" for f in root.iter("failure"))
    assert types == ["agent-unavailable", "not-run"]


def test_hostile_text_is_escaped_and_control_bytes_dropped() -> None:
    plan = report_plan()
    spec = spec_of(plan, PS_MT)
    weird = (Sample(Outcome.ERROR, detail='<x a="1">&\x00\x1b]]>'),)
    sweep = make_sweep()
    results = tuple(
        r if r.spec != spec else CellResult(spec, CellStatus.MEASURED, weird) for r in sweep.results
    )
    sweep = replace(sweep, results=results)
    root = _parse(render_junit(sweep))
    msgs = [f.get("message") or "" for f in root.iter("failure") if f.get("type") == "error"]
    assert msgs == ['probe error (<x a="1">&]]>)']
