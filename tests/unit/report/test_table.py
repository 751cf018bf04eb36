"""The terminal report over a hand-built sweep."""

from __future__ import annotations

import datetime as dt

from reportkit import DEFAULT, MT_CS, RDP, STARTED, VM_CS, VM_PS, make_sweep, report_plan, spec_of

from netcheck.appplan import AZURE_NOT_DECLARED
from netcheck.catalog import load_catalog
from netcheck.catalog.docrefs import public_doc
from netcheck.plan import build_plan
from netcheck.report.table import MAX_MATRIX_COLUMNS, cell_text, render_table
from netcheck.result.cells import AgentInfo, CellStatus
from netcheck.result.model import ResponderInfo
from netcheck.stats import CellStats, CellVerdict, RttStats, Verdict
from netcheck.topology import load_topology_text

CATALOG = load_catalog()
ALL_GOOD = {RDP: "refused"}  # every other cell defaults to open-fast


def _matrix_rows(text: str) -> dict[str, list[str]]:
    """The matrix as {row label: cell texts}; cells are separated by 2+ spaces."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("from \\ to"))
    out = {}
    for ln in lines[start + 2 :]:
        if not ln.strip():
            break
        label, rest = ln.split(")", 1)
        out[label + ")"] = rest.split()
    return out


def _header(text: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith("from \\ to"))
    return line.split()[3:]


def test_no_go_header_and_counts() -> None:
    text = render_table(make_sweep())
    lines = text.splitlines()
    when = dt.datetime.fromtimestamp(STARTED).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[0] == (
        f"netcheck sweep sw-0001 of 'report-demo' (report-demo.yaml) at {when}, 2.5 s"
    )
    assert lines[1] == "6 cells, 3 attempts each, timeout 800 ms"
    # PS→CS filtered, PS→MT refused, RDP open though it must be blocked
    assert lines[2] == "NO-GO: 3 of 6 cells pass"
    assert "PARTIAL" not in text


def test_go() -> None:
    text = render_table(make_sweep(ALL_GOOD))
    assert text.splitlines()[2] == "GO: 6 of 6 cells pass"
    assert "Failing cells" not in text


def test_matrix_cells() -> None:
    text = render_table(make_sweep())
    # a multi-NIC destination gets one column per NIC; '*' marks a remapped port
    assert _header(text) == [
        "cs01/failback:10443*",
        "ps-azure:9443",
        "mt01:9443",
        "cs01/source:10443*",
        "ps-azure:3389",
    ]
    rows = _matrix_rows(text)
    assert list(rows) == [
        "vm1 (nic0 127.0.4.10)",
        "ps-azure (nic0 127.0.4.4)",
        "mt01 (nic0 127.0.2.20)",
    ]
    # median of 0.12, 0.11, 0.15 is 0.12 ms; '·' where no cell is planned
    assert rows["vm1 (nic0 127.0.4.10)"] == ["ok", "0.12ms", "ok", "0.12ms", "·", "·", "OPEN!"]
    assert rows["ps-azure (nic0 127.0.4.4)"] == ["FILTERED", "·", "REFUSED", "·", "·"]
    assert rows["mt01 (nic0 127.0.2.20)"] == ["·", "·", "·", "ok", "0.12ms", "·"]


def test_negative_rule_blocked_and_slow_cells() -> None:
    text = render_table(make_sweep({RDP: "refused", VM_CS: "open-slow"}))
    vm = _matrix_rows(text)["vm1 (nic0 127.0.4.10)"]
    # vm1 → cs01 crosses s2s-vpn (max_rtt_ms 30): open, but slow
    assert vm == ["SLOW", "45.0ms", "ok", "0.12ms", "·", "·", "blocked"]
    assert "median RTT 45.0 ms exceeds s2s-vpn's max_rtt_ms 30" in text


def test_legend() -> None:
    text = render_table(make_sweep())
    # four open cells with kernel RTTs; remapped columns explained
    assert "ok = open, median RTT (tcp_info: 4); * = port remapped from the documented one" in text


def test_failing_cells_carry_why_rule_fix_doc() -> None:
    lines = render_table(make_sweep()).splitlines()
    start = lines.index("Failing cells (3):")
    block = lines[start + 1 : start + 1 + 3 * 5]
    ps_cs, ps_mt = CATALOG.rule("ps-to-cs-https"), CATALOG.rule("ps-to-mt-data")
    assert block[:5] == [
        "  1. ps-azure 127.0.4.4 → cs01 127.0.3.10 tcp/10443 (documented port 443)  [filtered]",
        "     why:  no answer from cs01 127.0.3.10:10443 within 800 ms across s2s-vpn: "
        "a firewall drops the packets or there is no route back",
        f"     rule: ps-to-cs-https (documented, flows 10; {ps_cs.phase})",
        f"     fix:  {ps_cs.hint}",
        f"     doc:  {public_doc(ps_cs.doc)}",
    ]
    assert block[5:10] == [
        "  2. ps-azure 127.0.4.4 → mt01 127.0.2.20 tcp/9443  [refused]",
        "     why:  connection refused by mt01 127.0.2.20:9443: a TCP reset came back — nothing "
        "listens on the port, or a firewall rejects it",
        f"     rule: ps-to-mt-data (inferred, flows 12; {ps_mt.phase})",
        f"     fix:  {ps_mt.hint}",
        f"     doc:  {public_doc(ps_mt.doc)}",
    ]
    assert block[10:15] == [
        "  3. vm1 127.0.4.10 → ps-azure 127.0.4.4 tcp/3389  [open]",
        "     why:  ps-azure:3389 is reachable from vm1 but must not be",
        "     rule: no-rdp (a rule of this topology)",
        "     fix:  Close RDP to the process server.",
        "     doc:  topology rule",
    ]


def test_partial_sweep() -> None:
    sweep = make_sweep(
        {**ALL_GOOD, MT_CS: CellStatus.NOT_RUN, VM_PS: CellStatus.NOT_RUN}, interrupted=True
    )
    text = render_table(sweep)
    assert text.splitlines()[2] == (
        "NO-GO: 4 of 6 cells pass  (PARTIAL: the sweep was interrupted; unmeasured cells are NOT-RUN)"
    )
    assert _matrix_rows(text)["mt01 (nic0 127.0.2.20)"] == ["·", "·", "·", "NOT-RUN", "·"]
    assert _matrix_rows(text)["vm1 (nic0 127.0.4.10)"] == [
        "ok",
        "0.12ms",
        "NOT-RUN",
        "·",
        "·",
        "blocked",
    ]
    # an unmeasured cell has no rule/fix lines: nothing was learned about the network
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("  1. vm1"))
    assert lines[i].endswith("[not-run]")
    assert lines[i + 1] == "     why:  not_run on vm1"
    assert lines[i + 2].startswith("  2. mt01")


def test_partial_without_interrupt_flag() -> None:
    # a NOT_RUN cell alone marks the sweep partial
    text = render_table(make_sweep({**ALL_GOOD, MT_CS: CellStatus.NOT_RUN}))
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
    lines = render_table(sweep).splitlines()
    assert (
        "Listeners: 2 netcheck responders (nonce-proven end to end), "
        "1 real service (mt01 127.0.2.20:9443)"
    ) in lines
    assert "  no responder on ps-azure 127.0.4.4:9443: no agent on the host" in lines
    assert "agent unavailable on mt01 (ssh): Permission denied (publickey)" in lines
    assert "agent lost on ps-azure (ssh): channel closed" in lines
    assert not any(ln.startswith("agent") and "vm1" in ln for ln in lines)
    assert _matrix_rows("\n".join(lines))["mt01 (nic0 127.0.2.20)"][3] == "NO-AGENT"


def test_skipped_rules_are_listed() -> None:
    text = render_table(make_sweep())
    lines = text.splitlines()
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


def test_wide_sweeps_are_listed_one_cell_per_line() -> None:
    rules = "".join(
        f"  - {{id: p{port}, from: 'host:mt01', to: 'host:vm1', port: {port}}}\n"
        for port in range(5001, 5001 + MAX_MATRIX_COLUMNS)
    )
    base = (
        "version: 1\nname: wide\nsites: {s: {networks: {lan: 127.0.2.0/24}}}\n"
        "hosts:\n  mt01: {site: s, roles: [master_target], address: 127.0.2.20}\n"
        "  vm1: {site: s, roles: [protected_vm], address: 127.0.2.10}\nrules:\n"
    )
    narrow = build_plan(load_topology_text(base + rules, "wide.yaml"))
    assert len(narrow.specs) == MAX_MATRIX_COLUMNS
    assert "from \\ to" in render_table(make_sweep({}, plan=narrow))
    one_more = rules + "  - {id: p9, from: 'host:mt01', to: 'host:vm1', port: 9}\n"
    wide = build_plan(load_topology_text(base + one_more, "wide.yaml"))
    text = render_table(make_sweep({("mt01", "vm1", 5003): "refused"}, plan=wide))
    assert "from \\ to" not in text
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.startswith("from "))
    assert header.split() == ["from", "to", "port", "result", "rule"]
    row = next(ln for ln in lines if "tcp/5003" in ln)
    assert row.split() == ["mt01/nic0", "vm1/nic0", "127.0.2.10", "tcp/5003", "REFUSED", "p5003"]


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
