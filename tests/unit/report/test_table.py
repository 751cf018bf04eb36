"""The terminal report over a hand-built sweep."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from netcheck.appplan import AZURE_NOT_DECLARED
from netcheck.catalog import load_catalog
from netcheck.catalog.docrefs import public_doc
from netcheck.report.table import Detail, cell_text, render_table
from netcheck.result.cells import AgentInfo, CellStatus
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.stats import CellStats, CellVerdict, RttStats, Verdict
from tests.unit.report.reportkit import (
    DEFAULT,
    MT_CS,
    RDP,
    STARTED,
    VM_CS,
    VM_PS,
    make_sweep,
    report_plan,
    spec_of,
)

CATALOG = load_catalog()
ALL_GOOD = {RDP: "refused"}  # every other cell defaults to open-fast


WIDE = 160  # wide enough that no line of the crafted sweep wraps


def _table(sweep: SweepResult, **kw: Any) -> str:
    return render_table(sweep, width=kw.pop("width", WIDE), **kw)


def _matrix_rows(text: str) -> dict[str, list[str]]:
    """The matrix as {row label: cell texts}; cells are separated by 2+ spaces."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("from \\ to"))
    out = {}
    for ln in lines[start + 3 :]:
        if not ln.strip() or ln.startswith("ok = "):
            break
        label, rest = ln.split(" ", 1)
        out[label] = rest.split()
    return out


def _header(text: str) -> list[str]:
    """The column headers: host (first header line) and :port (the second) joined."""
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("from \\ to"))
    return [h + p for h, p in zip(lines[i].split()[3:], lines[i + 1].split())]


def test_no_go_header_and_counts() -> None:
    text = _table(make_sweep())
    lines = text.splitlines()
    when = dt.datetime.fromtimestamp(STARTED).strftime("%Y-%m-%d %H:%M:%S")
    # PS→CS filtered, PS→MT refused, RDP open though it must be blocked
    assert lines[0] == "NO-GO: 3 of 6 cells pass"
    assert lines[1] == (
        f"sweep sw-0001 of 'report-demo' (report-demo.yaml) at {when}, 2.5 s; "
        "6 cells, 3 attempts each, timeout 800 ms"
    )
    assert "PARTIAL" not in text


def test_go() -> None:
    text = _table(make_sweep(ALL_GOOD))
    assert text.splitlines()[0] == "GO: 6 of 6 cells pass"
    assert "Failing" not in text


def test_matrix_cells() -> None:
    text = _table(make_sweep())
    # a multi-NIC destination gets one column per NIC; '*' marks a remapped port
    assert _header(text) == [
        "cs01/failback:10443*",
        "ps-azure:9443",
        "mt01:9443",
        "cs01/source:10443*",
        "ps-azure:3389",
    ]
    rows = _matrix_rows(text)
    assert list(rows) == ["vm1", "ps-azure", "mt01"]
    # median of 0.12, 0.11, 0.15 is 0.12 ms; '·' where no cell is planned
    assert rows["vm1"] == ["ok", "0.12ms", "ok", "0.12ms", "·", "·", "OPEN!"]
    assert rows["ps-azure"] == ["FILTERED", "·", "REFUSED", "·", "·"]
    assert rows["mt01"] == ["·", "·", "·", "ok", "0.12ms", "·"]


def test_negative_rule_blocked_and_slow_cells() -> None:
    text = _table(make_sweep({RDP: "refused", VM_CS: "open-slow"}))
    vm = _matrix_rows(text)["vm1"]
    # vm1 → cs01 crosses s2s-vpn (max_rtt_ms 30): open, but slow
    assert vm == ["SLOW", "45.0ms", "ok", "0.12ms", "·", "·", "blocked"]
    assert "median RTT 45.0 ms exceeds s2s-vpn's max_rtt_ms 30" in text


def test_legend() -> None:
    text = _table(make_sweep())
    # four open cells with kernel RTTs; remapped columns explained
    assert "ok = open, median RTT (tcp_info: 4); * = port remapped from the documented one" in text


def test_failing_items_come_right_under_the_matrix_with_why_fix_doc() -> None:
    lines = _table(make_sweep(), width=300).splitlines()  # no line wraps
    legend = next(i for i, ln in enumerate(lines) if ln.startswith("ok = "))
    assert lines[legend + 1 : legend + 3] == ["", "Failing (3):"]
    block = lines[legend + 3 :]
    ps_cs, ps_mt = CATALOG.rule("ps-to-cs-https"), CATALOG.rule("ps-to-mt-data")
    assert block[:4] == [
        "  1. FILTERED  ps-azure → cs01 127.0.3.10 tcp/10443 (documented 443)",
        "     why:  no answer from cs01 127.0.3.10:10443 within 800 ms across s2s-vpn: "
        "a firewall drops the packets or there is no route back",
        f"     fix:  {ps_cs.hint}",
        f"     doc:  {public_doc(ps_cs.doc)}",
    ]
    assert block[4:8] == [
        "  2. REFUSED  ps-azure → mt01 127.0.2.20 tcp/9443",
        "     why:  connection refused by mt01 127.0.2.20:9443: a TCP reset came back — nothing "
        "listens on the port, or a firewall rejects it",
        f"     fix:  {ps_mt.hint}",
        f"     doc:  {public_doc(ps_mt.doc)}",
    ]
    # a rule of the topology has no documentation page to cite
    assert block[8:12] == [
        "  3. OPEN!  vm1 → ps-azure 127.0.4.4 tcp/3389",
        "     why:  ps-azure:3389 is reachable from vm1 but must not be",
        "     fix:  Close RDP to the process server.",
        "",
    ]


