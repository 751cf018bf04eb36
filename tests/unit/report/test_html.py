"""The HTML report over hand-built sweeps: structure, colours, panels, escaping, CSP.

The real browser renders it in tests/integration/report/test_html_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import json
import re

from netcheck.catalog import docrefs
from netcheck.plan import build_plan
from netcheck.report._html_assets import CELL_COLOURS, CSS, JS
from netcheck.report.html import NOT_MEASURED, cell_class, render_html, rtt_bucket
from netcheck.report.paths import nic_usage, path_summaries
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, Outcome, Sample
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.stats import CellStats, CellVerdict, RttStats, Verdict
from netcheck.topology import load_topology_text
from tests.unit.report.reportkit import MT_CS, PS_CS, PS_MT, RDP, VM_CS, VM_PS, make_sweep

ALL_GOOD_KINDS = {RDP: "refused"}  # every other cell defaults to open-fast


class _Collector(html.parser.HTMLParser):
    """Tags, attributes and script blocks of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)
        else:
            self.text.append(data)


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(page)
    c.close()
    return c


def _cells(c: _Collector) -> dict[int, dict[str, str | None]]:
    return {
        int(a["data-cell"] or -1): a
        for tag, a in c.tags
        if tag == "td" and "data-cell" in a and a.get("data-cell") is not None
    }


def _index(sweep: SweepResult, key: tuple[str, str, int]) -> int:
    return next(
        i
        for i, r in enumerate(sweep.results)
        if (r.spec.source_host, r.spec.dest_host, r.spec.port) == key
    )


def test_verdict_at_top_and_one_heatmap_cell_per_planned_cell() -> None:
    sweep = make_sweep()
    page = render_html(sweep)
    c = _parse(page)
    text = " ".join(c.text)
    # the verdict comes before the matrix
    assert page.index('id="verdict"') < page.index('id="heatmap"')
    assert re.search(r'class="verdict nogo".*?NO-GO.*?3 of 6 cells pass', page, re.S)
    assert "PARTIAL" not in text
    cells = _cells(c)
    assert sorted(cells) == list(range(len(sweep.results)))
    # one empty slot for every (row, column) pair the plan does not probe
    empties = [a for tag, a in c.tags if tag == "td" and a.get("class") == "empty"]
    assert len(cells) + len(empties) == 3 * 5  # 3 source rows × 5 destination columns


def test_cell_colours_follow_verdicts() -> None:
    sweep = make_sweep()
    cells = _cells(_parse(render_html(sweep)))
    want = {
        VM_CS: "c-ok r0",  # open, 0.12 ms median
        PS_CS: "c-filtered",
        MT_CS: "c-ok r0",
        RDP: "c-mustblock",  # open, but the rule says blocked
    }
    for key, cls in want.items():
        assert cells[_index(sweep, key)]["data-class"] == cls, key
    slow = make_sweep({RDP: "refused", VM_CS: "open-slow", VM_PS: "refused"})
    cells = _cells(_parse(render_html(slow)))
    assert cells[_index(slow, VM_CS)]["data-class"] == "c-slow"  # 45 ms > the VPN's 30 ms
    assert cells[_index(slow, RDP)]["data-class"] == "c-blocked"  # as the negative rule wants
    assert cells[_index(slow, VM_PS)]["data-class"] == "c-refused"
    # every class the renderer uses has a colour in the stylesheet
    for cls in CELL_COLOURS:
        assert "." + cls.replace(" ", ".") + "{background:" + CELL_COLOURS[cls] in CSS


def test_rtt_buckets() -> None:
    assert [rtt_bucket(x) for x in (0.05, 0.99, 1.0, 4.9, 19, 49.9, 50, 900)] == [
        0,
        0,
        1,
        1,
        2,
        3,
        4,
        4,
    ]
    rtt = RttStats(3, 22, 25, 25, 28, 29, 30, 1, "tcp_info")
    v = CellVerdict(Verdict.OPEN, True, "", CellStats(3, 3, 0.0, rtt))
    assert cell_class(v, True) == ("c-ok r3", "ok", "25.0 ms")
    lossy = CellVerdict(Verdict.OPEN, True, "", CellStats(3, 2, 100 / 3, rtt))
    assert cell_class(lossy, True) == ("c-ok r3", "ok", "25.0 ms · 33% loss")


def test_go_page() -> None:
    page = render_html(make_sweep(ALL_GOOD_KINDS))
    assert 'class="verdict go"' in page
    assert '<div class="word">GO</div>' in page
    assert "Failing cells <span" in page and '<p class="ok">None.</p>' in page


