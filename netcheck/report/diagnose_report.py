"""Path diagnostics in the reports: terminal lines and the JSON `diagnostics` object.

Pure renderers over `netcheck.diagnose` values; the JSON shape is documented in
docs/report-json.md (a test keeps the two in sync).
"""

from __future__ import annotations

from typing import Any

from netcheck.diagnose.model import (
    Breakpoint,
    CellDiagnosis,
    Diagnostics,
    Finding,
    FindingLevel,
    Hop,
    Measurement,
    Method,
    PathCheck,
    PathDirection,
)
from netcheck.diagnose.verdict import gateway_label
from netcheck.stats import percentile
from netcheck.topology.model import Topology

__all__ = [
    "diagnostics_from_dict",
    "diagnostics_lines",
    "diagnostics_to_dict",
    "measurement_from_dict",
    "measurement_to_dict",
    "missing_capabilities",
    "path_figures",
    "paths_summary",
]


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def hop_to_dict(h: Hop) -> dict[str, Any]:
    return {
        "ttl": h.ttl,
        "reply": h.reply,
        "address": h.address,
        "rtt_ms": _r(h.rtt_ms),
        "icmp": h.icmp,
        "icmp_type": h.icmp_type,
        "icmp_code": h.icmp_code,
        "mtu": h.mtu,
        "size": h.size,
    }


def measurement_to_dict(m: Measurement | None) -> dict[str, Any] | None:
    if m is None:
        return None
    rtts = sorted(m.rtts_ms())
    return {
        "kind": m.kind,
        "source_host": m.source_host,
        "source_address": m.source_address,
        "dest_host": m.dest_host,
        "dest_address": m.dest_address,
        "proto": m.proto,
        "port": m.port,
        "method": m.method.value,
        "available": m.available,
        "detail": m.not_available or m.detail,
        "reached": m.reached,
        "sent": m.sent,
        "received": m.received,
        "loss_pct": _r(m.loss_pct) if m.kind == "echo" else None,
        "rtt_p50_ms": _r(percentile(rtts, 50)) if rtts and m.kind == "echo" else None,
        "rtt_max_ms": _r(rtts[-1]) if rtts and m.kind == "echo" else None,
        "pmtu": m.pmtu,
        "iface": m.iface,
        "iface_mtu": m.iface_mtu,
        "packets": m.packets,
        "elapsed_ms": m.elapsed_ms,
        "hops": [hop_to_dict(h) for h in m.hops],
    }


def _cell_to_dict(c: CellDiagnosis) -> dict[str, Any]:
    w = c.where
    return {
        "cell_id": c.cell_id,
        "message": w.message,
        "located": w.located,
        "reached": w.reached,
        "last_hop": None if w.last_hop is None else w.last_hop.address,
        "last_hop_label": w.last_label,
        "first_silent_ttl": w.first_silent_ttl,
        "next_expected": w.next_expected,
        "icmp": w.icmp,
        "trace": measurement_to_dict(c.trace),
    }


def _direction_to_dict(d: PathDirection) -> dict[str, Any]:
    return {
        "source_host": d.source_host,
        "dest_host": d.dest_host,
        "dest_address": d.dest_address,
        "taken": d.taken,
        "gateways_seen": list(d.gateways_seen),
        "trace": measurement_to_dict(d.trace),
        "echo": measurement_to_dict(d.echo),
        "pmtu": measurement_to_dict(d.pmtu),
    }


def _path_to_dict(p: PathCheck) -> dict[str, Any]:
    return {
        "path": p.path,
        "expected": p.expected,
        "passed": p.passed,
        "findings": [
            {"level": f.level.value, "code": f.code, "message": f.message} for f in p.findings
        ],
        "directions": [_direction_to_dict(d) for d in p.directions],
    }


def diagnostics_to_dict(d: Diagnostics) -> dict[str, Any]:
    return {
        "passed": d.passed,
        "notes": list(d.notes),
        "cells": [_cell_to_dict(c) for c in d.cells],
        "paths": [_path_to_dict(p) for p in d.paths],
    }


def path_figures(p: PathCheck) -> dict[str, str]:
    """Short measured figures of a path for the HTML card: mtu, hops, echo (or why not)."""
    out: dict[str, str] = {}
    mtus = [
        f"{d.pmtu.pmtu} ({d.source_host} → {d.dest_host}, {d.pmtu.method.value})"
        for d in p.directions
        if d.pmtu is not None
        and d.pmtu.available
        and d.pmtu.pmtu is not None
        and d.taken in (None, p.path)
    ]
    why = [
        d.pmtu.not_available for d in p.directions if d.pmtu is not None and not d.pmtu.available
    ]
    if mtus:
        out["mtu"] = "; ".join(mtus)
    elif why:
        out["mtu"] = why[0]
    hops = []
    for d in p.directions:
        if d.trace is None:
            continue
        if not d.trace.available:
            hops.append(d.trace.not_available)
        else:
            seen = ", ".join(d.gateways_seen) or "no declared gateway answered"
            taken = d.taken or "unidentified"
            hops.append(f"{d.source_host} → {d.dest_host}: {seen} (crosses {taken})")
    if hops:
        out["hops"] = "; ".join(hops)
    return out


