"""Markdown for tickets and chat: the verdict line, the matrix as a table, failing cells with hints."""

from __future__ import annotations

import datetime as dt

from netcheck.catalog.docrefs import DocLink, doc_parts
from netcheck.report.findings_report import failing_summary
from netcheck.report.table import cell_text  # one wording for the terminal and tickets
from netcheck.result.cells import CellResult, CellStatus
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict

__all__ = ["md_doc", "md_escape", "render_markdown"]


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes, emphasis, HTML, line breaks)."""
    out = text.replace("\\", "\\\\")
    for ch in "|*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\r", " ").replace("\n", " ")


def md_doc(doc: str) -> str:
    """A doc reference as Markdown: each cited page a link to its public URL, named by
    the page (and section), the notes around it kept as text."""
    return "".join(
        f"[{md_escape(p.url.rsplit('/', 1)[-1])}]({p.url})"
        if isinstance(p, DocLink)
        else md_escape(p)
        for p in doc_parts(doc)
    )


def _cell_word(v: CellVerdict, expect_reachable: bool) -> str:
    text = cell_text(v, expect_reachable)
    return text if v.passed else f"**{text}**"


def _column(sweep: SweepResult, r: CellResult) -> str:
    s = r.spec
    dest = sweep.plan.topology.find_host(s.dest_host)  # None: an Azure endpoint
    multi_nic = dest is not None and len(dest.nics) > 1
    host = f"{s.dest_host}/{s.dest_nic}" if multi_nic else s.dest_host
    return f"{host}:{s.port}" + ("*" if s.port != s.documented_port else "")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _matrix(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> list[str]:
    row_keys: list[str] = []
    col_keys: list[str] = []
    cells: dict[tuple[str, str], str] = {}
    for r, v in rows:
        s = r.spec
        rk = md_escape(f"{s.source_host} ({s.source_nic} {s.source_address})")
        ck = _column(sweep, r)
        if rk not in row_keys:
            row_keys.append(rk)
        if ck not in col_keys:
            col_keys.append(ck)
        cells[(rk, ck)] = _cell_word(v, s.expect_reachable)
    body = [[rk] + [cells.get((rk, ck), "·") for ck in col_keys] for rk in row_keys]
    return _table([md_escape("from \\ to"), *[md_escape(c) for c in col_keys]], body)


def render_markdown(sweep: SweepResult, max_columns: int = 14) -> str:
    rows = sweep.verdicts()
    topo = sweep.plan.topology
    st = sweep.plan.settings
    passed = sum(1 for _, v in rows if v.passed)
    when = dt.datetime.fromtimestamp(sweep.started_at, tz=dt.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    verdict = "GO" if sweep.go else "NO-GO"
    icon = "✅" if sweep.go else "❌"
    lines = [
        f"## {icon} {verdict}: {passed} of {len(rows)} cells pass — {md_escape(topo.name)}",
        "",
        f"Sweep `{sweep.sweep_id}` of `{topo.source}` at {when}, "
        f"{sweep.finished_at - sweep.started_at:.1f} s; {st.samples} attempts per cell, "
        f"timeout {st.timeout_ms} ms.",
    ]
    if sweep.plan.limit is not None:  # never read a limited sweep as the whole matrix
        lines += ["", f"> **{md_escape(sweep.plan.limit.describe(len(rows)))}**"]
    failing_kinds = failing_summary(sweep.findings())
    if failing_kinds:
        lines += ["", f"Failing findings: {failing_kinds}."]
    if sweep.partial:
        lines += [
            "",
            "> **PARTIAL**: the sweep was interrupted; unmeasured cells are NOT-RUN.",
        ]
    lines.append("")
    if rows:
        n_cols = len({(r.spec.dest_address, r.spec.port) for r, _ in rows})
        if n_cols <= max_columns:
            lines += _matrix(sweep, rows)
        else:
            lines += _table(
                ["from", "to", "port", "result", "rule"],
                [
                    [
                        md_escape(f"{r.spec.source_host}/{r.spec.source_nic}"),
                        md_escape(f"{r.spec.dest_host}/{r.spec.dest_nic} {r.spec.dest_address}"),
                        f"{r.spec.proto}/{r.spec.port}",
                        _cell_word(v, r.spec.expect_reachable),
                        md_escape(r.spec.rule_id),
                    ]
                    for r, v in rows
                ],
            )
        lines.append("")
        legend = "ok = open, median RTT"
        if any(r.spec.port != r.spec.documented_port for r, _ in rows):
            legend += "; \\* = port remapped from the documented one"
        lines += [f"_{legend}_", ""]
    findings = sweep.findings()
    bad = [f for f in findings if f.failed]
    if bad:
        lines += [f"### Failing findings ({len(bad)})", ""]
        for f in bad:
            lines.append(f"- `{f.id}` ({f.kind}) — {md_escape(f.reason)}")
            if f.hint:
                lines.append(f"  - fix: {md_escape(f.hint)}")
            if f.doc:
                lines.append(f"  - doc: {md_doc(f.doc)}")
        lines.append("")
    failing = [(r, v) for r, v in rows if not v.passed]
    if failing:
        lines += [f"### Failing cells ({len(failing)})", ""]
        for r, v in failing:
            s = r.spec
            rule = sweep.plan.rule(s.rule_id)
            remap = f" (documented port {s.documented_port})" if s.port != s.documented_port else ""
            lines.append(
                f"- **{md_escape(s.source_host)}** {md_escape(s.source_address)} → "
                f"**{md_escape(s.dest_host)}** {md_escape(s.dest_address)} "
                f"{s.proto}/{s.port}{remap} — `{v.verdict.value}`"
            )
            lines.append(f"  - why: {md_escape(v.reason)}")
            if r.status is CellStatus.MEASURED:
                lines.append(f"  - fix: {md_escape(rule.hint)}")
                lines.append(
                    f"  - rule: `{s.rule_id}` ({rule.evidence.value}); doc: {md_doc(rule.doc)}"
                )
        lines.append("")
    bad_agents = [a for a in sweep.agents if not a.available or a.lost]
    if bad_agents:
        lines += ["### Agents", ""]
        for a in bad_agents:
            what = "lost" if a.lost else "unavailable"
            lines.append(f"- {md_escape(a.host)} ({a.transport}): {what} — {md_escape(a.reason)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