def test_partial_banner_and_grey_cells() -> None:
    sweep = make_sweep(
        {**ALL_GOOD_KINDS, MT_CS: CellStatus.NOT_RUN, VM_PS: CellStatus.NOT_RUN}, interrupted=True
    )
    page = render_html(sweep)
    assert 'id="partial"' in page
    assert "(2 of 6 cells not measured" in page
    cells = _cells(_parse(page))
    assert cells[_index(sweep, MT_CS)]["data-class"] == "c-unmeasured"
    assert cells[_index(sweep, MT_CS)]["data-label"] == "NOT-RUN"


def test_embedded_data_is_the_json_report() -> None:
    sweep = make_sweep()
    c = _parse(render_html(sweep))
    data = json.loads(c.scripts[0])
    assert data["schema"] == "netcheck.sweep"
    assert len(data["cells"]) == len(sweep.results)
    i = _index(sweep, PS_CS)
    assert data["cells"][i]["verdict"] == "filtered"
    assert data["cells"][i]["hint"]  # failing cells carry their hint into the detail panel


def test_failing_list_links_to_cells() -> None:
    sweep = make_sweep()
    page = render_html(sweep)
    block = page[page.index('id="failing"') : page.index('id="paths"')]
    for key in (PS_CS, RDP):
        i = _index(sweep, key)
        assert f'href="#cell-{i}" data-goto="{i}"' in block
    assert "Close RDP to the process server." in block
    assert block.count("<li>") == 3


