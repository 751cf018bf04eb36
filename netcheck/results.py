"""Compatibility: the cell-level values moved to `netcheck.result.cells`; import from there."""

from netcheck.result.cells import (
    AgentInfo,
    CellResult,
    CellStatus,
    FactValue,
    Outcome,
    Sample,
)

__all__ = ["AgentInfo", "CellResult", "CellStatus", "FactValue", "Outcome", "Sample"]
