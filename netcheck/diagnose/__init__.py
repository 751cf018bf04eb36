"""Where and why a path breaks: traces of failing cells, path checks (RTT, loss, PMTU, path taken)."""

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
from netcheck.diagnose.run import DiagnoseSettings, measurement_from, run_diagnostics
from netcheck.diagnose.verdict import gateway_label, identify_path, judge_path, locate_break

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
