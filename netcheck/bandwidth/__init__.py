"""Bandwidth sanity checks: agent-to-agent TCP throughput and the RPO verdict.

- `model` — what a test measured (`BandwidthOutcome`), pure values;
- `verdict` — measured vs the path's `min_mbps` and vs the rate declared churn
  needs for the failback policy's 15-minute RPO (pure; the formula is there);
- `run` — the protocol flow between two agents, serialized per path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netcheck.bandwidth.model import (
    BandwidthOutcome,
    BandwidthSample,
    BandwidthStatus,
    EndpointReport,
)
from netcheck.bandwidth.verdict import BandwidthVerdict, ChurnDemand, judge_bandwidth

if TYPE_CHECKING:
    from netcheck.bandwidth.run import run_bandwidth_check, run_bandwidth_checks

__all__ = [
    "BandwidthOutcome",
    "BandwidthSample",
    "BandwidthStatus",
    "BandwidthVerdict",
    "ChurnDemand",
    "EndpointReport",
    "judge_bandwidth",
    "run_bandwidth_check",
    "run_bandwidth_checks",
]


def __getattr__(name: str) -> Any:
    """The runner (I/O, the agent client) loads when asked for, not with the values:
    reports and the result model import `netcheck.bandwidth.model` without it."""
    if name in ("run_bandwidth_check", "run_bandwidth_checks"):
        from netcheck.bandwidth import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
