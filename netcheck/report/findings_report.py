"""The findings every report lists the same way (pure): one line per failing finding.

Every format names each failing finding by its id, so the set of failing ids is
the same whichever format a sweep is read in, live or stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from netcheck.catalog.docrefs import public_doc
from netcheck.result.findings import KINDS, Finding, FindingVerdict

__all__ = ["failing_lines", "failing_summary", "finding_to_dict", "findings_summary"]


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "kind": f.kind,
        "check": f.check,
        "subject": f.subject,
        "verdict": f.verdict.value,
        "reason": f.reason,
        "hint": f.hint,
        "doc": public_doc(f.doc),
    }


def findings_summary(findings: Sequence[Finding]) -> dict[str, dict[str, int]]:
    """{kind: {pass: n, fail: n, warn: n, unknown: n}} for the kinds the sweep has."""
    out: dict[str, dict[str, int]] = {}
    for kind in KINDS:
        of_kind = [f for f in findings if f.kind == kind]
        if of_kind:
            counts = Counter(f.verdict for f in of_kind)
            out[kind] = {v.value: counts.get(v, 0) for v in FindingVerdict}
    return out


def failing_summary(findings: Sequence[Finding], beyond_cells: bool = True) -> str:
    """'1 readiness, 2 nic' — the failing findings per kind; '' when none fails.

    `beyond_cells`: leave out the cells and application probes, which a report's
    "N of M cells pass" already counts.
    """
    skip = ("cell", "app") if beyond_cells else ()
    counts = Counter(f.kind for f in findings if f.failed and f.kind not in skip)
    return ", ".join(f"{counts[k]} {k}" for k in KINDS if counts.get(k))


def failing_lines(findings: Sequence[Finding], indent: str = "  ") -> list[str]:
    """`id: reason` for each failing finding, with its hint on the next line."""
    out: list[str] = []
    for f in findings:
        if not f.failed:
            continue
        out.append(f"{indent}{f.id}: {f.reason}")
        if f.hint:
            out.append(f"{' ' * len(indent)}  fix: {f.hint}")
    return out
