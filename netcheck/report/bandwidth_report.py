"""Bandwidth tests in the reports: a table per path and direction, and their JSON.

Used by the sweep reports (terminal and JSON, `bandwidth` key of schema
`netcheck.sweep`) and by `netcheck bandwidth` (schema `netcheck.bandwidth`);
docs/report-json.md documents every field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from netcheck.bandwidth.model import BandwidthOutcome
from netcheck.bandwidth.verdict import BandwidthVerdict
from netcheck.topology.model import Topology

__all__ = [
    "BANDWIDTH_SCHEMA",
    "bandwidth_lines",
    "bandwidth_summary",
    "outcome_to_dict",
    "render_bandwidth_json",
    "render_bandwidth_table",
]

BANDWIDTH_SCHEMA = "netcheck.bandwidth"
Pair = tuple[BandwidthOutcome, BandwidthVerdict]


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def outcome_to_dict(o: BandwidthOutcome, v: BandwidthVerdict) -> dict[str, Any]:
    c = o.check
    d = v.demand
    return {
        "from": c.source,
        "to": c.dest,
        "reverse": c.reverse,
        "sender": o.sender,
        "receiver": o.receiver,
        "path": o.path,
        "source_address": o.source_address,
        "dest_address": o.dest_address,
        "port": o.port,
        "duration_s": c.duration_s,
        "streams_requested": c.streams,
        "streams": o.streams,
        "status": o.status.value,
        "reason": o.reason,
        "bytes": o.bytes,
        "seconds": _r(o.seconds, 6),
        "mbps": _r(o.mbps),
        "retransmits": o.retransmits,
        "figure_source": o.figure_source,
        "passed": v.passed,
        "verdict_reason": v.reason,
        "min_mbps": v.min_mbps,
        "min_ok": v.min_ok,
        "needed_mbps": _r(v.needed_mbps),
        "headroom_mbps": _r(v.headroom_mbps),
        "rpo_ok": v.rpo_ok,
        "churn": None
        if d is None
        else {
            "hosts": list(d.hosts),
            "gb_per_day": d.gb_per_day,
            "peak_mb_per_s": d.peak_mb_per_s,
            "rpo_min": d.rpo_min,
            "average_mbps": _r(d.average_mbps),
            "sustained_mbps": _r(d.sustained_mbps),
            "peak_needed_mbps": _r(d.peak_needed_mbps),
            "needed_mbps": _r(d.needed_mbps),
        },
        "notes": list(v.notes),
        "endpoint": None
        if o.endpoint is None
        else {
            "bytes": o.endpoint.bytes,
            "seconds": o.endpoint.seconds,
            "connections": o.endpoint.connections,
            "rejected": o.endpoint.rejected,
            "reason": o.endpoint.reason,
            "retransmits": o.endpoint.retransmits,
        },
        "intervals": [
            {
                "t": _r(s.t, 6),
                "seconds": _r(s.seconds, 6),
                "bytes": s.bytes,
                "mbps": _r(s.mbps),
                "retrans": s.retrans,
            }
            for s in o.intervals
        ],
    }


def _mbit(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    text = f"{x:+.1f}" if signed else f"{x:.1f}"
    return text if abs(x) >= 0.1 or x == 0 else (f"{x:+.3f}" if signed else f"{x:.3f}")


def _cell(o: BandwidthOutcome, v: BandwidthVerdict) -> str:
    if v.measured_mbps is None:
        return o.status.value.upper().replace("_", "-")
    if v.passed:
        return "ok"
    if not o.completed:
        return "PARTIAL"
    if v.rpo_ok is False:
        return "RPO-SHORT"
    return "SLOW"


def bandwidth_summary(pairs: Sequence[Pair]) -> str:
    """One line: 'bandwidth: cs01 → ps-azure 94.1 Mbit/s ok; ...' ('' without tests)."""
    return (
        "bandwidth: "
        + "; ".join(
            f"{o.sender} → {o.receiver}{' (rev)' if o.check.reverse else ''}"
            + (" not measured" if v.measured_mbps is None else f" {_mbit(v.measured_mbps)} Mbit/s")
            + (" ok" if v.passed else " FAIL")
            for o, v in pairs
        )
        if pairs
        else ""
    )


def bandwidth_lines(pairs: Sequence[Pair]) -> list[str]:
    """The terminal section: one row per test (path, data direction), then the why/notes."""
    if not pairs:
        return []
    rows = []
    for o, v in pairs:
        rows.append(
            [
                o.path or "-",
                f"{o.sender} → {o.receiver}" + (" (rev)" if o.check.reverse else ""),
                f"{o.streams}/{o.check.streams}",
                f"{o.seconds:.1f}s" if o.seconds else "-",
                _mbit(v.measured_mbps),
                "-" if o.retransmits is None else str(o.retransmits),
                _mbit(v.min_mbps),
                _mbit(v.needed_mbps),
                _mbit(v.headroom_mbps, signed=True),
                _cell(o, v),
            ]
        )
    out = [
        "",
        "Bandwidth (Mbit/s; RPO = the rate the declared churn needs for the failback policy's "
        "RPO):",
        str(
            tabulate(
                rows,
                headers=[
                    "path",
                    "data",
                    "streams",
                    "time",
                    "measured",
                    "retrans",
                    "min",
                    "RPO needs",
                    "headroom",
                    "verdict",
                ],
                tablefmt="simple",
                disable_numparse=True,
            )
        ),
    ]
    for o, v in pairs:
        label = f"{o.sender} → {o.receiver}"
        if not v.passed:
            out.append(f"  {label}: {v.reason}")
        d = v.demand
        if d is not None:
            peak = f", peak {d.peak_mb_per_s:g} MB/s" if d.peak_mb_per_s is not None else ""
            out.append(
                f"  {label}: churn of {', '.join(d.hosts)}: {d.gb_per_day:g} GB/day{peak} → "
                f"needs max({d.average_mbps:.1f} × 1.5, peak-hour "
                f"{_mbit(d.peak_needed_mbps)}) = {d.needed_mbps:.1f} Mbit/s "
                f"for a {d.rpo_min:g}-min RPO"
            )
        for note in v.notes:
            out.append(f"  {label}: note: {note}")
    return out


def render_bandwidth_table(topo: Topology, pairs: Sequence[Pair]) -> str:
    passed = sum(1 for _, v in pairs if v.passed)
    verdict = "GO" if pairs and passed == len(pairs) else "NO-GO"
    lines = [
        f"netcheck bandwidth of {topo.name!r} ({topo.source})",
        f"{verdict}: {passed} of {len(pairs)} bandwidth tests pass",
        *bandwidth_lines(pairs),
    ]
    return "\n".join(lines).rstrip() + "\n"


def render_bandwidth_json(topo: Topology, pairs: Sequence[Pair], started_at: float) -> str:
    doc = {
        "schema": BANDWIDTH_SCHEMA,
        "schema_version": 1,
        "topology": {"name": topo.name, "file": topo.source},
        "started_at": dt.datetime.fromtimestamp(started_at, tz=dt.timezone.utc).isoformat(
            timespec="milliseconds"
        ),
        "verdict": "go" if pairs and all(v.passed for _, v in pairs) else "no-go",
        "tests": [outcome_to_dict(o, v) for o, v in pairs],
    }
    return json.dumps(doc, indent=2) + "\n"
