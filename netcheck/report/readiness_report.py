"""Readiness renderers: a terminal section and the JSON object (docs/report-json.md).

Used by `netcheck readiness` on its own and as a section of the sweep report. Pure.
"""

from __future__ import annotations

import json
from typing import Any

from netcheck.catalog.docrefs import public_doc
from netcheck.readiness.model import Finding, ReadinessResult, Verdict
from netcheck.topology.model import Topology

__all__ = [
    "READINESS_SCHEMA",
    "READINESS_SCHEMA_VERSION",
    "readiness_lines",
    "readiness_summary",
    "readiness_to_dict",
    "render_readiness_json",
    "render_readiness_table",
]

READINESS_SCHEMA = "netcheck.readiness"
READINESS_SCHEMA_VERSION = 1

_ORDER = (Verdict.FAIL, Verdict.WARN, Verdict.UNKNOWN, Verdict.PASS)


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "check": f.check,
        "subject": f.subject,
        "verdict": f.verdict.value,
        "message": f.message,
        "hint": "" if f.verdict is Verdict.PASS else f.hint,
        "doc": public_doc(f.doc),
        "facts": [
            {"name": x.name, "host": x.host, "value": x.value, "source": x.source.value}
            for x in f.facts
        ],
    }


def readiness_to_dict(r: ReadinessResult) -> dict[str, Any]:
    return {
        "verdict": "go" if r.go else "no-go",
        "summary": {v.value: r.count(v) for v in (Verdict.PASS, *_ORDER[:3])},
        "live_requested": r.live_requested,
        "live": [{"host": s.host, "state": s.state, "reason": s.reason} for s in r.live],
        "findings": [_finding_dict(f) for f in r.findings],
    }


def render_readiness_json(r: ReadinessResult, topo: Topology) -> str:
    doc = {
        "schema": READINESS_SCHEMA,
        "schema_version": READINESS_SCHEMA_VERSION,
        "topology": {"name": topo.name, "file": topo.source},
        **readiness_to_dict(r),
    }
    return json.dumps(doc, indent=2) + "\n"


def _summary(r: ReadinessResult) -> str:
    parts = [f"{r.count(v)} {v.value}" for v in _ORDER if r.count(v)]
    return ", ".join(parts) or "no checks"


def readiness_summary(r: ReadinessResult) -> str:
    """One line: 'readiness: GO (5 pass, 17 unknown; declared facts only)'."""
    live = "" if (r.live_requested or r.live) else "; declared facts only"
    return f"readiness: {'GO' if r.go else 'NO-GO'} ({_summary(r)}{live})"


def readiness_lines(r: ReadinessResult) -> list[str]:
    """The readiness section: verdict line, live-fact status, one line per check, details."""
    verdict = "GO" if r.go else "NO-GO"
    lines = [f"Failback readiness: {verdict} ({_summary(r)})"]
    if r.live_requested or r.live:
        for s in r.live:
            if s.state == "live":
                lines.append(f"  live facts from {s.host}'s agent (they override the inventory)")
            else:
                lines.append(f"  no live facts from {s.host}: {s.reason} (declared facts used)")
    else:
        lines.append("  declared facts only (netcheck readiness --live reads the master targets)")
    # each check once: the passing ones a line each, the others with their details
    passing = [f for f in r.findings if f.verdict is Verdict.PASS]
    width_c = max((len(f.check) for f in passing), default=5)
    width_s = max((len(f.subject) for f in passing), default=7)
    for f in passing:
        lines.append(f"  pass    {f.check:<{width_c}}  {f.subject:<{width_s}}  {f.message}")
    details = [f for v in _ORDER[:3] for f in r.findings if f.verdict is v]
    if details:
        lines += ["", "Readiness findings to act on:"]
    for i, f in enumerate(details, 1):
        lines.append(f"{i:>3}. [{f.verdict.value}] {f.check} on {f.subject}: {f.message}")
        if f.facts:
            lines.append(f"     facts: {'; '.join(x.text() for x in f.facts)}")
        if f.hint:
            lines.append(f"     fix:   {f.hint}")
        lines.append(f"     doc:   {public_doc(f.doc)}")
    return lines


def render_readiness_table(r: ReadinessResult, topo: Topology) -> str:
    head = f"netcheck readiness of {topo.name!r} ({topo.source})"
    return "\n".join([head, *readiness_lines(r)]).rstrip() + "\n"
