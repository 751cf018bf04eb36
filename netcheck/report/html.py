"""The HTML report: one self-contained page for the meeting (no external asset, works offline).

Go / no-go at the top, the matrix as a heatmap (colour by verdict, and by median
RTT for open cells) whose cells expand into their details, then the failing
cells with their hints, the declared paths against their expectations, the NICs
of multi-NIC hosts, and the agents and responders. Pure: a SweepResult in, a
string out. Every string that came from a user file is escaped here; the
embedded JSON (the cell details the script shows) is escaped for a <script>
block, and a Content-Security-Policy admits only this page's own style and
script.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections import Counter
from html import escape

from netcheck import __version__
from netcheck.catalog import Evidence
from netcheck.catalog.docrefs import DocLink, doc_parts
from netcheck.diagnose.model import PathCheck
from netcheck.nic.model import HostNicReport, NicVerdict
from netcheck.plan import NO_MATCHING_HOSTS
from netcheck.readiness.model import Verdict as ReadyVerdict
from netcheck.report._html_assets import CSS, JS
from netcheck.report.diagnose_report import path_figures
from netcheck.report.findings_report import failing_summary
from netcheck.report.json_report import SCHEMA, SCHEMA_VERSION, sweep_to_dict
from netcheck.report.paths import NicCell, PathSummary, nic_usage, path_summaries
from netcheck.result.cells import CellResult, CellStatus
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict, Verdict

__all__ = ["cell_class", "render_html", "rtt_bucket"]

NOT_MEASURED = "not measured in this sweep"
RTT_BUCKETS_MS = (1.0, 5.0, 20.0, 50.0)  # upper bounds of r0..r3; r4 above

_FAIL_CLASS = {
    Verdict.REFUSED: ("c-refused", "REFUSED"),
    Verdict.FILTERED: ("c-filtered", "FILTERED"),
    Verdict.UNREACHABLE: ("c-unreach", "UNREACH"),
    Verdict.HANDSHAKE_ONLY: ("c-hsonly", "HS-ONLY"),
    Verdict.ERROR: ("c-error", "ERROR"),
    Verdict.AGENT_UNAVAILABLE: ("c-unmeasured", "NO-AGENT"),
    Verdict.AGENT_LOST: ("c-unmeasured", "LOST"),
    Verdict.NOT_RUN: ("c-unmeasured", "NOT-RUN"),
    Verdict.NO_LISTENER: ("c-unmeasured", "NO-LISTENER"),
}

_LEGEND = (
    ("c-ok r0", "open < 1 ms"),
    ("c-ok r1", "< 5 ms"),
    ("c-ok r2", "< 20 ms"),
    ("c-ok r3", "< 50 ms"),
    ("c-ok r4", "≥ 50 ms"),
    ("c-blocked", "blocked, as required"),
    ("c-slow", "open, over the path's budget"),
    ("c-refused", "refused (TCP reset)"),
    ("c-filtered", "filtered (dropped)"),
    ("c-unreach", "ICMP unreachable"),
    ("c-hsonly", "handshake only (not the intended responder)"),
    ("c-mustblock", "open, must be blocked"),
    ("c-error", "probe error"),
    ("c-unmeasured", "not measured"),
)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _doc(doc: str) -> str:
    """A doc reference: each cited page a link to its public URL, named by the page (and
    section), the notes around it kept as text."""
    return "".join(
        f'<a href="{_e(p.url)}" rel="noopener">{_e(p.url.rsplit("/", 1)[-1])}</a>'
        if isinstance(p, DocLink)
        else _e(p)
        for p in doc_parts(doc)
    )


def _ms(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 0.0005:  # would round to 0.000 ms
        return "<0.001 ms"
    if x < 1:
        return f"{x:.3f} ms"
    if x < 100:
        return f"{x:.1f} ms"
    return f"{x:.0f} ms"


def rtt_bucket(p50_ms: float) -> int:
    """The heatmap shade of an open cell: 0 (< 1 ms) .. 4 (≥ 50 ms)."""
    for i, bound in enumerate(RTT_BUCKETS_MS):
        if p50_ms < bound:
            return i
    return len(RTT_BUCKETS_MS)


def cell_class(v: CellVerdict, expect_reachable: bool) -> tuple[str, str, str]:
    """(CSS class, label, second line) of a heatmap cell."""
    rtt = v.stats.rtt
    sub = _ms(rtt.p50) if rtt else ""
    if v.verdict is Verdict.OPEN and not expect_reachable:
        return "c-mustblock", "OPEN!", "must be blocked"
    if v.verdict is Verdict.OPEN:
        if v.stats.loss_pct > 0:
            sub = f"{sub} · {v.stats.loss_pct:.0f}% loss".strip(" ·")
        if not v.passed:
            return "c-slow", "SLOW", sub
        return f"c-ok r{rtt_bucket(rtt.p50) if rtt else 0}", "ok", sub
    if v.passed:
        return "c-blocked", "blocked", "as required"
    return (*_FAIL_CLASS[v.verdict], "")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _script_json(obj: object) -> str:
    """JSON that cannot end its <script> block nor open a comment inside it."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _column_key(sweep: SweepResult, r: CellResult) -> tuple[str, str, int]:
    s = r.spec
    dest = sweep.plan.topology.find_host(s.dest_host)  # None: an Azure endpoint
    multi = dest is not None and len(dest.nics) > 1
    return (s.dest_host, s.dest_nic if multi else "", s.port)


