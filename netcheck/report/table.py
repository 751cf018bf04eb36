"""The terminal report: what a person reads in ten seconds.

The verdict line, the matrix (or one line per source when the matrix is wider than
the terminal), the failing items right under it, then one line per section. `-v` /
`--details` adds every section in full; `-q` keeps the verdict and the failing items.
Every line fits the width it is given (a URL is never broken).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from tabulate import tabulate

from netcheck.catalog import Evidence
from netcheck.catalog.docrefs import public_doc
from netcheck.plan import NO_MATCHING_HOSTS, Plan, ProbeSpec
from netcheck.readiness import Verdict as ReadinessVerdict
from netcheck.report.app_report import app_lines, app_summary, cell_word
from netcheck.report.bandwidth_report import bandwidth_lines, bandwidth_summary
from netcheck.report.diagnose_report import (
    diagnostics_lines,
    missing_capabilities,
    paths_summary,
)
from netcheck.report.findings_report import failing_summary
from netcheck.report.readiness_report import readiness_lines, readiness_summary
from netcheck.report.terminal import Detail, Paint, fit, visible_len
from netcheck.result.cells import CellResult, CellStatus
from netcheck.result.findings import cell_hint
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict, Verdict

__all__ = ["DEFAULT_WIDTH", "Detail", "cell_text", "render_table", "skipped_lines"]

DEFAULT_WIDTH = 80  # no terminal to measure (a pipe, a file): the classic width

_SHORT = {
    Verdict.REFUSED: "REFUSED",
    Verdict.FILTERED: "FILTERED",
    Verdict.UNREACHABLE: "UNREACH",
    Verdict.HANDSHAKE_ONLY: "HS-ONLY",
    Verdict.ERROR: "ERROR",
    Verdict.AGENT_UNAVAILABLE: "NO-AGENT",
    Verdict.AGENT_LOST: "LOST",
    Verdict.NOT_RUN: "NOT-RUN",
    Verdict.NO_LISTENER: "NO-LISTENER",
}


def _ms(x: float) -> str:
    if x < 0.005:  # would round to 0.00ms: a fast loopback answer is not a zero RTT
        return "<0.01ms"
    if x < 1:
        return f"{x:.2f}ms"
    if x < 100:
        return f"{x:.1f}ms"
    return f"{x:.0f}ms"


def cell_text(v: CellVerdict, expect_reachable: bool = True) -> str:
    """A compact cell: 'ok 0.08ms', 'blocked', 'REFUSED', 'OPEN!' (must be blocked, is open)."""
    rtt = _ms(v.stats.rtt.p50) if v.stats.rtt else ""
    if v.verdict is Verdict.OPEN and not expect_reachable:
        return "OPEN!"
    if v.app is not None and (v.app.failed or v.verdict is Verdict.OPEN):
        return cell_word(v.app, v.passed)  # 'ok TLS1.3 364d', 'CERT EXPIRED', 'SKEW +20m00s'
    if v.verdict is Verdict.OPEN:
        loss = f" {v.stats.loss_pct:.0f}%loss" if v.stats.loss_pct > 0 else ""
        word = "ok" if v.passed else "SLOW"  # open, but beyond the path's RTT or loss budget
        return f"{word} {rtt}{loss}".strip()
    if v.passed:
        return "blocked"
    return _SHORT.get(v.verdict) or str(v.verdict.value)


Row = tuple[CellResult, CellVerdict]


def _nic_label(sweep: SweepResult, host: str, nic: str) -> str:
    h = sweep.plan.topology.find_host(host)  # None: an Azure endpoint
    return f"{host}/{nic}" if h is not None and len(h.nics) > 1 else host


def _column(sweep: SweepResult, r: CellResult) -> str:
    s = r.spec
    proto = "udp/" if s.proto == "udp" else ""
    star = "*" if s.port != s.documented_port else ""
    return f"{_nic_label(sweep, s.dest_host, s.dest_nic)}:{proto}{s.port}{star}"


def _word(v: CellVerdict, expect_reachable: bool, paint: Paint) -> str:
    text = cell_text(v, expect_reachable)
    return paint.good(text) if v.passed else paint.bad(text)


def _source(sweep: SweepResult, s: ProbeSpec, full: bool) -> str:
    if full:  # -v: each source's NIC and address
        return f"{s.source_host} ({s.source_nic} {s.source_address})"
    return _nic_label(sweep, s.source_host, s.source_nic)


def _matrix(sweep: SweepResult, rows: Sequence[Row], paint: Paint, full: bool) -> list[str]:
    row_keys: list[str] = []
    col_keys: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for r, v in rows:
        s = r.spec
        rk = _source(sweep, s, full)
        ck = _column(sweep, r)
        if rk not in row_keys:
            row_keys.append(rk)
        if ck not in col_keys:
            col_keys.append(ck)
        cells[(rk, ck)] = _word(v, s.expect_reachable, paint)
    table = [[rk] + [cells.get((rk, ck), "·") for ck in col_keys] for rk in row_keys]
    # "host:port" headers on two lines (host, then port): the columns stay narrow
    headers = ["from \\ to", *(ck.replace(":", "\n:", 1) for ck in col_keys)]
    return str(
        tabulate(table, headers=headers, tablefmt="simple", disable_numparse=True)
    ).splitlines()


def _per_source(
    sweep: SweepResult, rows: Sequence[Row], paint: Paint, full: bool, width: int
) -> list[str]:
    """One entry per source: its cells as 'to:port result'; a long all-passing list is
    counted instead (every cell is listed with -v)."""
    by_source: dict[str, list[Row]] = {}
    for r, v in rows:
        by_source.setdefault(_source(sweep, r.spec, full), []).append((r, v))
    out = []
    for source, cells in by_source.items():
        shown = cells if full or len(cells) <= 8 else [(r, v) for r, v in cells if not v.passed]
        items = [
            f"{_column(sweep, r)} {_word(v, r.spec.expect_reachable, paint)}" for r, v in shown
        ]
        hidden = len(cells) - len(shown)
        if hidden:
            items.append(paint.good(f"{hidden} more ok"))
        out += _fill(f"{source} → ", items, width)
    return out


def _fill(head: str, items: Sequence[str], width: int) -> list[str]:
    """`head` and the items, comma-separated, wrapped between items (an item stays whole)."""
    out: list[str] = []
    line = head
    for i, item in enumerate(items):
        text = item + ("," if i < len(items) - 1 else "")
        if line.strip() and line != head and visible_len(line) + 1 + visible_len(text) > width:
            out.append(line.rstrip())
            line = "    "
        line += ("" if line in (head, "    ") else " ") + text
    out.append(line.rstrip())
    return out


def _cell_failure(
    sweep: SweepResult, i: int, r: CellResult, v: CellVerdict, full: bool, paint: Paint
) -> list[str]:
    s = r.spec
    rule = sweep.plan.rule(s.rule_id)
    remap = f" (documented {s.documented_port})" if s.port != s.documented_port else ""
    out = [
        f"{i:>3}. {paint.bad(cell_text(v, s.expect_reachable))}  {s.source_host} → "
        f"{s.dest_host} {s.dest_address} {s.proto}/{s.port}{remap}",
        f"     why:  {v.reason}",
    ]
    diag = sweep.diagnostics.for_cell(s.cell_id) if sweep.diagnostics else None
    if diag is not None:
        out.append(f"     where: {diag.where.message}")
    if r.status is CellStatus.NO_LISTENER:  # nothing of ours listened: the agent, not a rule
        return [*out, f"     fix:  {cell_hint(rule.hint, s, v)}"]
    if r.status is not CellStatus.MEASURED:
        return out
    if full:
        if rule.evidence is Evidence.USER:
            out.append(f"     rule: {s.rule_id} (a rule of this topology)")
        else:
            flows = f", flows {', '.join(map(str, rule.flows))}" if rule.flows else ""
            out.append(f"     rule: {s.rule_id} ({rule.evidence.value}{flows}; {rule.phase})")
    if v.app is not None and v.app.failed:
        out.append(f"     fix:  {v.app.hint}")
        out.append(f"     doc:  {public_doc(v.app.doc)}")
        codes = v.app.error_codes or rule.errors
        if codes:
            out.append(f"     errors: {', '.join(codes)}")
    else:
        out.append(f"     fix:  {rule.hint}")
        if rule.evidence is not Evidence.USER:
            out.append(f"     doc:  {public_doc(rule.doc)}")
    return out


def _failures(sweep: SweepResult, rows: Sequence[Row], full: bool, paint: Paint) -> list[str]:
    """Every failing item, numbered: the cells, then the other kinds' failing findings."""
    failing = [(r, v) for r, v in rows if not v.passed]
    bad = [f for f in sweep.findings() if f.failed]
    # the cells' findings come in the cells' order (as in the JUnit report)
    cell_ids = [f.id for f in bad if f.kind in ("cell", "app")]
    others = [f for f in bad if f.kind not in ("cell", "app")]
    if not failing and not others:
        return []
    out = [paint.bad(f"Failing ({len(failing) + len(others)}):")]
    for i, ((r, v), fid) in enumerate(zip(failing, cell_ids), 1):
        out += _cell_failure(sweep, i, r, v, full, paint)
        if full:
            out.append(f"     id:   {fid}")
    for i, f in enumerate(others, len(failing) + 1):
        what = f.kind if f.check == f.kind else f"{f.kind} {f.check}"
        out.append(f"{i:>3}. {paint.bad('FAIL')}  {what} on {f.subject}")
        if full:
            out.append(f"     id:   {f.id}")
        out.append(f"     why:  {f.reason}")
        if f.hint:
            out.append(f"     fix:  {f.hint}")
        if f.doc:
            out.append(f"     doc:  {public_doc(f.doc)}")
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def skipped_lines(plan: Plan) -> list[str]:
    """Rules the sweep did not probe: real gaps first, then rules with no matching hosts."""
    gaps = [sk for sk in plan.skipped if sk.reason != NO_MATCHING_HOSTS]
    na = [sk.rule_id for sk in plan.skipped if sk.reason == NO_MATCHING_HOSTS]
    out: list[str] = []
    if gaps:
        out += ["", "Not probed by this sweep:"]
        for sk in gaps:
            who = f" from {sk.source_host}" if sk.source_host else ""
            out.append(f"  - {sk.rule_id}{who}: {sk.reason}")
    if na:
        out += ["", f"Rules with no matching hosts in this topology: {', '.join(na)}"]
    return out