def test_csp_admits_exactly_the_inline_style_and_script() -> None:
    page = render_html(make_sweep())
    c = _parse(page)
    (csp,) = [
        a["content"]
        for t, a in c.tags
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None
    assert "default-src 'none'" in csp

    def sha(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert c.styles == [CSS]
    assert c.scripts[1] == JS
    assert f"style-src 'sha256-{sha(CSS)}'" in csp
    assert f"script-src 'sha256-{sha(JS)}'" in csp
    # no external resource anywhere: no src/href pointing outside the page; the one
    # exception is a link (<a>, navigation, loads nothing) to a public doc page
    for tag, attrs in c.tags:
        for k in ("src", "href"):
            v = attrs.get(k)
            if tag == "a" and k == "href" and v is not None and v.startswith(docrefs.BASE_URL):
                assert attrs.get("rel") == "noopener", attrs
                continue
            assert v is None or v.startswith("#"), (tag, attrs)
    # no inline style attributes (the CSP would block them)
    assert all("style" not in a for _, a in c.tags)


HOSTILE = """\
version: 1
name: '"><script>alert(1)</script>'
sites:
  onprem: {networks: {lan: 127.0.2.0/24}}
  azure: {networks: {vnet: 127.0.4.0/24}}
paths:
  '<b>vpn</b>': {kind: vpn, sites: [azure, onprem]}
hosts:
  '<img/src=x>': {site: onprem, roles: [config_server], address: 127.0.2.10}
  "ps&'\\"": {site: azure, roles: [process_server], address: 127.0.4.4}
rules:
  - id: '</script><script>alert(2)</script>'
    from: process_server
    to: config_server
    port: 8080
    hint: '<!-- </script><svg onload=alert(3)>'
"""


def test_everything_from_user_files_and_agents_is_escaped() -> None:
    topo = load_topology_text(HOSTILE, "<hostile>.yaml")
    plan = build_plan(topo)
    bad = Sample(Outcome.REFUSED, errno=111, detail="</script><script>alert(4)</script>")
    results = tuple(CellResult(s, CellStatus.MEASURED, (bad,)) for s in plan.specs)
    sweep = SweepResult(
        sweep_id="x",
        plan=plan,
        results=results,
        agents=(AgentInfo("<img/src=x>", "ssh", False, reason="<i>denied</i>"),),
        responders=(ResponderInfo("ps&'\"", "127.0.4.4", 8080, "none", "<u>why</u>"),),
        started_at=0.0,
        finished_at=1.0,
    )
    page = render_html(sweep)
    c = _parse(page)
    # only the two scripts of the page exist, and no element came from the data
    assert [t for t, _ in c.tags if t == "script"] == ["script", "script"]
    assert not [t for t, _ in c.tags if t in ("img", "svg", "b", "i", "u")]
    assert "<!--" not in page
    # the data block is still valid JSON carrying the strings unchanged
    data = json.loads(c.scripts[0])
    assert data["topology"]["name"] == '"><script>alert(1)</script>'
    assert data["cells"][0]["samples"][0]["detail"] == "</script><script>alert(4)</script>"
    assert c.scripts[1] == JS
    # and the text shows the names as text
    text = "".join(c.text)
    assert "<img/src=x>" in text
    assert "ps&'\"" in text
    assert "<!-- </script><svg onload=alert(3)>" in text


def test_paths_panel_aggregates_crossing_cells() -> None:
    kinds = {RDP: "refused", VM_CS: "open-slow", PS_CS: "filtered", PS_MT: "refused"}
    sweep = make_sweep(kinds)
    (ps,) = path_summaries(sweep)
    assert ps.path.name == "s2s-vpn"
    # the cells across the VPN: vm1→cs01 (slow), ps-azure→cs01 (filtered), ps-azure→mt01
    crossing = {
        (r.spec.source_host, r.spec.dest_host, r.spec.port)
        for r in sweep.results
        if r.spec.path == "s2s-vpn"
    }
    assert crossing == {VM_CS, PS_CS, PS_MT}
    assert ps.cells == 3 and ps.failing == 3
    assert dict(ps.verdicts) == {"open": 1, "filtered": 1, "refused": 1}
    # RTT and loss only from the cell that found the port open
    assert ps.reachable == 1
    assert ps.attempts == 3 and ps.lost == 0 and ps.loss_pct == 0.0
    assert ps.worst_cell_p50_ms == 45.0
    assert ps.rtt_p50_ms == 45.0 and ps.rtt_max_ms == 46.0
    assert ps.rtt_ok is False  # 45 ms > max_rtt_ms 30
    assert ps.loss_ok is True
    page = render_html(sweep)
    block = page[page.index('id="paths"') : page.index('id="nics"')]
    assert "30 ms max" in block and '<span class="bad">exceeded</span>' in block
    # MTU, bandwidth and hops are clearly-labelled empty slots
    assert block.count(NOT_MEASURED) == 3


def test_nic_panel_for_multi_nic_hosts() -> None:
    sweep = make_sweep()
    usage = nic_usage(sweep)
    assert [(u.host, u.nic) for u in usage] == [("cs01", "source"), ("cs01", "failback")]
    src, fb = usage
    assert {c.peer_host for c in fb.inbound} == {"vm1", "ps-azure"}  # Azure side → failback NIC
    assert {c.peer_host for c in src.inbound} == {"mt01"}
    assert fb.faces == ("azure",) and src.faces == ("onprem",)
    page = render_html(sweep)
    block = page[page.index('id="nics"') : page.index('id="agents"')]
    assert "cs01 / failback" in block and "cs01 / source" in block


def test_agents_and_responders_panel() -> None:
    agents = (
        AgentInfo("vm1", "ssh", True, capabilities={"tcp_info": True, "raw_sockets": False}),
        AgentInfo("mt01", "ssh", False, reason="Permission denied (publickey)"),
        AgentInfo("ps-azure", "ssh", True, reason="channel closed", lost=True),
    )
    responders = (
        ResponderInfo("cs01", "127.0.3.10", 10443, "responder"),
        ResponderInfo("mt01", "127.0.2.20", 9443, "none", "no agent on the host"),
    )
    page = render_html(make_sweep(agents=agents, responders=responders))
    block = page[page.index('id="agents"') :]
    assert '<span class="bad">unavailable</span> Permission denied (publickey)' in block
    assert '<span class="bad">lost</span> channel closed' in block
    assert '<span class="on">tcp_info</span><span class="">raw_sockets</span>' not in block
    assert '<span class="">raw_sockets</span><span class="on">tcp_info</span>' in block
    assert "127.0.2.20:9443" in block and "no agent on the host" in block


def test_readiness_panel_and_verdict() -> None:
    from dataclasses import replace

    from netcheck.readiness.model import Fact, Finding, LiveStatus, ReadinessResult, Source
    from netcheck.readiness.model import Verdict as RV

    readiness = ReadinessResult(
        findings=(
            Finding("mt-disks", "mt01", RV.PASS, "40 disks, limit 60"),
            Finding(
                "mt-os-family",
                "group <erp>",
                RV.FAIL,
                "one master target serves Windows and Linux VMs",
                facts=(Fact("os", "linux", Source.LIVE, host="mt01"),),
                hint="Add a Linux master target for the Linux VMs.",
            ),
        ),
        live=(LiveStatus("mt01", "live"),),
        live_requested=True,
    )
    sweep = replace(make_sweep({RDP: "refused"}), readiness=readiness)
    assert not sweep.go  # every cell passes, but a readiness check fails
    page = render_html(sweep)
    assert 'class="verdict nogo"' in page
    assert "readiness NO-GO (1 failing checks)" in page
    block = page[page.index('id="readiness"') : page.index('id="paths"')]
    assert '<span class="bad">NO-GO</span>' in block and "(1 fail, 1 pass)" in block
    # the failing finding first, escaped, with its fix and facts
    assert block.index("mt-os-family") < block.index("mt-disks")
    assert "group &lt;erp&gt;" in block
    assert "Fix: Add a Linux master target for the Linux VMs." in block
    assert "mt01.os=linux (live)" in block
    assert "live facts from mt01" in block
    assert 'id="readiness"' not in render_html(make_sweep())  # no inventory: no panel
