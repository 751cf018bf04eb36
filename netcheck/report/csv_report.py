"""CSV for spreadsheets and change requests: one row per cell and one per other finding.

The `row` column tells the rows apart:

- `sweep`: the first row, the sweep itself (its id, the topology, GO / NO-GO, and in
  `limit` the `--limit` pattern when the sweep was limited — then `reason` says how
  many of the plan's cells it kept);
- `cell`: one per cell of the plan, with its endpoints, its rule, what was measured,
  and its finding (`id`, `verdict`, `reason`, `hint`, `doc`);
- `finding`: one per finding that is not a cell — bandwidth tests, paths, NIC and
  readiness checks, NSG predictions.

So every finding of the sweep is on exactly one row, and `verdict = fail` counts the
reasons for a NO-GO once each. Written with Python's `csv` module (RFC 4180 quoting;
rows end with a plain newline, like every other report, so a file written on Linux and
the same report on a terminal are the same bytes), so names holding commas, quotes or
line breaks survive a spreadsheet.
A text value that a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first) is
prefixed with `'`; numbers are left as they are.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from netcheck.catalog.docrefs import public_doc
from netcheck.result.findings import Finding
from netcheck.result.model import SweepResult

__all__ = ["COLUMNS", "render_csv"]

COLUMNS = (
    "row",  # sweep | cell | finding
    "id",  # the sweep id, or the finding's id
    "kind",  # sweep, or the finding's kind: cell, app, bandwidth, path, nic, readiness, nsg
    "check",  # the rule id or check id
    "subject",
    "verdict",  # go / no-go (sweep row); pass / fail / warn / unknown
    "reason",
    "hint",
    "doc",
    "source",
    "source_nic",
    "dest",
    "dest_nic",
    "proto",
    "port",
    "expect",  # reachable | blocked
    "result",  # what the cell measured: open, refused, filtered, ...
    "attempts",
    "answered",
    "loss_pct",
    "rtt_p50_ms",
    "rtt_p95_ms",
    "rtt_max_ms",
    "limit",  # sweep row: the --limit pattern, when limited
    "finished_at",  # sweep row: ISO 8601, UTC
)

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _sweep_row(sweep: SweepResult) -> dict[str, str]:
    rows = sweep.verdicts()
    passed = sum(1 for _, v in rows if v.passed)
    failing = len(sweep.failing())
    limit = sweep.plan.limit
    reason = f"{passed} of {len(rows)} cells pass; {failing} failing findings"
    if sweep.partial:
        reason += "; PARTIAL: interrupted or cells not measured"
    if limit is not None:
        reason += "; " + limit.describe(len(rows))
    when = dt.datetime.fromtimestamp(sweep.finished_at, tz=dt.timezone.utc)
    return {
        "row": "sweep",
        "id": sweep.sweep_id,
        "kind": "sweep",
        "subject": _text(sweep.plan.topology.name),
        "verdict": "go" if sweep.go else "no-go",
        "reason": _text(reason),
        "limit": _text(limit.pattern) if limit is not None else "",
        "finished_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _finding_fields(f: Finding) -> dict[str, str]:
    return {
        "id": _text(f.id),
        "kind": f.kind,
        "check": _text(f.check),
        "subject": _text(f.subject),
        "verdict": f.verdict.value,
        "reason": _text(f.reason),
        "hint": _text(f.hint),
        "doc": _text(public_doc(f.doc)),
    }


def render_csv(sweep: SweepResult) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerow(_sweep_row(sweep))
    findings = sweep.findings()
    # the cells' findings come first, one per cell in plan order (result.findings)
    verdicts = sweep.verdicts()
    for (r, v), f in zip(verdicts, findings[: len(verdicts)], strict=True):
        s = r.spec
        assert f.kind in ("cell", "app") and f.check == s.rule_id, (f.id, s.cell_id)
        rtt = v.stats.rtt
        writer.writerow(
            {
                "row": "cell",
                **_finding_fields(f),
                "source": _text(s.source_host),
                "source_nic": _text(s.source_nic),
                "dest": _text(s.dest_host),
                "dest_nic": _text(s.dest_nic),
                "proto": s.proto,
                "port": str(s.port),
                "expect": "reachable" if s.expect_reachable else "blocked",
                "result": v.verdict.value,
                "attempts": str(v.stats.sent),
                "answered": str(v.stats.answered),
                "loss_pct": _num(round(v.stats.loss_pct, 3)) if v.stats.sent else "",
                "rtt_p50_ms": _num(round(rtt.p50, 3)) if rtt else "",
                "rtt_p95_ms": _num(round(rtt.p95, 3)) if rtt else "",
                "rtt_max_ms": _num(round(rtt.max, 3)) if rtt else "",
            }
        )
    for f in findings[len(verdicts) :]:
        writer.writerow({"row": "finding", **_finding_fields(f)})
    return out.getvalue()