def _matrix(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    row_keys: list[tuple[str, str, str]] = []
    col_keys: list[tuple[str, str, int]] = []
    remapped: dict[tuple[str, str, int], int] = {}
    at: dict[tuple[tuple[str, str, str], tuple[str, str, int]], int] = {}
    for i, (r, _) in enumerate(rows):
        s = r.spec
        rk = (s.source_host, s.source_nic, s.source_address)
        ck = _column_key(sweep, r)
        if rk not in row_keys:
            row_keys.append(rk)
        if ck not in col_keys:
            col_keys.append(ck)
        if s.port != s.documented_port:
            remapped[ck] = s.documented_port
        at[(rk, ck)] = i
    out = ['<table class="matrix" id="matrix"><thead><tr>']
    out.append('<th class="corner">from ↓ &nbsp; to →</th>')
    for ck in col_keys:
        host, nic, port = ck
        doc = remapped.get(ck)
        star = f' <span title="documented port {doc}">*</span>' if doc else ""
        nic_html = f'<span class="nic">{_e(nic)}</span>' if nic else ""
        out.append(
            f'<th scope="col"><span class="dest">{_e(host)}</span>{nic_html}'
            f'<span class="port">{port}{star}</span></th>'
        )
    out.append("</tr></thead><tbody>")
    for rk in row_keys:
        host, nic, addr = rk
        out.append(
            f'<tr><th scope="row" class="row">{_e(host)}'
            f'<span class="nic">{_e(nic)} · {_e(addr)}</span></th>'
        )
        for ck in col_keys:
            found = at.get((rk, ck))
            if found is None:
                out.append('<td class="empty" title="not part of the plan">·</td>')
                continue
            i = found
            r, v = rows[i]
            s = r.spec
            cls, label, sub = cell_class(v, s.expect_reachable)
            title = (
                f"{s.source_host} {s.source_address} → {s.dest_host} {s.dest_address} "
                f"{s.proto}/{s.port}: {label}" + (f" — {v.reason}" if v.reason else "")
            )
            sub_html = f"<small>{_e(sub)}</small>" if sub else ""
            out.append(
                f'<td class="cell {cls}" id="cell-{i}" data-cell="{i}" data-class="{cls}" '
                f'data-label="{_e(label)}" tabindex="0" title="{_e(title)}">'
                f"{_e(label)}{sub_html}</td>"
            )
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _legend(rows: list[tuple[CellResult, CellVerdict]]) -> str:
    used = {cell_class(v, r.spec.expect_reachable)[0] for r, v in rows}
    items = []
    for cls, text in _LEGEND:
        if cls.startswith("c-ok") or cls in used:
            items.append(f'<span><span class="sw {cls}"></span>{_e(text)}</span>')
    sources = Counter(v.stats.rtt.source for _, v in rows if v.stats.rtt)
    note = ""
    if sources:
        note = "RTT = median of the answered attempts (" + ", ".join(
            f"{_e(k)}: {n} cells" for k, n in sources.most_common()
        )
        note += "); * = port remapped from the documented one"
    return f'<div class="legend">{"".join(items)}</div><div class="hint">{note}</div>'


def _verdict(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    passed = sum(1 for _, v in rows if v.passed)
    failed = len(rows) - passed
    unmeasured = sum(1 for r, _ in rows if r.status is not CellStatus.MEASURED)
    go = sweep.go
    counts = Counter(cell_class(v, r.spec.expect_reachable)[1] for r, v in rows)
    tally = "".join(f"<span>{_e(k)} × {n}</span>" for k, n in counts.most_common())
    agents_up = sum(1 for a in sweep.agents if a.available and not a.lost)
    ready = ""
    if sweep.readiness is not None:
        fails = sweep.readiness.count(ReadyVerdict.FAIL)
        ready = f"readiness {'GO' if fails == 0 else f'NO-GO ({fails} failing checks)'} · "
    kinds = failing_summary(sweep.findings())
    ready += f"failing findings: {kinds} · " if kinds else ""
    sub = (
        f"{failed} failing · {unmeasured} not measured · {ready}{agents_up} of "
        f"{len(sweep.agents)} agents up · {sweep.finished_at - sweep.started_at:.1f} s"
    )
    out = (
        f'<section class="verdict {"go" if go else "nogo"}" id="verdict">'
        f'<div class="word">{"GO" if go else "NO-GO"}</div>'
        f'<div><div class="summary">{passed} of {len(rows)} cells pass</div>'
        f'<div class="sub">{_e(sub)}</div></div><div class="tally">{tally}</div></section>'
    )
    if sweep.partial:
        out += (
            '<div class="partial" id="partial">PARTIAL — the sweep was interrupted before '
            f"every cell was measured ({unmeasured} of {len(rows)} cells not measured, shown "
            "grey). Nothing here proves those paths; run the sweep again to completion.</div>"
        )
    if sweep.plan.limit is not None:  # the banner of a partial sweep: not the whole matrix
        out += f'<div class="partial" id="limit">{_e(sweep.plan.limit.describe(len(rows)))}</div>'
    return out


def _failing_findings(sweep: SweepResult) -> str:
    """Every failing finding, whatever its kind, by id: the NO-GO's reasons in one list."""
    bad = sweep.failing()
    if not bad:
        return ""
    items = "".join(
        f'<li class="finding {_e(f.kind)}"><code>{_e(f.id)}</code> <span class="kind">{_e(f.kind)}</span> '
        f"{_e(f.reason)}"
        + (f'<div class="hint">fix: {_e(f.hint)}</div>' if f.hint else "")
        + (f'<div class="hint">doc: {_doc(f.doc)}</div>' if f.doc else "")
        + "</li>"
        for f in bad
    )
    return (
        f'<section class="card" id="failing-findings"><h2>Failing findings '
        f'<span class="count">({len(bad)})</span></h2><ul>{items}</ul></section>'
    )


def _failing(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    failing = [(i, r, v) for i, (r, v) in enumerate(rows) if not v.passed]
    head = f'<h2>Failing cells <span class="count">({len(failing)})</span></h2>'
    if not failing:
        return f'<section class="card" id="failing">{head}<p class="ok">None.</p></section>'
    items = []
    for i, r, v in failing:
        s = r.spec
        rule = sweep.plan.rule(s.rule_id)
        cls, label, _ = cell_class(v, s.expect_reachable)
        remap = f" (documented {s.documented_port})" if s.port != s.documented_port else ""
        if rule.evidence is Evidence.USER:
            rule_text = f"{s.rule_id} — a rule of this topology"
        else:
            flows = f", flows {', '.join(map(str, rule.flows))}" if rule.flows else ""
            rule_text = f"{', '.join(s.rule_ids)} — {rule.evidence.value}{flows}; {rule.phase}"
        fix = ""
        if r.status is CellStatus.MEASURED:
            fix = f'<div class="fixl">Fix: {_e(rule.hint)}</div>'
        items.append(
            f'<li><div class="line"><span class="chip {cls}">{_e(label)}</span> '
            f"{_e(s.source_host)} {_e(s.source_address)} → {_e(s.dest_host)} "
            f"{_e(s.dest_address)} {_e(s.proto)}/{s.port}{_e(remap)} "
            f'<a href="#cell-{i}" data-goto="{i}">show</a></div>'
            f'<div class="why">{_e(v.reason)}</div>{fix}'
            f'<div class="meta">rule {_e(rule_text)} · doc {_doc(rule.doc)}</div></li>'
        )
    return f'<section class="card" id="failing">{head}<ol class="failing">{"".join(items)}</ol></section>'


def _status(ok: bool | None) -> str:
    if ok is None:
        return '<span class="hint">—</span>'
    return '<span class="ok">within</span>' if ok else '<span class="bad">exceeded</span>'


def _path_card(ps: PathSummary, check: PathCheck | None = None) -> str:
    p = ps.path
    exp = p.expect
    slot = f'<span class="slot">{NOT_MEASURED}</span>'
    # the diagnostics (when the sweep ran them) fill the MTU and gateway-hop slots
    figures = path_figures(check) if check is not None else {}
    codes = {f.code: f.level.value for f in check.findings} if check is not None else {}
    mtu_measured = _e(figures["mtu"]) if "mtu" in figures else slot
    mtu_status = ""
    if codes.get("pmtu-below-expect") == "fail":
        mtu_status = '<span class="bad">below</span>'
    elif codes.get("pmtu-below-interface") == "warn":
        mtu_status = '<span class="bad">below the hosts\' 1500</span>'
    elif "mtu" in figures and check is not None and check.best("pmtu") is not None:
        mtu_status = '<span class="ok">within</span>'
    hops_measured = _e(figures["hops"]) if "hops" in figures else slot
    hops_status = ""
    if codes.get("path-mismatch") == "fail":
        hops_status = '<span class="bad">other path</span>'
    elif codes.get("path-taken") == "info":
        hops_status = '<span class="ok">as expected</span>'
    gws = ", ".join(str(g) for g in p.gateways) or "none declared"
    verdicts = ", ".join(f"{_e(k)} {n}" for k, n in ps.verdicts) or "—"
    rtt_measured = "—"
    if ps.worst_cell_p50_ms is not None:
        rtt_measured = (
            f"worst cell median {_ms(ps.worst_cell_p50_ms)}; pooled p50 {_ms(ps.rtt_p50_ms)}, "
            f"p95 {_ms(ps.rtt_p95_ms)}, max {_ms(ps.rtt_max_ms)} ({ps.rtt_samples} attempts)"
        )
    loss = ps.loss_pct
    loss_measured = "—" if loss is None else f"{loss:.1f}% ({ps.lost} of {ps.attempts} attempts)"

    def expected(x: float | None, unit: str) -> str:
        return "—" if x is None else f"{x:g} {unit}"

    rows = [
        ("RTT", expected(exp.max_rtt_ms, "ms max"), _e(rtt_measured), _status(ps.rtt_ok)),
        ("loss", expected(exp.max_loss_pct, "% max"), _e(loss_measured), _status(ps.loss_ok)),
        ("MTU", expected(exp.mtu, "bytes"), mtu_measured, mtu_status),
        ("bandwidth", expected(exp.min_mbps, "Mbit/s min"), slot, ""),
        ("gateway hops", _e(gws), hops_measured, hops_status),
    ]
    body = "".join(
        f"<tr><th>{k}</th><td>{_e(e) if k != 'gateway hops' else e}</td><td>{m}</td><td>{s}</td></tr>"
        for k, e, m, s in rows
    )
    return (
        f'<div class="path"><h3>{_e(p.name)} <span class="hint">{_e(p.kind.value)} · '
        f"{_e(p.sites[0])} ↔ {_e(p.sites[1])}</span></h3>"
        f'<div class="hint">{ps.cells} cells cross it: {ps.reachable} open, {ps.failing} failing '
        f"({verdicts})</div>"
        f'<table class="plain"><tr><th></th><th>expected</th><th>measured</th><th></th></tr>'
        f"{body}</table></div>"
    )


def _paths(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    summaries = path_summaries(sweep, rows)
    if not summaries:
        inner = '<p class="hint">No path (VPN, ExpressRoute) is declared in the topology.</p>'
    else:
        checks = {c.path: c for c in sweep.diagnostics.paths} if sweep.diagnostics else {}
        inner = (
            '<div class="paths">'
            + "".join(_path_card(ps, checks.get(ps.path.name)) for ps in summaries)
            + "</div>"
        )
    note = (
        '<p class="hint">RTT and loss pool the attempts of the cells that crossed the path '
        "and found the port open.</p>"
    )
    return f'<section class="card" id="paths"><h2>Paths</h2>{note}{inner}</section>'


def _nic_item(c: NicCell, arrow: str, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    r, v = rows[c.index]
    cls, label, _ = cell_class(v, r.spec.expect_reachable)
    return (
        f'<li><span class="chip {cls}">{_e(label)}</span> {arrow} '
        f'<a href="#cell-{c.index}" data-goto="{c.index}">{_e(c.peer_host)}/{_e(c.peer_nic)} '
        f"{_e(c.peer_address)}:{c.port}</a></li>"
    )


def _nics(sweep: SweepResult, rows: list[tuple[CellResult, CellVerdict]]) -> str:
    usage = nic_usage(sweep, rows)
    if not usage:
        inner = '<p class="hint">No host in this topology has more than one NIC.</p>'
    else:
        cards = []
        for u in usage:
            out = "".join(_nic_item(c, "→", rows) for c in u.outbound) or (
                '<li class="hint">no cell sent from this NIC</li>'
            )
            inc = "".join(_nic_item(c, "←", rows) for c in u.inbound) or (
                '<li class="hint">no cell aimed at this NIC</li>'
            )
            cards.append(
                f'<div class="nicc"><h3>{_e(u.host)} / {_e(u.nic)} '
                f'<span class="mono">{_e(u.address)}</span></h3>'
                f'<div class="hint">faces {_e(", ".join(u.faces))}</div>'
                f"{_nic_live(sweep, u.host, u.nic)}"
                f"<div>as source</div><ul>{out}</ul><div>as destination</div><ul>{inc}</ul></div>"
            )
        inner = '<div class="nics">' + "".join(cards) + "</div>"
        inner += "".join(_nic_findings(r) for r in sweep.nics)
    return f'<section class="card" id="nics"><h2>NICs of multi-NIC hosts</h2>{inner}</section>'


_NIC_CLASS = {
    NicVerdict.PASS: ("c-ok r0", "pass"),
    NicVerdict.WARN: ("c-slow", "WARN"),
    NicVerdict.FAIL: ("c-refused", "FAIL"),
    NicVerdict.UNKNOWN: ("c-unmeasured", "unknown"),
}


def _nic_live(sweep: SweepResult, host: str, nic: str) -> str:
    """What the host says about this NIC, and what it reached from every NIC (issue 6)."""
    report = next((r for r in sweep.nics if r.host == host), None)
    info = next((n for n in report.nics if n.name == nic), None) if report else None
    if report is None or info is None:
        return '<div class="hint">not checked on the host (no NIC checks in this sweep)</div>'
    if info.iface is None:
        live = f"not on any interface ({report.live})" if report.live == "live" else report.live
    else:
        rp = (
            {0: "off", 1: "strict", 2: "loose"}.get(info.rp_filter, "?")
            if info.rp_filter is not None
            else "?"
        )
        dr = "?" if info.default_route is None else ("yes" if info.default_route else "no")
        live = f"{info.iface} · {info.subnet} · default route {dr} · rp_filter {rp}"
    ok, bad = report.reaches(nic)
    return (
        f'<div class="mono">{_e(live)}</div>'
        f'<div class="hint">reaches: {_e(", ".join(ok) or "nothing")}</div>'
        f'<div class="hint">does not reach: {_e(", ".join(bad) or "—")}</div>'
    )


def _nic_findings(report: HostNicReport) -> str:
    order = {NicVerdict.FAIL: 0, NicVerdict.WARN: 1, NicVerdict.UNKNOWN: 2, NicVerdict.PASS: 3}
    rows = []
    for f in sorted(report.findings, key=lambda f: order[f.verdict]):
        cls, label = _NIC_CLASS[f.verdict]
        fix = (
            f'<div class="fixl">Fix: {_e(f.hint)}</div>'
            if f.hint and f.verdict is not NicVerdict.PASS
            else ""
        )
        rows.append(
            f'<tr><td><span class="chip {cls}">{_e(label)}</span></td>'
            f"<td><code>{_e(f.check)}</code></td><td>{_e(f.subject)}</td>"
            f'<td>{_e(f.message)}{fix}<div class="hint">doc {_doc(f.doc)}</div></td></tr>'
        )
    return (
        f"<h3>{_e(report.host)}: NIC findings</h3>"
        '<table class="plain"><tr><th></th><th>check</th><th>subject</th><th>finding</th></tr>'
        + "".join(rows)
        + "</table>"
    )


def _agents(sweep: SweepResult) -> str:
    rows = []
    for a in sweep.agents:
        if a.lost:
            state = f'<span class="bad">lost</span> {_e(a.reason)}'
        elif not a.available:
            state = f'<span class="bad">unavailable</span> {_e(a.reason)}'
        else:
            state = '<span class="ok">up</span>'
        caps = "".join(
            f'<span class="{"on" if on else ""}">{_e(k)}</span>'
            for k, on in sorted(a.capabilities.items())
        )
        ready = a.timings.get("ready_s")
        rows.append(
            f"<tr><td>{_e(a.host)}</td><td>{_e(a.transport)}</td><td>{state}</td>"
            f"<td>{_e(a.agent_version or '—')}</td><td>{_e(a.python or '—')}</td>"
            f'<td>{_e(a.platform or "—")}</td><td class="caps">{caps}</td>'
            f"<td>{'—' if ready is None else f'{ready:.2f} s'}</td></tr>"
        )
    agents = (
        '<table class="plain"><tr><th>host</th><th>transport</th><th>state</th><th>agent</th>'
        "<th>python</th><th>platform</th><th>capabilities</th><th>ready</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else '<p class="hint">No agent was needed.</p>'
    )
    resp = []
    labels = {
        "responder": '<span class="ok">netcheck responder</span> (nonce-proven end to end)',
        "service": "real service holds the port",
        "other_sweep": '<span class="bad">another netcheck sweep</span> (nothing proven)',
        "none": '<span class="bad">none</span>',
    }
    for x in sweep.responders:
        resp.append(
            f'<tr><td>{_e(x.host)}</td><td class="mono">{_e(x.address)}:{x.port}</td>'
            f"<td>{labels.get(x.state, _e(x.state))}</td><td>{_e(x.detail)}</td></tr>"
        )
    responders = (
        '<table class="plain"><tr><th>host</th><th>listens on</th><th>what answered</th>'
        "<th>detail</th></tr>" + "".join(resp) + "</table>"
        if resp
        else '<p class="hint">No listener was needed.</p>'
    )
    return (
        f'<section class="card" id="agents"><h2>Agents</h2>{agents}'
        f"<h2>Responders and listeners</h2>{responders}</section>"
    )


_READY_CLASS = {
    ReadyVerdict.PASS: ("c-ok r0", "pass"),
    ReadyVerdict.WARN: ("c-slow", "WARN"),
    ReadyVerdict.FAIL: ("c-refused", "FAIL"),
    ReadyVerdict.UNKNOWN: ("c-unmeasured", "unknown"),
}


def _readiness(sweep: SweepResult) -> str:
    r = sweep.readiness
    if r is None:
        return ""
    counts = ", ".join(
        f"{r.count(v)} {v.value}"
        for v in (ReadyVerdict.FAIL, ReadyVerdict.WARN, ReadyVerdict.UNKNOWN, ReadyVerdict.PASS)
        if r.count(v)
    )
    verdict = '<span class="ok">GO</span>' if r.go else '<span class="bad">NO-GO</span>'
    live = "".join(
        f"<li>{'live facts from' if x.state == 'live' else 'no live facts from'} "
        f"{_e(x.host)}{': ' + _e(x.reason) if x.reason else ''}</li>"
        for x in r.live
    )
    rows = []
    order = {
        ReadyVerdict.FAIL: 0,
        ReadyVerdict.WARN: 1,
        ReadyVerdict.UNKNOWN: 2,
        ReadyVerdict.PASS: 3,
    }
    for f in sorted(r.findings, key=lambda f: order[f.verdict]):
        cls, label = _READY_CLASS[f.verdict]
        facts = "; ".join(x.text() for x in f.facts)
        fix = (
            f'<div class="fixl">Fix: {_e(f.hint)}</div>'
            if f.hint and f.verdict is not ReadyVerdict.PASS
            else ""
        )
        rows.append(
            f'<tr><td><span class="chip {cls}">{_e(label)}</span></td>'
            f"<td><code>{_e(f.check)}</code></td><td>{_e(f.subject)}</td>"
            f'<td>{_e(f.message)}{fix}<div class="hint">{_e(facts)}</div>'
            f'<div class="hint">doc {_doc(f.doc)}</div></td></tr>'
        )
    table = (
        '<table class="plain"><tr><th></th><th>check</th><th>subject</th><th>finding</th></tr>'
        + "".join(rows)
        + "</table>"
    )
    return (
        f'<section class="card" id="readiness"><h2>Failback readiness: {verdict} '
        f'<span class="count">({_e(counts or "no checks")})</span></h2>'
        f"{f'<ul>{live}</ul>' if live else ''}{table}</section>"
    )


def _skipped(sweep: SweepResult) -> str:
    gaps = [sk for sk in sweep.plan.skipped if sk.reason != NO_MATCHING_HOSTS]
    na = [sk.rule_id for sk in sweep.plan.skipped if sk.reason == NO_MATCHING_HOSTS]
    if not gaps and not na:
        return ""
    items = "".join(
        f"<li><code>{_e(sk.rule_id)}</code>"
        + (f" from {_e(sk.source_host)}" if sk.source_host else "")
        + f": {_e(sk.reason)}</li>"
        for sk in gaps
    )
    out = f"<ul>{items}</ul>" if items else ""
    if na:
        out += f'<p class="hint">Rules with no matching hosts in this topology: {_e(", ".join(na))}</p>'
    return f'<section class="card" id="skipped"><h2>Not probed by this sweep</h2>{out}</section>'


def render_html(sweep: SweepResult) -> str:
    rows = sweep.verdicts()
    topo = sweep.plan.topology
    st = sweep.plan.settings
    when = dt.datetime.fromtimestamp(sweep.started_at, tz=dt.timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    data = sweep_to_dict(sweep)
    csp = (
        "default-src 'none'; img-src data:; "
        f"style-src 'sha256-{_sha256(CSS)}'; script-src 'sha256-{_sha256(JS)}'; "
        "base-uri 'none'; form-action 'none'"
    )
    title = f"netcheck {'GO' if sweep.go else 'NO-GO'} — {topo.name}"
    meta = (
        f"sweep {sweep.sweep_id} · {topo.source} · {when} · {len(rows)} cells · "
        f"{st.samples} attempts each, timeout {st.timeout_ms} ms"
    )
    matrix = (
        f'<div class="scroll">{_matrix(sweep, rows)}</div>{_legend(rows)}'
        if rows
        else '<p class="hint">The plan has no cell.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="netcheck {_e(__version__)}">
<title>{_e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header class="top"><h1>netcheck · {_e(topo.name)}</h1><div class="meta">{_e(meta)}</div></header>
<main>
{_verdict(sweep, rows)}
{_failing_findings(sweep)}
<div class="grid">
<section class="card" id="heatmap"><h2>Matrix <span class="count">source host and NIC × destination:port — hover or click a cell</span></h2>
{matrix}
</section>
<aside class="detail"><section class="card"><h2>Cell details</h2>
<div id="detail-body"><noscript>Cell details need JavaScript; every failing cell's details are listed below.</noscript></div>
</section></aside>
</div>
{_failing(sweep, rows)}
{_readiness(sweep)}
{_paths(sweep, rows)}
{_nics(sweep, rows)}
{_agents(sweep)}
{_skipped(sweep)}
<footer>netcheck {_e(__version__)} · data schema {SCHEMA} v{SCHEMA_VERSION} · a self-contained page: no external resource, works offline</footer>
</main>
<script type="application/json" id="nc-data">{_script_json(data)}</script>
<script>{JS}</script>
</body>
</html>
"""
