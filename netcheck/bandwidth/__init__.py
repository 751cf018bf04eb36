"""Bandwidth sanity checks: agent-to-agent TCP throughput and the RPO verdict.

- `model` — what a test measured (`BandwidthOutcome`), pure values;
- `verdict` — measured vs the path's `min_mbps` and vs the rate declared churn
  needs for the failback policy's 15-minute RPO (pure; the formula is there);
- `run` — the protocol flow between two agents, serialized per path.
"""

from __future__ import annotations

from netcheck.bandwidth.model import (
    BandwidthOutcome,
    BandwidthSample,
    BandwidthStatus,
    EndpointReport,
)
from netcheck.bandwidth.run import run_bandwidth_check, run_bandwidth_checks
from netcheck.bandwidth.verdict import BandwidthVerdict, ChurnDemand, judge_bandwidth

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