def _direction_lines(topo: Topology, path: str, d: PathDirection) -> list[str]:
    out = [f"    {d.source_host} → {d.dest_host} {d.dest_address}:"]
    if d.trace is not None:
        if not d.trace.available:
            out.append("      route: not measured (the 'not measured on' line says why)")
        else:
            hops = " → ".join(
                (gateway_label(topo, h.address) if h.answered else "*") for h in d.trace.hops
            )
            taken = d.taken or "unidentified"
            out.append(f"      route ({d.trace.method.value}): {hops}  [crosses {taken}]")
    if d.echo is not None:
        e = d.echo
        if not e.available:
            out.append("      echo: not measured (the 'not measured on' line says why)")
        else:
            rtts = sorted(e.rtts_ms())
            rtt = f", median RTT {percentile(rtts, 50):.2f} ms" if rtts else ""
            out.append(
                f"      echo ({e.method.value}): {e.received}/{e.sent} replies, "
                f"loss {e.loss_pct or 0:.0f}%{rtt}"
            )
    if d.pmtu is not None:
        m = d.pmtu
        if not m.available:
            out.append("      path MTU: not measured (the 'not measured on' line says why)")
        else:
            iface = f"; {m.iface} MTU {m.iface_mtu}" if m.iface_mtu else ""
            found = str(m.pmtu) if m.pmtu is not None else f"unknown ({m.detail})"
            out.append(f"      path MTU ({m.method.value}): {found}{iface}")
    return out


_MARK = {
    FindingLevel.FAIL: "FAIL",
    FindingLevel.WARN: "WARN",
    FindingLevel.UNKNOWN: "N/A ",
    FindingLevel.INFO: "ok  ",
}


def diagnostics_lines(d: Diagnostics | None, topo: Topology) -> list[str]:
    """The terminal section: per declared path, what was measured and the findings."""
    if d is None:
        return []
    out: list[str] = []
    if d.paths:
        out += ["", "Paths (diagnostics):"]
        for p in d.paths:
            state = "ok" if p.passed else "FAILING"
            role = "expected path" if p.expected else "alternative path"
            out.append(f"  {p.path} ({role}): {state}")
            if p.expected:
                for direction in p.directions:
                    out += _direction_lines(topo, p.path, direction)
            for f in p.findings:
                out.append(f"    {_MARK[f.level]} {f.message}")
    for note in d.notes:
        out.append(f"  note: {note}")
    return out


def paths_summary(d: Diagnostics | None) -> str:
    """One line: 'paths: s2s-vpn ok (echo 0.09 ms, MTU 1500)' ('' without path checks)."""
    if d is None or not d.paths:
        return ""
    parts = []
    for p in d.paths:
        figures = []
        echo = p.best("echo")
        if echo is not None and echo.rtts_ms():
            loss = f" {echo.loss_pct:.0f}% loss" if echo.loss_pct else ""
            figures.append(f"echo {percentile(sorted(echo.rtts_ms()), 50):.2f} ms{loss}")
        pmtu = p.best("pmtu")
        if pmtu is not None and pmtu.pmtu is not None:
            figures.append(f"MTU {pmtu.pmtu}")
        for level, word in ((FindingLevel.WARN, "warning"), (FindingLevel.UNKNOWN, "unknown")):
            n = sum(1 for f in p.findings if f.level is level)
            if n:
                figures.append(f"{n} {word}" + ("" if n == 1 or word == "unknown" else "s"))
        state = "ok" if p.passed else "FAILING"
        parts.append(f"{p.path} {state}" + (f" ({', '.join(figures)})" if figures else ""))
    return "paths: " + "; ".join(parts)


_KIND_WORD = {"traceroute": "route", "echo": "echo", "pmtu": "path MTU", "syn": "SYN probe"}

# what makes a missing measurement possible, by the agent's own words for its absence
_ENABLE = (
    (
        "scapy is not installed",
        "install scapy for the agent's Python (apt install python3-scapy for a host's "
        "python3; pip install 'netcheck[raw]' where netcheck itself runs)",
    ),
    ("no raw sockets", "run the agent as root (or give its Python CAP_NET_RAW)"),
    (
        "ping_group_range",
        "allow unprivileged ICMP echo (sysctl -w net.ipv4.ping_group_range='0 2147483647')",
    ),
)


