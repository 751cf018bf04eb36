"""The HTML report's inline stylesheet and script (kept apart from the markup builder).

The page carries a Content-Security-Policy that allows exactly these two blocks
(by their SHA-256), nothing else: no network request, no other script, so a
string from a topology file that slipped past escaping still could not run.
The script only reads the embedded JSON and writes with `textContent`.
"""

from __future__ import annotations

__all__ = ["CELL_COLOURS", "CSS", "JS"]

# Verdict classes -> background colour. The browser test counts these exact colours
# in a screenshot, so a change here is a change there.
CELL_COLOURS: dict[str, str] = {
    "c-ok r0": "#1a9850",  # open, median RTT < 1 ms
    "c-ok r1": "#66bd63",  # < 5 ms
    "c-ok r2": "#a6d96a",  # < 20 ms
    "c-ok r3": "#d9ef8b",  # < 50 ms
    "c-ok r4": "#fee08b",  # >= 50 ms
    "c-blocked": "#4575b4",  # blocked, as a negative rule requires
    "c-slow": "#fdae61",  # open, beyond the path's RTT or loss budget
    "c-refused": "#d73027",
    "c-filtered": "#a50026",
    "c-unreach": "#f46d43",
    "c-hsonly": "#c51b7d",
    "c-mustblock": "#762a83",  # open, but a rule says it must be blocked
    "c-error": "#8c510a",
    "c-unmeasured": "#bdbdbd",
}

_DARK_TEXT = {"c-ok r2", "c-ok r3", "c-ok r4", "c-slow", "c-unreach", "c-unmeasured"}


def _cell_rules() -> str:
    out = []
    for cls, colour in CELL_COLOURS.items():
        sel = "." + cls.replace(" ", ".")
        ink = "#1f2328" if cls in _DARK_TEXT else "#ffffff"
        out.append(f"{sel}{{background:{colour};color:{ink}}}")
    return "\n".join(out)


