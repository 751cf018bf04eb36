"""Diff logic and its renderers over hand-built sweeps (pure)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from netcheck.diff import Change, SweepDiff, diff_sweeps
from netcheck.plan import build_plan
from netcheck.report.diff_report import render_diff_json, render_diff_table
from netcheck.result.cells import CellStatus
from netcheck.topology import load_topology_text
from tests.unit.report.reportkit import (
    DEFAULT,
    MT_CS,
    PS_CS,
    PS_MT,
    RDP,
    TOPOLOGY,
    VM_CS,
    VM_PS,
    make_sweep,
    spec_of,
)


def _ids(d: SweepDiff, change: Change) -> set[str]:
    return {c.cell_id for c in d.of(change)}


def test_same_sweep_twice_is_no_change() -> None:
    a = make_sweep()
    d = diff_sweeps(a, replace(a, sweep_id="b"))
    assert d.cells == () and d.hosts == ()
    assert d.unchanged == len(a.results)
    assert not d.worse
    assert "No change: 6 cells as before." in render_diff_table(d)


def test_regressed_fixed_verdict_and_rtt() -> None:
    a = make_sweep()  # PS_CS filtered, PS_MT refused, RDP open (fails), the rest open-fast
    b = make_sweep(
        {
            VM_CS: "refused",  # passed → fails: regressed
            PS_CS: "open-fast",  # failed → passes: fixed
            PS_MT: "filtered",  # refused → filtered: still failing, other verdict
            MT_CS: "open-slow",  # 0.12 → 45 ms within one site (no budget): RTT up
            RDP: "open-fast",
        }
    )
    plan = a.plan
    d = diff_sweeps(a, b, rtt_threshold_ms=5)
    assert _ids(d, Change.REGRESSED) == {spec_of(plan, VM_CS).cell_id}
    assert _ids(d, Change.FIXED) == {spec_of(plan, PS_CS).cell_id}
    assert _ids(d, Change.VERDICT) == {spec_of(plan, PS_MT).cell_id}
    assert _ids(d, Change.RTT_UP) == {spec_of(plan, MT_CS).cell_id}
    assert d.unchanged == 2  # VM_PS and RDP
    assert d.worse
    (up,) = d.of(Change.RTT_UP)
    assert up.rtt_delta_ms == pytest.approx(45 - 0.12)
    # the threshold decides what counts as a shift
    assert not diff_sweeps(a, b, rtt_threshold_ms=100).of(Change.RTT_UP)
    down = diff_sweeps(b, a, rtt_threshold_ms=5)
    assert _ids(down, Change.RTT_DOWN) == {spec_of(plan, MT_CS).cell_id}
    assert _ids(down, Change.REGRESSED) == {spec_of(plan, PS_CS).cell_id}


def test_only_improvements_are_not_worse() -> None:
    a = make_sweep()
    b = make_sweep({**DEFAULT, PS_MT: "open-fast", RDP: "refused"})
    d = diff_sweeps(a, b)
    assert {c.change for c in d.cells} == {Change.FIXED}
    assert not d.worse
    text = render_diff_table(d)
    assert text.splitlines()[1].startswith("NOT WORSE: 2 fixed")


def test_new_and_vanished_cells_and_hosts() -> None:
    a = make_sweep()
    bigger = TOPOLOGY.replace(
        "  vm1: {site: azure",
        "  vm2: {site: azure, roles: [protected_vm], address: 127.0.4.11}\n  vm1: {site: azure",
    )
    plan_b = build_plan(load_topology_text(bigger, "report-demo.yaml"))
    # vm2's cells: new; the filtered PS → CS cell fails in B too
    vm2 = {("vm2", "ps-azure", 9443): "refused", ("vm2", "ps-azure", 3389): "refused"}
    b = make_sweep({**DEFAULT, **vm2}, plan=plan_b)
    d = diff_sweeps(a, b)
    new = d.of(Change.NEW)
    assert {c.source_host for c in new} == {"vm2"}
    assert [h.host for h in d.hosts if h.change is Change.NEW] == ["vm2"]
    failing_new = [c for c in new if c.worse]
    assert [(c.dest_host, c.port) for c in failing_new] == [("ps-azure", 9443)]
    assert d.worse  # a new cell that fails is something to look at
    back = diff_sweeps(b, a)
    assert {c.source_host for c in back.of(Change.VANISHED)} == {"vm2"}
    assert [h.host for h in back.hosts] == ["vm2"] and back.hosts[0].change is Change.VANISHED
    assert not back.worse  # vanished cells are listed, not counted as worse


def test_unmeasured_cell_that_passed_before_regressed() -> None:

    a = make_sweep({**DEFAULT, RDP: "refused"})
    b = make_sweep({**DEFAULT, RDP: "refused", VM_PS: CellStatus.NOT_RUN}, interrupted=True)
    d = diff_sweeps(a, b)
    (c,) = d.of(Change.REGRESSED)
    assert c.b is not None and c.b.verdict == "not-run"


def test_renderers() -> None:
    a = make_sweep()
    b = make_sweep({**DEFAULT, VM_CS: "refused"})
    d = diff_sweeps(a, b)
    table = render_diff_table(d)
    assert table.startswith("diff sw-0001 (report-demo, NO-GO) → sw-0001 (report-demo, NO-GO)")
    assert "WORSE: 1 regressed" in table
    assert "Regressed (passed, now fails) (1):" in table
    assert "open 0.12ms (pass)" in table and "refused (FAIL)" in table
    assert "connection refused by cs01" in table  # why it fails now
    doc = json.loads(render_diff_json(d))
    assert doc["schema"] == "netcheck.diff" and doc["worse"] is True
    (cell,) = doc["cells"]
    assert cell["change"] == "regressed" and cell["a"]["passed"] is True
    assert cell["b"]["verdict"] == "refused" and cell["rtt_delta_ms"] is None


def test_negative_threshold_is_refused() -> None:
    with pytest.raises(ValueError):
        diff_sweeps(make_sweep(), make_sweep(), rtt_threshold_ms=-1)