def test_details_add_the_rule_of_each_failing_cell() -> None:
    lines = _table(make_sweep(), detail=Detail.FULL).splitlines()
    ps_cs = CATALOG.rule("ps-to-cs-https")
    i = lines.index("  1. FILTERED  ps-azure → cs01 127.0.3.10 tcp/10443 (documented 443)")
    assert lines[i + 2] == f"     rule: ps-to-cs-https (documented, flows 10; {ps_cs.phase})"
    assert "     rule: no-rdp (a rule of this topology)" in lines
    # each source with its NIC and address
    assert any(ln.startswith("vm1 (nic0 127.0.4.10)  ") for ln in lines)


def test_quiet_is_the_verdict_line_and_the_failing_items() -> None:
    text = _table(make_sweep(), detail=Detail.QUIET)
    normal = _table(make_sweep())
    lines = text.splitlines()
    assert lines[0] == "NO-GO: 3 of 6 cells pass"
    assert lines[1] == "Failing (3):"
    start = normal.index("Failing (3):")
    assert "\n".join(lines[1:]) == normal[start:].split("\n\n")[0]
    assert _table(make_sweep(ALL_GOOD), detail=Detail.QUIET) == ("GO: 6 of 6 cells pass\n")


def test_partial_sweep() -> None:
    sweep = make_sweep(
        {**ALL_GOOD, MT_CS: CellStatus.NOT_RUN, VM_PS: CellStatus.NOT_RUN}, interrupted=True
    )
    text = _table(sweep)
    assert text.splitlines()[0] == (
        "NO-GO: 4 of 6 cells pass  (PARTIAL: interrupted; unmeasured cells are NOT-RUN)"
    )
    assert _matrix_rows(text)["mt01"] == ["·", "·", "·", "NOT-RUN", "·"]
    assert _matrix_rows(text)["vm1"] == ["ok", "0.12ms", "NOT-RUN", "·", "·", "blocked"]
    # an unmeasured cell has no fix/doc lines: nothing was learned about the network
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("  1. NOT-RUN  vm1"))
    assert lines[i + 1] == "     why:  not_run on vm1"
    assert lines[i + 2].startswith("  2. NOT-RUN  mt01")


def test_partial_without_interrupt_flag() -> None:
    # a NOT_RUN cell alone marks the sweep partial
    text = _table(make_sweep({**ALL_GOOD, MT_CS: CellStatus.NOT_RUN}))
    assert "NO-GO: 5 of 6 cells pass  (PARTIAL" in text


def test_agents_and_responders() -> None:
    agents = (
        AgentInfo("vm1", "ssh", True),
        AgentInfo("mt01", "ssh", False, reason="Permission denied (publickey)"),
        AgentInfo("ps-azure", "ssh", True, reason="channel closed", lost=True),
    )
    responders = (
        ResponderInfo("cs01", "127.0.3.10", 10443, "responder"),
        ResponderInfo("cs01", "127.0.2.10", 10443, "responder"),
        ResponderInfo("mt01", "127.0.2.20", 9443, "service"),
        ResponderInfo("ps-azure", "127.0.4.4", 9443, "none", "no agent on the host"),
    )
    sweep = make_sweep(
        {**ALL_GOOD, MT_CS: CellStatus.AGENT_UNAVAILABLE}, agents=agents, responders=responders
    )
    lines = _table(sweep).splitlines()
    assert (
        "listeners: 2 netcheck responders (nonce-proven end to end), "
        "1 real service (mt01 127.0.2.20:9443)"
    ) in lines
    assert "  no responder on ps-azure 127.0.4.4:9443: no agent on the host" in lines
    assert "agent unavailable on mt01 (ssh): Permission denied (publickey)" in lines
    assert "agent lost on ps-azure (ssh): channel closed" in lines
    assert not any(ln.startswith("agent") and "vm1" in ln for ln in lines)
    assert _matrix_rows("\n".join(lines))["mt01"][3] == "NO-AGENT"