CSS = (
    """
:root{--ink:#1f2328;--muted:#656d76;--line:#d8dee4;--card:#ffffff;--bg:#f3f5f8;
--go:#1a7f37;--nogo:#cf222e;--warn:#9a6700;--accent:#0969da}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans","DejaVu Sans",sans-serif}
body{margin:0}
code,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono","Liberation Mono",monospace;font-size:12.5px}
a{color:var(--accent)}
header.top{background:#0d1b2a;color:#e6edf3;padding:14px 28px}
header.top h1{margin:0;font-size:18px;font-weight:600;letter-spacing:.2px}
header.top .meta{color:#9fb3c8;font-size:12.5px;margin-top:2px}
main{max-width:1480px;margin:0 auto;padding:18px 28px 40px}
.verdict{display:flex;align-items:center;gap:22px;border-radius:12px;padding:16px 22px;
color:#fff;margin-bottom:14px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.verdict.go{background:var(--go)}.verdict.nogo{background:var(--nogo)}
.verdict .word{font-size:42px;font-weight:800;letter-spacing:1px;line-height:1}
.verdict .summary{font-size:16px;font-weight:600}
.verdict .sub{opacity:.92;font-size:13px;margin-top:3px}
.verdict .tally{margin-left:auto;display:flex;gap:8px;flex-wrap:wrap;justify-content:flex-end}
.verdict .tally span{background:rgba(255,255,255,.18);border-radius:999px;padding:3px 10px;font-size:12.5px;white-space:nowrap}
.partial{background:repeating-linear-gradient(-45deg,#fff8c5,#fff8c5 12px,#fbeaa0 12px,#fbeaa0 24px);
border:1px solid #d4a72c;color:#4d2d00;border-radius:10px;padding:10px 16px;margin-bottom:14px;font-weight:600}
.grid{display:grid;grid-template-columns:minmax(0,1fr) 350px;gap:18px;align-items:start}
@media (max-width:1100px){.grid{grid-template-columns:1fr}}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 18px;margin-bottom:18px}
.card h2{font-size:15px;margin:0 0 10px;font-weight:650}
.card h2 .count{color:var(--muted);font-weight:500}
.hint{color:var(--muted);font-size:12.5px}
.scroll{overflow-x:auto}
table.matrix{border-collapse:separate;border-spacing:3px}
table.matrix th{font-weight:600;font-size:12px;text-align:center;vertical-align:bottom;padding:2px 4px;color:var(--ink)}
table.matrix th.row{text-align:right;vertical-align:middle;padding-right:10px;white-space:nowrap}
table.matrix th .nic,table.matrix th .dest{display:block;color:var(--muted);font-weight:500;font-size:11.5px}
table.matrix th .port{display:block;font-size:13px}
table.matrix th.corner{text-align:left;color:var(--muted);font-weight:500}
td.cell{min-width:84px;height:52px;border-radius:7px;text-align:center;vertical-align:middle;
font-weight:700;font-size:12.5px;cursor:pointer;padding:2px 6px;outline-offset:2px;
transition:transform .08s ease,box-shadow .08s ease}
td.cell small{display:block;font-weight:500;font-size:11px;opacity:.92}
td.cell:hover,td.cell:focus{transform:scale(1.06);box-shadow:0 2px 8px rgba(0,0,0,.28);outline:none}
td.cell.pinned{box-shadow:0 0 0 3px #0d1b2a;transform:scale(1.06)}
td.empty{background:#eef1f4;color:#a3adb8;border-radius:7px;min-width:84px;height:52px;text-align:center}
.c-unmeasured{background-image:repeating-linear-gradient(45deg,rgba(255,255,255,.35) 0 6px,transparent 6px 12px)}
"""
    + _cell_rules()
    + """
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin-top:12px;font-size:12px;color:var(--muted)}
.legend .sw{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-2px;margin-right:5px}
.chip{display:inline-block;border-radius:999px;padding:1px 9px;font-size:11.5px;font-weight:700;white-space:nowrap}
aside.detail{position:sticky;top:12px}
aside.detail .card{margin-bottom:0}
#detail-body .title{font-weight:650;font-size:14px;margin:2px 0 8px;word-break:break-word}
#detail-body .reason{margin:8px 0;padding:8px 10px;background:#f6f8fa;border-left:4px solid var(--line);border-radius:4px}
#detail-body .reason.r-bad{border-left-color:var(--nogo)}
#detail-body .reason.r-good{border-left-color:var(--go)}
dl.kv{display:grid;grid-template-columns:auto 1fr;gap:3px 12px;margin:8px 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-word}
table.samples,table.stats,table.plain{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0}
table.samples th,table.stats th,table.plain th{text-align:left;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:3px 6px}
table.samples td,table.stats td,table.plain td{border-bottom:1px solid #eef1f4;padding:3px 6px;vertical-align:top}
table.stats th,table.stats td{padding:3px 3px;font-size:12px}
.bar{height:8px;border-radius:4px;background:#1a9850;min-width:2px}
.bar.miss{background:#d73027}
.fix{background:#ddf4ff;border-radius:6px;padding:8px 10px;margin:8px 0}
.slot{color:var(--muted);font-style:italic}
ol.failing{margin:0;padding-left:22px}
ol.failing li{margin:0 0 12px}
ol.failing .line{font-weight:600}
ol.failing .why,ol.failing .fixl,ol.failing .meta{margin-top:2px}
ol.failing .fixl{color:#0a3069}
ol.failing .meta{color:var(--muted);font-size:12px}
.paths{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:14px}
.path{border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.path h3,.nicc h3{margin:0 0 2px;font-size:14px}
.ok{color:var(--go);font-weight:700}.bad{color:var(--nogo);font-weight:700}
.nics{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:14px}
.nicc{border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.nicc ul{list-style:none;margin:4px 0 8px;padding:0}
.nicc li{margin:3px 0}
.caps span{display:inline-block;border-radius:4px;padding:0 6px;margin:1px 2px;font-size:11.5px;background:#eef1f4;color:var(--muted)}
.caps span.on{background:#dafbe1;color:#116329}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:10px}
@media print{aside.detail{display:none}.grid{grid-template-columns:1fr}td.cell{transition:none}}
"""
)

JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("nc-data").textContent);
  var cells = data.cells;
  var body = document.getElementById("detail-body");
  var pinned = null;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    return n;
  }
  function ms(x) {
    if (x === null || x === undefined) { return "\\u2014"; }
    if (x < 1) { return x.toFixed(3) + " ms"; }
    if (x < 100) { return x.toFixed(1) + " ms"; }
    return x.toFixed(0) + " ms";
  }
  function num(x) {
    if (x === null || x === undefined) { return "\u2014"; }
    return x < 1 ? x.toFixed(3) : (x < 100 ? x.toFixed(1) : x.toFixed(0));
  }
  function kv(dl, key, value) {
    dl.appendChild(el("dt", null, key));
    var dd = el("dd");
    if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = String(value); }
    dl.appendChild(dd);
  }
  function cellNode(i) { return document.getElementById("cell-" + i); }
  // a doc reference (public URLs, as the JSON carries them): each page a link
  function docNode(text) {
    var base = "https://learn.microsoft.com/azure/site-recovery/", span = el("span");
    var parts = String(text).split(base);
    span.appendChild(document.createTextNode(parts[0]));
    for (var k = 1; k < parts.length; k++) {
      var n = 0;
      while (n < parts[k].length && "abcdefghijklmnopqrstuvwxyz0123456789#-".indexOf(parts[k][n]) >= 0) { n++; }
      var a = el("a", null, parts[k].slice(0, n));
      a.href = base + parts[k].slice(0, n);
      a.rel = "noopener";
      span.appendChild(a);
      span.appendChild(document.createTextNode(parts[k].slice(n)));
    }
    return span;
  }

  function render(i) {
    var c = cells[i];
    var td = cellNode(i);
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var head = el("div", "title");
    head.textContent = c.source_host + "/" + c.source_nic + " " + c.source_address +
      " \\u2192 " + c.dest_host + "/" + c.dest_nic + " " + c.dest_address + "  " +
      c.proto + "/" + c.port;
    body.appendChild(head);
    var chip = el("span", "chip " + (td ? td.getAttribute("data-class") : ""),
      td ? td.getAttribute("data-label") : c.verdict);
    body.appendChild(chip);
    body.appendChild(el("span", c.passed ? "ok" : "bad", c.passed ? "  passes" : "  fails"));
    if (c.reason) { body.appendChild(el("div", "reason " + (c.passed ? "r-good" : "r-bad"), c.reason)); }
    if (c.hint) {
      var fix = el("div", "fix");
      fix.appendChild(el("strong", null, "Fix: "));
      fix.appendChild(document.createTextNode(c.hint));
      body.appendChild(fix);
    }
    var dl = el("dl", "kv");
    kv(dl, "expect", c.expect + (c.path ? " across " + c.path : " (within a site)"));
    kv(dl, "rules", c.rule_ids.join(", ") + " (" + c.evidence + ")");
    if (c.flows.length) { kv(dl, "flows", c.flows.join(", ")); }
    if (c.port !== c.documented_port) { kv(dl, "port", c.port + " (documented " + c.documented_port + ")"); }
    kv(dl, "doc", docNode(c.doc));
    if (c.error_codes.length) { kv(dl, "ASR errors", c.error_codes.join(", ")); }
    kv(dl, "status", c.status);
    kv(dl, "loss", c.sent ? (c.loss_pct.toFixed(0) + "% (" + c.answered + " of " + c.sent + " answered)") : "\\u2014");
    kv(dl, "RTT source", c.rtt_source || "\\u2014");
    kv(dl, "hops", el("span", "slot", "not measured in this sweep"));
    body.appendChild(dl);

    if (c.rtt_ms) {
      body.appendChild(el("div", "hint", "RTT of the answered attempts, ms"));
      var st = el("table", "stats");
      var hr = el("tr"), vr = el("tr");
      ["min", "p50", "p95", "p99", "max", "jitter"].forEach(function (k) {
        hr.appendChild(el("th", null, k));
        vr.appendChild(el("td", "mono", num(c.rtt_ms[k])));
      });
      st.appendChild(hr); st.appendChild(vr);
      body.appendChild(st);
    }
    if (c.samples.length) {
      var top = 0;
      c.samples.forEach(function (s) { if (s.rtt_us && s.rtt_us > top) { top = s.rtt_us; } });
      var t = el("table", "samples");
      var h = el("tr");
      ["#", "outcome", "RTT", "", "detail"].forEach(function (k) { h.appendChild(el("th", null, k)); });
      t.appendChild(h);
      c.samples.forEach(function (s, k) {
        var r = el("tr");
        r.appendChild(el("td", "mono", k + 1));
        r.appendChild(el("td", null, s.outcome + (s.proven ? " \\u2713" : "")));
        r.appendChild(el("td", "mono", s.rtt_us === null ? "\\u2014" : ms(s.rtt_us / 1000)));
        var bc = el("td");
        var bar = el("div", "bar" + (s.outcome === "open" ? "" : " miss"));
        var w = s.rtt_us && top ? Math.max(4, Math.round(70 * s.rtt_us / top)) : 70;
        bar.style.width = w + "px";
        bc.appendChild(bar);
        r.appendChild(bc);
        var det = [];
        if (s.errno) { det.push("errno " + s.errno); }
        if (s.detail) { det.push(s.detail); }
        if (s.rtt_source) { det.push(s.rtt_source); }
        r.appendChild(el("td", "hint", det.join(" \\u00b7 ")));
        t.appendChild(r);
      });
      body.appendChild(t);
      body.appendChild(el("div", "hint", "\\u2713 = netcheck's responder answered the per-sweep challenge"));
    } else {
      body.appendChild(el("div", "slot", "no attempt was made: " + (c.reason || c.status)));
    }
  }

  function pin(i, scroll) {
    if (pinned !== null && cellNode(pinned)) { cellNode(pinned).classList.remove("pinned"); }
    pinned = i;
    var td = cellNode(i);
    if (td) {
      td.classList.add("pinned");
      if (scroll) { td.scrollIntoView({block: "center", behavior: "smooth"}); }
    }
    render(i);
  }

  Array.prototype.forEach.call(document.querySelectorAll("td.cell"), function (td) {
    var i = parseInt(td.getAttribute("data-cell"), 10);
    td.addEventListener("mouseenter", function () { render(i); });
    td.addEventListener("mouseleave", function () { if (pinned !== null) { render(pinned); } });
    td.addEventListener("click", function () { pin(i, false); });
    td.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pin(i, false); }
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-goto]"), function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      pin(parseInt(a.getAttribute("data-goto"), 10), true);
    });
  });

  var first = 0;
  for (var k = 0; k < cells.length; k++) { if (!cells[k].passed) { first = k; break; } }
  if (cells.length) { pin(first, false); }
  document.documentElement.setAttribute("data-js", "ready");
})();
"""
