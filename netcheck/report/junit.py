"""JUnit XML: a test case per finding (cells by source host, then each other check kind).

The common JUnit shape (the one Jenkins, GitLab, Azure DevOps and GitHub
reporters read): `<testsuites>` › `<testsuite>` › `<testcase>` with a
`<failure message type>` whose body says why, what to change, and where it is
documented. A cell that was not measured (no agent, agent lost, interrupted)
is a failure too, never a skip: the failback must not go ahead on it.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from netcheck.catalog.docrefs import public_doc
from netcheck.result.cells import CellResult
from netcheck.result.findings import Finding, FindingVerdict
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict

__all__ = ["case_name", "render_junit"]


def case_name(r: CellResult) -> str:
    s = r.spec
    return f"{s.source_host}/{s.source_nic} → {s.dest_host}/{s.dest_nic} {s.proto}/{s.port}"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(r: CellResult) -> float:
    """Time the cell's attempts spanned (first attempt's start to last one's RTT)."""
    ts = [x.t for x in r.samples if x.t > 0]
    if not ts:
        return 0.0
    last = max(r.samples, key=lambda x: x.t)
    return max(0.0, max(ts) - min(ts)) + (last.rtt_us or 0) / 1e6


def _limit_properties(sweep: SweepResult) -> tuple[tuple[str, str], ...]:
    """A sweep run with --limit says so: its pattern, and how many of the plan's cells."""
    limit = sweep.plan.limit
    if limit is None:
        return ()
    return (
        ("limit", limit.pattern),
        ("limit_description", limit.describe(len(sweep.results))),
    )


def _xml_text(text: str) -> str:
    """Drop characters XML 1.0 can't carry (control bytes in an agent's error detail)."""
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or ("\x20" <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ch > "\uffff"
    )


def _case(
    sweep: SweepResult,
    f: Finding,
    r: CellResult,
    v: CellVerdict,
    suite: ET.Element,
    classname: str,
) -> None:
    s = r.spec
    case = ET.SubElement(
        suite,
        "testcase",
        name=_xml_text(case_name(r)),
        classname=classname,
        time=f"{_seconds(r):.6f}",
    )
    rule = sweep.plan.rule(s.rule_id)
    if not v.passed:
        failure = ET.SubElement(case, "failure", message=_xml_text(v.reason), type=v.verdict.value)
        body = [
            f"finding:  {f.id}",
            f"cell:     {s.cell_id}",
            f"from:     {s.source_host} {s.source_nic} {s.source_address}",
            f"to:       {s.dest_host} {s.dest_nic} {s.dest_address} {s.proto}/{s.port}"
            + (f" (documented port {s.documented_port})" if s.port != s.documented_port else ""),
            f"expect:   {'reachable' if s.expect_reachable else 'blocked'}",
            f"verdict:  {v.verdict.value}",
            f"why:      {v.reason}",
            f"rule:     {', '.join(s.rule_ids)} ({rule.evidence.value})",
            f"fix:      {f.hint}",
            f"doc:      {public_doc(f.doc)}",
        ]
        if s.path:
            body.insert(5, f"path:     {s.path}")
        failure.text = _xml_text("\n".join(body) + "\n")
    out = []
    if v.stats.sent:
        out.append(f"attempts {v.stats.sent}, answered {v.stats.answered}")
    if v.stats.rtt:
        rtt = v.stats.rtt
        out.append(f"rtt ms p50 {rtt.p50:.3f} p95 {rtt.p95:.3f} max {rtt.max:.3f} ({rtt.source})")
    if out:
        ET.SubElement(case, "system-out").text = "\n".join(out) + "\n"


def _finding_case(f: Finding, suite: ET.Element, classname: str) -> None:
    """A check that is not a cell: fail → failure, unknown → skipped, warn → a note."""
    case = ET.SubElement(
        suite, "testcase", name=_xml_text(f"{f.check}: {f.subject}"), classname=classname, time="0"
    )
    body = [
        f"finding:  {f.id}",
        f"kind:     {f.kind}",
        f"subject:  {f.subject}",
        f"verdict:  {f.verdict.value}",
        f"why:      {f.reason}",
    ]
    if f.hint:
        body.append(f"fix:      {f.hint}")
    if f.doc:
        body.append(f"doc:      {public_doc(f.doc)}")
    text = _xml_text("\n".join(body) + "\n")
    if f.verdict is FindingVerdict.FAIL:
        ET.SubElement(case, "failure", message=_xml_text(f.reason), type=f.kind).text = text
    elif f.verdict is FindingVerdict.UNKNOWN:
        ET.SubElement(case, "skipped", message=_xml_text(f.reason))
        ET.SubElement(case, "system-out").text = text
    else:
        ET.SubElement(case, "system-out").text = text


def render_junit(sweep: SweepResult) -> str:
    """One test suite per source host for the cells, one per other check kind (bandwidth,
    path, nic, readiness): a test case per finding, so every failing finding is a failure."""
    topo = sweep.plan.topology
    findings = sweep.findings()
    # the cells' findings come first, one per cell in plan order (netcheck.result.findings)
    cell_ids = [f.id for f in findings if f.kind in ("cell", "app")]
    rows = dict(zip(cell_ids, sweep.verdicts(), strict=True))
    by_suite: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        cell = f.kind in ("cell", "app")
        key = ("from", f.group) if cell else (f.kind, "")
        by_suite.setdefault(key, []).append(f)
    failures = sum(1 for f in findings if f.failed)
    skipped = sum(1 for f in findings if f.verdict is FindingVerdict.UNKNOWN)
    took = f"{max(0.0, sweep.finished_at - sweep.started_at):.3f}"
    root = ET.Element(
        "testsuites",
        name=f"netcheck {topo.name}",
        tests=str(len(findings)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=took,
    )
    for (what, source), group in by_suite.items():
        cells = [rows[f.id] for f in group if what == "from"]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{topo.name}: from {source}" if what == "from" else f"{topo.name}: {what}",
            tests=str(len(group)),
            failures=str(sum(1 for f in group if f.failed)),
            errors="0",
            skipped=str(sum(1 for f in group if f.verdict is FindingVerdict.UNKNOWN)),
            time=f"{sum(_seconds(r) for r, _ in cells):.6f}",
            timestamp=_iso(sweep.started_at),
            hostname=source or "netcheck",
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("sweep_id", sweep.sweep_id),
            ("topology", topo.name),
            ("topology_file", topo.source),
            ("verdict", "go" if sweep.go else "no-go"),
            ("partial", "true" if sweep.partial else "false"),
            *_limit_properties(sweep),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        if what == "from":
            classname = f"netcheck.{topo.name}.{source}"
            for f in group:
                r, v = rows[f.id]
                _case(sweep, f, r, v, suite, classname)
        else:
            classname = f"netcheck.{topo.name}.{what}"
            for f in group:
                _finding_case(f, suite, classname)
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n"
