"""Markdown over a hand-built sweep: verdict line, matrix table, failing cells with hints."""

from __future__ import annotations

from netcheck.report.markdown import md_doc, md_escape, render_markdown
from netcheck.result.cells import AgentInfo, CellStatus
from tests.unit.report.reportkit import PS_MT, RDP, make_sweep, report_plan, spec_of


def _table(text: str) -> list[list[str]]:
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in rows]


def test_verdict_line_matrix_and_failures() -> None:
    sweep = make_sweep()
    text = render_markdown(sweep)
    first = text.splitlines()[0]
    assert first.startswith("## ❌ NO-GO: 3 of 6 cells pass — report-demo")
    table = _table(text)
    header, _sep, *body = table
    assert header[0] == "from \\\\ to"
    sep_lines = [ln for ln in text.splitlines() if set(ln) == {"|", "-"}]
    assert sep_lines == ["|" + "---|" * len(header)]
    assert len(header) == len(set(header))
    # every row of the matrix has as many cells as the header
    assert all(len(r) == len(header) for r in body)
    # remapped port marked and escaped
    assert any(h.endswith("\\*") for h in header)
    flat = " ".join(" ".join(r) for r in body)
    assert "**REFUSED**" in flat and "**FILTERED**" in flat and "**OPEN!**" in flat
    assert "ok 0.12ms" in flat
    plan = report_plan()
    rule = plan.rule(spec_of(plan, PS_MT).rule_id)
    assert "### Failing cells (3)" in text
    assert f"  - fix: {md_escape(rule.hint)}" in text
    assert f"doc: {md_doc(rule.doc)}" in text
    assert "doc: [vmware-azure-prepare-failback](https://learn.microsoft.com/" in text


def test_go_partial_and_agents() -> None:
    go = render_markdown(make_sweep({RDP: "refused"}))
    assert go.startswith("## ✅ GO: 6 of 6 cells pass")
    assert "Failing cells" not in go and "PARTIAL" not in go
    partial = render_markdown(
        make_sweep(
            {PS_MT: CellStatus.AGENT_LOST, RDP: "refused"},
            interrupted=True,
            agents=(AgentInfo("ps-azure", "ssh", True, "channel closed", lost=True),),
        )
    )
    assert "> **PARTIAL**" in partial
    assert "**LOST**" in partial
    assert "- ps-azure (ssh): lost — channel closed" in partial


def test_escaping_keeps_tables_intact() -> None:
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("x_y*z`<b>") == "x\\_y\\*z\\`\\<b\\>"
    assert md_escape("two\nlines") == "two lines"


def test_wide_matrix_becomes_a_list() -> None:
    text = render_markdown(make_sweep(), max_columns=2)
    header = _table(text)[0]
    assert header == ["from", "to", "port", "result", "rule"]
    assert len(_table(text)) == 2 + len(make_sweep().results)
