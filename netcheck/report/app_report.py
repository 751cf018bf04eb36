"""The application probes' findings in the reports: terminal lines and the JSON object.

Each TLS / DNS / NTP / Azure endpoint cell carries an `AppVerdict` (see
`netcheck.appverdict`); the terminal report lists them beside the matrix under
"Application checks", the JSON report puts them in `cells[].app`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netcheck.appverdict import AppVerdict
from netcheck.catalog.docrefs import public_doc
from netcheck.result.cells import CellResult
from netcheck.stats import CellVerdict

__all__ = ["app_lines", "app_summary", "app_to_dict", "cell_word"]

_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def cell_word(app: AppVerdict, passed: bool) -> str:
    """The matrix cell of an application cell: 'ok TLS1.3 364d', 'SKEW +20m00s'."""
    if app.failed or not passed:
        return app.summary
    return f"ok {app.summary}"


def app_summary(rows: Sequence[tuple[CellResult, CellVerdict]]) -> str:
    """One line: 'application checks: 4 (3 ok, 1 warn)' ('' when the sweep has none)."""
    levels = [v.app.level for _, v in rows if v.app is not None]
    if not levels:
        return ""
    counts = ", ".join(f"{levels.count(k)} {k}" for k in ("fail", "warn", "ok") if k in levels)
    return f"application checks (TLS, DNS, NTP, Azure endpoints): {len(levels)} ({counts})"


def app_lines(rows: Sequence[tuple[CellResult, CellVerdict]]) -> list[str]:
    """One line per application cell: what the handshake / answer showed."""
    out: list[str] = []
    for r, v in rows:
        if v.app is None:
            continue
        s = r.spec
        if not out:
            out += ["", "Application checks (TLS, DNS, NTP, Azure endpoints):"]
        target = f"{s.dest_host}:{s.port}" if s.is_endpoint else f"{s.dest_host}:{s.proto}/{s.port}"
        out.append(
            f"  {_MARK.get(v.app.level, v.app.level)} {s.source_host} → {target}  {v.app.reason}"
        )
        if v.app.level == "warn" and v.app.hint:
            out.append(f"       fix: {v.app.hint}")
    return out


def app_to_dict(app: AppVerdict | None) -> dict[str, Any] | None:
    if app is None:
        return None
    return {
        "kind": app.kind,
        "state": app.state,
        "level": app.level,
        "summary": app.summary,
        "reason": app.reason,
        "hint": app.hint,
        "doc": public_doc(app.doc),
        "error_codes": list(app.error_codes),
        "facts": dict(app.facts),
    }
