"""Troubleshooting the dual-NIC configuration server (issue 6).

`cells` picks the per-NIC cells (pure), `checks` turns what the host's agent read
into findings (pure), `run` is the I/O the sweep drives (NIC facts, capture, ARP).
"""

from __future__ import annotations

from netcheck.nic.cells import multi_nic_hosts, per_nic_cells
from netcheck.nic.checks import analyse, live_overlaps, topology_overlaps
from netcheck.nic.model import (
    DOC,
    HostNicReport,
    NicCellResult,
    NicFinding,
    NicInfo,
    NicVerdict,
    PerNicCell,
)

__all__ = [
    "DOC",
    "HostNicReport",
    "NicCellResult",
    "NicFinding",
    "NicInfo",
    "NicVerdict",
    "PerNicCell",
    "analyse",
    "live_overlaps",
    "multi_nic_hosts",
    "per_nic_cells",
    "topology_overlaps",
]