def _skipped_summary(plan: Plan) -> str:
    gaps = [sk.rule_id for sk in plan.skipped if sk.reason != NO_MATCHING_HOSTS]
    na = sum(1 for sk in plan.skipped if sk.reason == NO_MATCHING_HOSTS)
    parts = []
    if gaps:
        parts.append(f"{_count(len(gaps), 'rule')} not probed ({', '.join(dict.fromkeys(gaps))})")
    if na:
        parts.append(f"{_count(na, 'rule')} with no matching hosts")
    return "rules: " + "; ".join(parts) if parts else ""


def _verdict_line(sweep: SweepResult, rows: Sequence[Row], paint: Paint) -> str:
    passed = sum(1 for _, v in rows if v.passed)
    word = paint.verdict(sweep.go, sweep.verdict_word)
    line = f"{word}: {passed} of {len(rows)} cells pass"
    if sweep.readiness is not None:
        failing = sweep.readiness.count(ReadinessVerdict.FAIL)
        line += f"; readiness: {_count(failing, 'failing check')}"
    kinds = failing_summary(sweep.findings())
    if kinds:
        line += f"; failing findings: {kinds}"
    if sweep.partial:
        line += "  " + paint.bad("(PARTIAL: interrupted; unmeasured cells are NOT-RUN)")
    return line