def missing_capabilities(d: Diagnostics | None) -> list[str]:
    """Each host that could not measure something, once: what, why, and what would enable it."""
    if d is None:
        return []
    by_host: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    measurements: list[Measurement | None] = [c.trace for c in d.cells]
    measurements += [m for p in d.paths for x in p.directions for m in (x.trace, x.echo, x.pmtu)]
    for m in measurements:
        if m is None or m.available:
            continue
        kinds, reasons = by_host.setdefault(m.source_host, ({}, {}))
        kinds[_KIND_WORD.get(m.kind, m.kind)] = None
        for reason in (m.detail or "no reason given").split("; "):
            reasons[reason] = None
    out = []
    for host, (kinds, reasons) in by_host.items():
        why = "; ".join(reasons)
        enable = [hint for key, hint in _ENABLE if key in why]
        out.append(
            f"not measured on {host}: {', '.join(kinds)}: {why}"
            + (f"; to enable: {', or '.join(enable)}" if enable else "")
        )
    return out


# --- back from JSON (the sweep store keeps the diagnostics as this document) -------------


def _hop_from(d: dict[str, Any]) -> Hop:
    return Hop(
        ttl=int(d["ttl"]),
        reply=str(d["reply"]),
        address=d["address"],
        rtt_ms=d["rtt_ms"],
        icmp=str(d["icmp"]),
        icmp_type=d["icmp_type"],
        icmp_code=d["icmp_code"],
        mtu=d["mtu"],
        size=d["size"],
    )


def measurement_from_dict(d: dict[str, Any] | None) -> Measurement | None:
    if d is None:
        return None
    method = Method(d["method"])
    detail = str(d["detail"])
    prefix = f"{d['kind']} not available on {d['source_host']}: "
    if method is Method.UNAVAILABLE and detail.startswith(prefix):
        detail = detail[len(prefix) :]  # stored as shown; the value keeps the bare reason
    return Measurement(
        kind=str(d["kind"]),
        source_host=str(d["source_host"]),
        source_address=d["source_address"],
        dest_host=str(d["dest_host"]),
        dest_address=str(d["dest_address"]),
        proto=str(d["proto"]),
        port=int(d["port"]),
        method=method,
        detail=detail,
        hops=tuple(_hop_from(h) for h in d["hops"]),
        reached=d["reached"],
        sent=int(d["sent"]),
        received=int(d["received"]),
        pmtu=d["pmtu"],
        iface=d["iface"],
        iface_mtu=d["iface_mtu"],
        packets=int(d["packets"]),
        elapsed_ms=int(d["elapsed_ms"]),
    )


def diagnostics_from_dict(d: dict[str, Any]) -> Diagnostics:
    """The `diagnostics` object of the JSON report back as values (for stored sweeps)."""
    cells = []
    for c in d["cells"]:
        trace = measurement_from_dict(c["trace"])
        if trace is None:
            raise ValueError(f"diagnostics cell {c['cell_id']} has no trace")
        last = None
        if c["last_hop"] is not None:
            last = next(
                (h for h in reversed(trace.hops) if h.answered and h.address == c["last_hop"]),
                None,
            )
        where = Breakpoint(
            located=bool(c["located"]),
            message=str(c["message"]),
            last_hop=last,
            last_label=str(c["last_hop_label"]),
            first_silent_ttl=c["first_silent_ttl"],
            next_expected=str(c["next_expected"]),
            icmp=str(c["icmp"]),
            reached=bool(c["reached"]),
        )
        cells.append(CellDiagnosis(str(c["cell_id"]), trace, where))
    paths = tuple(
        PathCheck(
            path=str(p["path"]),
            expected=bool(p["expected"]),
            directions=tuple(
                PathDirection(
                    source_host=str(x["source_host"]),
                    dest_host=str(x["dest_host"]),
                    dest_address=str(x["dest_address"]),
                    trace=measurement_from_dict(x["trace"]),
                    echo=measurement_from_dict(x["echo"]),
                    pmtu=measurement_from_dict(x["pmtu"]),
                    taken=x["taken"],
                    gateways_seen=tuple(x["gateways_seen"]),
                )
                for x in p["directions"]
            ),
            findings=tuple(
                Finding(FindingLevel(f["level"]), str(f["code"]), str(f["message"]))
                for f in p["findings"]
            ),
        )
        for p in d["paths"]
    )
    return Diagnostics(tuple(cells), paths, tuple(str(n) for n in d["notes"]))
