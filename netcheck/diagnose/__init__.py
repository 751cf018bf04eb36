"""Where and why a path breaks: traces of failing cells, path checks (RTT, loss, PMTU, path taken)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from netcheck.diagnose.verdict import gateway_label, identify_path, judge_path, locate_break

if TYPE_CHECKING:
    from netcheck.diagnose.run import DiagnoseSettings, measurement_from, run_diagnostics

__all__ = [
    "Breakpoint",
    "CellDiagnosis",
    "DiagnoseSettings",
    "Diagnostics",
    "Finding",
    "FindingLevel",
    "Hop",
    "Measurement",
    "Method",
    "PathCheck",
    "PathDirection",
    "gateway_label",
    "identify_path",
    "judge_path",
    "locate_break",
    "measurement_from",
    "run_diagnostics",
]


def __getattr__(name: str) -> Any:
    """The runner (I/O, the agent client) loads when asked for, not with the values:
    reports and the result model import `netcheck.diagnose.model` without it."""
    if name in ("DiagnoseSettings", "measurement_from", "run_diagnostics"):
        from netcheck.diagnose import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