def _listeners(sweep: SweepResult, full: bool) -> list[str]:
    if not sweep.responders:
        return []
    proven = sum(1 for x in sweep.responders if x.state == "responder")
    held = [f"{x.host} {x.address}:{x.port}" for x in sweep.responders if x.state == "service"]
    shown = ", ".join(held[:8]) + (f", and {len(held) - 8} more" if len(held) > 8 else "")
    out = [
        f"listeners: {_count(proven, 'netcheck responder')} (nonce-proven end to end), "
        f"{_count(len(held), 'real service')}" + (f" ({shown})" if held else "")
    ]
    missing = [x for x in sweep.responders if x.state in ("none", "other_sweep")]
    by_detail: dict[str, list[str]] = {}
    for x in missing:
        by_detail.setdefault(x.detail, []).append(f"{x.host} {x.address}:{x.port}")
    for detail, where in by_detail.items():  # one line per cause, not per port
        listed = where if full or len(where) <= 4 else [*where[:4], f"{len(where) - 4} more"]
        out.append(f"  no responder on {', '.join(listed)}: {detail}")
    return out


def render_table(
    sweep: SweepResult,
    *,
    width: int = DEFAULT_WIDTH,
    detail: Detail = Detail.NORMAL,
    color: bool = False,
) -> str:
    """The report for a terminal `width` columns wide, at `detail`, in colour or not."""
    paint = Paint(color)
    full = detail >= Detail.FULL
    rows = sweep.verdicts()
    topo = sweep.plan.topology
    st = sweep.plan.settings
    lines = [_verdict_line(sweep, rows, paint)]
    failures = _failures(sweep, rows, full, paint)
    if detail is Detail.QUIET:
        return "\n".join(fit([*lines, *failures], width)) + "\n"
    when = dt.datetime.fromtimestamp(sweep.started_at).strftime("%Y-%m-%d %H:%M:%S")
    took = sweep.finished_at - sweep.started_at
    lines.append(
        f"sweep {sweep.sweep_id} of {topo.name!r} ({topo.source}) at {when}, {took:.1f} s; "
        f"{_count(len(rows), 'cell')}, {st.samples} attempts each, timeout {st.timeout_ms} ms"
    )
    if sweep.plan.limit is not None:
        lines.append(sweep.plan.limit.describe(len(rows)))
    lines = fit(lines, width)
    if rows:
        matrix = _matrix(sweep, rows, paint, full)
        if max(map(visible_len, matrix)) > width:  # wider than the terminal: per source
            matrix = _per_source(sweep, rows, paint, full, width)
        lines += ["", *matrix]
        legend = "ok = open, median RTT"
        sources = Counter(v.stats.rtt.source for _, v in rows if v.stats.rtt)
        if sources:
            legend += " (" + ", ".join(f"{k}: {n}" for k, n in sources.most_common()) + ")"
        if any(r.spec.port != r.spec.documented_port for r, _ in rows):
            legend += "; * = port remapped from the documented one"
        lines += fit([legend], width)
    if failures:
        lines += ["", *fit(failures, width)]
    # one line per section
    summary = _listeners(sweep, full)
    summary += [
        f"{'agent lost' if a.lost else 'agent unavailable'} on {a.host} ({a.transport}): {a.reason}"
        for a in sweep.agents
        if not a.available or a.lost
    ]
    summary += [
        f"queued: {q.queued} of the probe attempts of {q.cells} cells on {q.agent} waited "
        f"for a free slot (at most {q.limit} in flight: the sweep's concurrency or the "
        "agent's descriptor limit), so slow cells' timeouts ran in turn"
        for q in sweep.queuing
    ]
    summary += [
        paths_summary(sweep.diagnostics),
        *missing_capabilities(sweep.diagnostics),
        app_summary(rows),
        bandwidth_summary(sweep.bandwidth_verdicts()),
        readiness_summary(sweep.readiness) if sweep.readiness is not None else "",
    ]
    from netcheck.report.nic_report import nic_lines, nic_summary  # it imports cell_text

    summary += [nic_summary(nic) for nic in sweep.nics]
    summary.append(_skipped_summary(sweep.plan))
    summary = [x for x in summary if x]
    if not full and summary:
        summary.append(paint.dim("details: -v (paths, NICs, readiness checks, every cell)"))
    lines += ["", *fit(summary, width)]
    if full:
        details = app_lines(rows) + bandwidth_lines(sweep.bandwidth_verdicts())
        details += diagnostics_lines(sweep.diagnostics, topo)
        details += skipped_lines(sweep.plan)
        if sweep.readiness is not None:
            details += ["", *readiness_lines(sweep.readiness)]
        for nic in sweep.nics:
            details += ["", *nic_lines(nic)]
        lines += fit(details, width)
    return "\n".join(lines).rstrip() + "\n"