def test_skipped_rules_one_line_and_listed_in_the_details() -> None:
    text = _table(make_sweep())
    assert (
        "rules: 2 rules not probed (cs-to-azure-https, ps-to-azure-storage); "
        "10 rules with no matching hosts"
    ) in text.splitlines()
    assert "Not probed by this sweep:" not in text
    lines = _table(make_sweep(), detail=Detail.FULL, width=300).splitlines()
    i = lines.index("Not probed by this sweep:")
    assert lines[i + 1 : i + 3] == [
        f"  - cs-to-azure-https: {AZURE_NOT_DECLARED}",
        f"  - ps-to-azure-storage: {AZURE_NOT_DECLARED}",
    ]
    assert lines[-1] == (
        "Rules with no matching hosts in this topology: vm-to-vm-consistency, cs-to-vcenter, "
        "ps-to-vcenter, cs-to-source-smb, cs-to-source-rpc, cs-to-source-ssh, mt-to-vcenter, "
        "ntp, dns-udp, dns-tcp"
    )
    assert text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_no_line_is_wider_than_the_terminal_but_a_url(width: int) -> None:
    for detail in Detail:
        for sweep in (make_sweep(), make_sweep(ALL_GOOD)):
            for line in _table(sweep, width=width, detail=detail).splitlines():
                if len(line) > width:  # a word that fits no line (a URL) is never broken:
                    # it stays whole, alone or beside its label
                    assert re.fullmatch(r"\s*(doc:\s+)?\S+", line), line
                    assert len(line.split()[-1]) > width // 2, line


def test_a_matrix_wider_than_the_terminal_becomes_one_line_per_source() -> None:
    text = _table(make_sweep(), width=70)
    assert "from \\ to" not in text
    lines = text.splitlines()
    assert "vm1 → cs01/failback:10443* ok 0.12ms, ps-azure:9443 ok 0.12ms," in lines
    assert "    ps-azure:3389 OPEN!" in lines
    assert "ps-azure → cs01/failback:10443* FILTERED, mt01:9443 REFUSED" in lines
    assert "mt01 → cs01/source:10443* ok 0.12ms" in lines
    assert "from \\ to" in _table(make_sweep(), width=80)  # the matrix when it fits


def test_colour_marks_the_verdict_and_the_failing_cells_only_when_asked() -> None:
    plain = _table(make_sweep())
    assert "\x1b[" not in plain
    coloured = _table(make_sweep(), color=True)
    assert coloured.splitlines()[0].startswith("\x1b[1;31mNO-GO\x1b[0m: 3 of 6")
    assert "\x1b[1;31mFILTERED\x1b[0m" in coloured and "\x1b[32mok 0.12ms\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain  # colour changes no layout
    assert _table(make_sweep(ALL_GOOD), color=True).startswith("\x1b[1;32mGO\x1b[0m")


def _verdict(
    verdict: Verdict, passed: bool, p50: float | None = None, loss: float = 0.0
) -> CellVerdict:
    rtt = None if p50 is None else RttStats(1, p50, p50, p50, p50, p50, p50, 0.0, "tcp_info")
    return CellVerdict(verdict, passed, "", CellStats(3, 3, loss, rtt))


def test_cell_text() -> None:
    assert cell_text(_verdict(Verdict.OPEN, True, 0.123)) == "ok 0.12ms"
    assert cell_text(_verdict(Verdict.OPEN, True, 12.34)) == "ok 12.3ms"
    assert cell_text(_verdict(Verdict.OPEN, True, 250.4)) == "ok 250ms"
    assert cell_text(_verdict(Verdict.OPEN, True, 1.0, loss=33.3)) == "ok 1.0ms 33%loss"
    assert cell_text(_verdict(Verdict.OPEN, True)) == "ok"  # open without an RTT
    assert cell_text(_verdict(Verdict.OPEN, False, 45.0)) == "SLOW 45.0ms"
    assert cell_text(_verdict(Verdict.OPEN, False, 0.1), expect_reachable=False) == "OPEN!"
    assert cell_text(_verdict(Verdict.REFUSED, True), expect_reachable=False) == "blocked"
    assert cell_text(_verdict(Verdict.FILTERED, True), expect_reachable=False) == "blocked"
    expected = {
        Verdict.REFUSED: "REFUSED",
        Verdict.FILTERED: "FILTERED",
        Verdict.UNREACHABLE: "UNREACH",
        Verdict.HANDSHAKE_ONLY: "HS-ONLY",
        Verdict.ERROR: "ERROR",
        Verdict.AGENT_UNAVAILABLE: "NO-AGENT",
        Verdict.AGENT_LOST: "LOST",
        Verdict.NOT_RUN: "NOT-RUN",
    }
    for verdict, word in expected.items():
        assert cell_text(_verdict(verdict, False)) == word
    # a negative rule that could not be measured is not "blocked"
    assert cell_text(_verdict(Verdict.AGENT_LOST, False), expect_reachable=False) == "LOST"


def test_the_crafted_cells_exist_in_the_plan() -> None:
    # guards reportkit against a topology edit that would leave DEFAULT pointing nowhere
    plan = report_plan()
    assert {spec_of(plan, key).cell_id for key in DEFAULT} == {s.cell_id for s in plan.specs}


@pytest.mark.parametrize(
    ("rtt_ms", "shown"),
    [(0.004, "<0.01ms"), (0.005, "0.01ms"), (0.04, "0.04ms"), (12.34, "12.3ms"), (250.0, "250ms")],
)
def test_an_rtt_below_the_shown_precision_never_reads_as_zero(rtt_ms: float, shown: str) -> None:
    from netcheck.report.table import _ms

    assert _ms(rtt_ms) == shown
