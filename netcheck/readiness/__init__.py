"""Failback readiness: the non-network prerequisites of the failback document, checked.

Pure checks over the topology's inventory (`netcheck.topology.inventory`) and, where
an agent runs on a master target, the facts it reads live (`live.py`, the only I/O).
See docs/readiness.md for every check, its verdicts and its documentation reference.
"""

from __future__ import annotations

from netcheck.readiness.evaluate import evaluate, has_inventory
from netcheck.readiness.model import Fact, Finding, LiveStatus, ReadinessResult, Source, Verdict

__all__ = [
    "Fact",
    "Finding",
    "LiveStatus",
    "ReadinessResult",
    "Source",
    "Verdict",
    "evaluate",
    "has_inventory",
]
