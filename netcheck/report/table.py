"""The terminal report: verdict line, matrix, failing cells with hints, agents."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from tabulate import tabulate

from netcheck.catalog import Evidence
from netcheck.catalog.docrefs import public_doc
from netcheck.plan import NO_MATCHING_HOSTS, Plan
from netcheck.readiness import Verdict as ReadinessVerdict
from netcheck.report.app_report import app_lines, cell_word
from netcheck.report.bandwidth_report import bandwidth_lines
from netcheck.report.diagnose_report import diagnostics_lines
from netcheck.report.findings_report import failing_lines, failing_summary
from netcheck.report.readiness_report import readiness_lines
from netcheck.result.cells import CellResult, CellStatus
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict, Verdict

__all__ = ["MAX_MATRIX_COLUMNS", "cell_text", "render_table"]

MAX_MATRIX_COLUMNS = 14  # wider matrices are shown as one line per cell

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


def _column(sweep: SweepResult, r: CellResult) -> str:
    s = r.spec
    dest = sweep.plan.topology.find_host(s.dest_host)  # None: an Azure endpoint
    multi_nic = dest is not None and len(dest.nics) > 1
    host = f"{s.dest_host}/{s.dest_nic}" if multi_nic else s.dest_host
    proto = "udp/" if s.proto == "udp" else ""
    return f"{host}:{proto}{s.port}" + ("*" if s.port != s.documented_port else "")


def _matrix(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    row_keys: list[str] = []
    col_keys: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for r, v in rows:
        s = r.spec
        rk = f"{s.source_host} ({s.source_nic} {s.source_address})"
        ck = _column(sweep, r)
        if rk not in row_keys:
            row_keys.append(rk)
        if ck not in col_keys:
            col_keys.append(ck)
        cells[(rk, ck)] = cell_text(v, s.expect_reachable)
    table = [[rk] + [cells.get((rk, ck), "·") for ck in col_keys] for rk in row_keys]
    return str(
        tabulate(table, headers=["from \\ to", *col_keys], tablefmt="simple", disable_numparse=True)
    )


def _list(rows: list[tuple[CellResult, CellVerdict]]) -> str:
    table = []
    for r, v in rows:
        s = r.spec
        table.append(
            [
                f"{s.source_host}/{s.source_nic}",
                f"{s.dest_host}/{s.dest_nic} {s.dest_address}",
                f"{s.proto}/{s.port}",
                cell_text(v, s.expect_reachable),
                s.rule_id,
            ]
        )
    return str(
        tabulate(
            table,
            headers=["from", "to", "port", "result", "rule"],
            tablefmt="simple",
            disable_numparse=True,
        )
    )


def _failures(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> list[str]:
    out: list[str] = []
    failing = [(r, v) for r, v in rows if not v.passed]
    if not failing:
        return out
    out.append(f"Failing cells ({len(failing)}):")
    for i, (r, v) in enumerate(failing, 1):
        s = r.spec
        rule = sweep.plan.rule(s.rule_id)
        remap = f" (documented port {s.documented_port})" if s.port != s.documented_port else ""
        out.append(
            f"{i:>3}. {s.source_host} {s.source_address} → {s.dest_host} {s.dest_address} "
            f"{s.proto}/{s.port}{remap}  [{v.verdict.value}]"
        )
        out.append(f"     why:  {v.reason}")
        diag = sweep.diagnostics.for_cell(s.cell_id) if sweep.diagnostics else None
        if diag is not None:
            out.append(f"     where: {diag.where.message}")
        if r.status is CellStatus.MEASURED:
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
                out.append(f"     doc:  {public_doc(rule.doc)}")
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


def render_table(sweep: SweepResult) -> str:
    rows = sweep.verdicts()
    topo = sweep.plan.topology
    st = sweep.plan.settings
    passed = sum(1 for _, v in rows if v.passed)
    when = dt.datetime.fromtimestamp(sweep.started_at).strftime("%Y-%m-%d %H:%M:%S")
    took = sweep.finished_at - sweep.started_at
    lines = [
        f"netcheck sweep {sweep.sweep_id} of {topo.name!r} ({topo.source}) at {when}, {took:.1f} s",
        f"{len(rows)} cells, {st.samples} attempts each, timeout {st.timeout_ms} ms",
    ]
    if sweep.plan.limit is not None:
        lines.append(sweep.plan.limit.describe(len(rows)))
    verdict = "GO" if sweep.go else "NO-GO"
    status = f"{verdict}: {passed} of {len(rows)} cells pass"
    findings = sweep.findings()
    if sweep.readiness is not None:
        failing = sweep.readiness.count(ReadinessVerdict.FAIL)
        status += f"; readiness: {failing} failing check" + ("" if failing == 1 else "s")
    failing_kinds = failing_summary(findings)
    if failing_kinds:
        status += f"; failing findings: {failing_kinds}"
    if sweep.partial:
        status += "  (PARTIAL: the sweep was interrupted; unmeasured cells are NOT-RUN)"
    lines += [status, ""]
    if rows:
        n_cols = len({(r.spec.dest_address, r.spec.port) for r, _ in rows})
        lines.append(_matrix(sweep, rows) if n_cols <= MAX_MATRIX_COLUMNS else _list(rows))
        lines.append("")
        legend = "ok = open, median RTT"
        sources = Counter(v.stats.rtt.source for _, v in rows if v.stats.rtt)
        if sources:
            legend += " (" + ", ".join(f"{k}: {n}" for k, n in sources.most_common()) + ")"
        if any(r.spec.port != r.spec.documented_port for r, _ in rows):
            legend += "; * = port remapped from the documented one"
        lines.append(legend)
    proven = sum(1 for x in sweep.responders if x.state == "responder")
    service = sum(1 for x in sweep.responders if x.state == "service")
    if sweep.responders:
        held = [f"{x.host} {x.address}:{x.port}" for x in sweep.responders if x.state == "service"]
        shown = ", ".join(held[:8]) + (f", and {len(held) - 8} more" if len(held) > 8 else "")
        lines.append(
            f"Listeners: {_count(proven, 'netcheck responder')} (nonce-proven end to end), "
            f"{_count(service, 'real service')}" + (f" ({shown})" if held else "")
        )
    for x in sweep.responders:
        if x.state in ("none", "other_sweep"):
            lines.append(f"  no responder on {x.host} {x.address}:{x.port}: {x.detail}")
    bad_agents = [a for a in sweep.agents if not a.available or a.lost]
    for a in bad_agents:
        what = "agent lost" if a.lost else "agent unavailable"
        lines.append(f"{what} on {a.host} ({a.transport}): {a.reason}")
    fail_ids = failing_lines(findings, indent="  - ")
    if fail_ids:
        lines += ["", f"Failing findings ({sum(1 for f in findings if f.failed)}):", *fail_ids]
    lines += bandwidth_lines(sweep.bandwidth_verdicts())
    lines += app_lines(rows)
    lines += diagnostics_lines(sweep.diagnostics, topo)
    fail_lines = _failures(sweep, rows)
    if fail_lines:
        lines += ["", *fail_lines]
    lines += skipped_lines(sweep.plan)
    if sweep.readiness is not None:
        lines += ["", *readiness_lines(sweep.readiness)]
    if sweep.nics:
        from netcheck.report.nic_report import nic_lines  # it imports cell_text from here

        for nic in sweep.nics:
            lines += ["", *nic_lines(nic)]
    return "\n".join(lines).rstrip() + "\n"
