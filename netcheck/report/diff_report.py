"""`netcheck diff` output: a table for people, JSON for scripts. Pure."""

from __future__ import annotations

import json
from typing import Any

from tabulate import tabulate

from netcheck.diff import CellChange, CellSide, Change, SweepDiff

__all__ = ["diff_to_dict", "render_diff_json", "render_diff_table"]

_TITLES = (
    (Change.REGRESSED, "Regressed (passed, now fails)"),
    (Change.NEW, "New cells"),
    (Change.FIXED, "Fixed (failed, now passes)"),
    (Change.VERDICT, "Other verdict, same pass/fail"),
    (Change.RTT_UP, "Median RTT up"),
    (Change.RTT_DOWN, "Median RTT down"),
    (Change.VANISHED, "Vanished cells"),
)


def _side_text(side: CellSide | None) -> str:
    if side is None:
        return "-"
    word = "pass" if side.passed else "FAIL"
    rtt = f" {side.rtt_p50_ms:.2f}ms" if side.rtt_p50_ms is not None else ""
    return f"{side.verdict}{rtt} ({word})"


def _row(c: CellChange) -> list[str]:
    delta = c.rtt_delta_ms
    return [
        c.source_host,
        c.dest_host,
        f"{c.proto}/{c.port}",
        _side_text(c.a),
        _side_text(c.b),
        "" if delta is None else f"{delta:+.2f}ms",
        c.rule_id,
    ]


def _verdict(go: bool) -> str:
    return "GO" if go else "NO-GO"


def render_diff_table(d: SweepDiff) -> str:
    lines = [
        f"diff {d.a_id} ({d.a_topology}, {_verdict(d.a_go)}) → {d.b_id} ({d.b_topology}, "
        f"{_verdict(d.b_go)}); RTT threshold {d.rtt_threshold_ms:g} ms",
    ]
    worse = sum(1 for c in d.cells if c.worse)
    if not d.cells and not d.hosts:
        lines.append(f"No change: {d.unchanged} cells as before.")
        return "\n".join(lines) + "\n"
    summary = ", ".join(f"{len(d.of(ch))} {ch.value}" for ch, _ in _TITLES if d.of(ch))
    lines.append(
        ("WORSE" if worse else "NOT WORSE") + f": {summary}; {d.unchanged} cells unchanged"
    )
    for h in d.hosts:
        lines.append(f"host {h.change.value}: {h.host}")
    headers = ["from", "to", "port", "before", "after", "Δ rtt", "rule"]
    for change, title in _TITLES:
        cells = d.of(change)
        if not cells:
            continue
        lines += ["", f"{title} ({len(cells)}):"]
        lines.append(
            tabulate(
                [_row(c) for c in cells], headers=headers, tablefmt="simple", disable_numparse=True
            )
        )
        if change in (Change.REGRESSED, Change.NEW):
            for c in cells:
                if c.b is not None and not c.b.passed and c.b.reason:
                    lines.append(f"  {c.cell_id}: {c.b.reason}")
    return "\n".join(lines) + "\n"


def _side_dict(side: CellSide | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {
        "verdict": side.verdict,
        "passed": side.passed,
        "rtt_p50_ms": None if side.rtt_p50_ms is None else round(side.rtt_p50_ms, 3),
        "loss_pct": round(side.loss_pct, 3),
        "reason": side.reason,
    }


def diff_to_dict(d: SweepDiff) -> dict[str, Any]:
    return {
        "schema": "netcheck.diff",
        "schema_version": 1,
        "a": {"sweep_id": d.a_id, "topology": d.a_topology, "verdict": "go" if d.a_go else "no-go"},
        "b": {"sweep_id": d.b_id, "topology": d.b_topology, "verdict": "go" if d.b_go else "no-go"},
        "rtt_threshold_ms": d.rtt_threshold_ms,
        "worse": d.worse,
        "unchanged": d.unchanged,
        "hosts": [{"host": h.host, "change": h.change.value} for h in d.hosts],
        "cells": [
            {
                "cell_id": c.cell_id,
                "change": c.change.value,
                "worse": c.worse,
                "source_host": c.source_host,
                "dest_host": c.dest_host,
                "proto": c.proto,
                "port": c.port,
                "rule_id": c.rule_id,
                "rtt_delta_ms": None if c.rtt_delta_ms is None else round(c.rtt_delta_ms, 3),
                "a": _side_dict(c.a),
                "b": _side_dict(c.b),
            }
            for c in d.cells
        ],
    }


def render_diff_json(d: SweepDiff) -> str:
    return json.dumps(diff_to_dict(d), indent=2) + "\n"
