"""The dual-NIC section of the reports (terminal lines, JSON objects) and `netcheck nic`'s
own documents. Pure: a HostNicReport in, text or dicts out."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from netcheck.catalog.docrefs import public_doc
from netcheck.nic.model import HostNicReport, NicCellResult, NicVerdict
from netcheck.report.table import cell_text

__all__ = ["nic_lines", "nic_report_to_dict", "nic_summary", "render_nic_json", "render_nic_table"]

_RP = {0: "off", 1: "strict", 2: "loose"}
_ORDER = {NicVerdict.FAIL: 0, NicVerdict.WARN: 1, NicVerdict.UNKNOWN: 2, NicVerdict.PASS: 3}
_LABEL = {
    NicVerdict.FAIL: "FAIL",
    NicVerdict.WARN: "WARN",
    NicVerdict.UNKNOWN: "unknown",
    NicVerdict.PASS: "pass",
}


def nic_summary(r: HostNicReport) -> str:
    """One line: 'NIC cs01: 11 pass, 3 unknown' (failing cells and findings first)."""
    counts = [
        f"{r.count(v)} {_LABEL[v].lower()}"
        for v in sorted(_ORDER, key=_ORDER.__getitem__)
        if r.count(v)
    ]
    bad = sum(1 for c in r.cells if c.verdict is not None and not c.verdict.passed)
    if bad:
        counts.insert(0, f"{bad} of {len(r.cells)} per-NIC cells failing")
    live = "" if r.live == "live" else f" (no live facts: {r.live})"
    return f"NIC {r.host}: {', '.join(counts) or 'no findings'}{live}"


def _yes(x: bool | None) -> str:
    return "?" if x is None else ("yes" if x else "no")


def _cell(c: NicCellResult) -> str:
    if c.verdict is None:
        return "-"
    text = cell_text(c.verdict, c.cell.spec.expect_reachable)
    return ("*" if c.cell.expected else "") + text


def _matrix(r: HostNicReport) -> str:
    nic_names = [n.name for n in r.nics]
    rows: dict[tuple[str, str, int], dict[str, str]] = {}
    for c in r.cells:
        key = ("→" if c.cell.outbound else "←", c.cell.peer, c.cell.spec.port)
        rows.setdefault(key, {})[c.cell.nic] = _cell(c)
    table = [
        [f"{arrow} {peer}", str(port), *(by.get(n, "·") for n in nic_names)]
        for (arrow, peer, port), by in rows.items()
    ]
    return str(
        tabulate(
            table,
            headers=["peer (→ from, ← to the host)", "port", *nic_names],
            tablefmt="simple",
            disable_numparse=True,
        )
    )


def nic_lines(r: HostNicReport) -> list[str]:
    """The NIC section of one multi-NIC host for the terminal."""
    live = "live facts" if r.live == "live" else f"no live facts: {r.live}"
    lines = [f"NICs of {r.host} ({live}):"]
    nic_rows = [
        [
            n.name,
            n.address,
            n.iface or "?",
            n.subnet or "?",
            f"default route: {_yes(n.default_route)}",
            f"rp_filter: {_RP.get(n.rp_filter, '?') if n.rp_filter is not None else '?'}",
            f"faces {', '.join(n.faces)}",
        ]
        for n in r.nics
    ]
    lines += [
        "  " + ln
        for ln in str(tabulate(nic_rows, tablefmt="plain", disable_numparse=True)).splitlines()
    ]
    if r.cells:
        lines += ["", "Per-NIC matrix (* = the NIC the selection rule picks for that peer):"]
        lines += ["  " + ln for ln in _matrix(r).splitlines()]
        notes = [c for c in r.cells if c.path_note]
        if notes:
            lines.append("  seen on the wire:")
            for c in notes:
                lines.append(f"    {c.cell.spec.cell_id}: {c.path_note}")
    counts = ", ".join(f"{r.count(v)} {_LABEL[v].lower()}" for v in _ORDER if r.count(v))
    lines += ["", f"NIC findings for {r.host}: {counts or 'none'}"]
    for f in sorted(r.findings, key=lambda f: _ORDER[f.verdict]):
        lines.append(f"  {_LABEL[f.verdict]:<7} {f.check}  {f.subject}: {f.message}")
        if f.verdict in (NicVerdict.FAIL, NicVerdict.WARN):
            if f.hint:
                lines.append(f"          fix: {f.hint}")
            lines.append(f"          doc: {public_doc(f.doc)}")
    return lines


def _cell_dict(c: NicCellResult) -> dict[str, Any]:
    s = c.cell.spec
    v = c.verdict
    return {
        "cell_id": s.cell_id,
        "nic": c.cell.nic,
        "direction": "out" if c.cell.outbound else "in",
        "peer": c.cell.peer,
        "peer_address": c.cell.peer_address,
        "proto": s.proto,
        "port": s.port,
        "expected": c.cell.expected,
        "reverse": c.cell.reverse,
        "verdict": v.verdict.value if v else "not-run",
        "passed": bool(v and v.passed),
        "reason": v.reason if v else "",
        "path_note": c.path_note,
    }


def nic_report_to_dict(r: HostNicReport) -> dict[str, Any]:
    """One host's NIC section as docs/report-json.md (`nics[]`) describes it."""
    nics = []
    for n in r.nics:
        ok, bad = r.reaches(n.name)
        nics.append(
            {
                "name": n.name,
                "address": n.address,
                "faces": list(n.faces),
                "iface": n.iface,
                "subnet": n.subnet,
                "default_route": n.default_route,
                "rp_filter": n.rp_filter,
                "mtu": n.mtu,
                "mac": n.mac,
                "reaches": ok,
                "does_not_reach": bad,
            }
        )
    return {
        "host": r.host,
        "live": r.live,
        "verdict": "pass" if r.clean else "fail",
        "summary": {v.value: r.count(v) for v in _ORDER},
        "nics": nics,
        "cells": [_cell_dict(c) for c in r.cells],
        "findings": [
            {
                "check": f.check,
                "subject": f.subject,
                "verdict": f.verdict.value,
                "message": f.message,
                "hint": "" if f.verdict is NicVerdict.PASS else f.hint,
                "doc": public_doc(f.doc),
            }
            for f in r.findings
        ],
    }


def render_nic_table(r: HostNicReport, header: str) -> str:
    verdict = "clean" if r.clean else "NOT CLEAN"
    return "\n".join([header, f"{verdict}: {r.host}", "", *nic_lines(r)]).rstrip() + "\n"


def render_nic_json(r: HostNicReport, topology: dict[str, str], agents: list[Any]) -> str:
    doc = {
        "schema": "netcheck.nic",
        "schema_version": 1,
        "topology": topology,
        "agents": agents,
        **nic_report_to_dict(r),
    }
    return json.dumps(doc, indent=2) + "\n"
