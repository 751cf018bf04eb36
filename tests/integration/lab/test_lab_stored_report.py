"""A lab sweep with every part — bandwidth, dual-NIC, readiness, diagnostics — stored and
re-rendered: `netcheck report ID --format json` is the live JSON, byte for byte.

The coordinator runs in the lab's management namespace over SSH, like the other lab
sweeps; the database is the test's own. Every packet stays inside lab namespaces.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from netcheck.lab import Lab, LabState, lab_exec
from tests.integration.lab.test_lab_sweep import SWEEP_TIMEOUT_S, sweep_argv, variant

pytestmark = pytest.mark.lab


def with_every_part(doc: dict[str, Any]) -> None:
    # a short throughput test over the shaped VPN, and the master target's inventory
    doc["bandwidth"] = [{"from": "ps-azure", "to": "mt01", "duration_s": 1, "streams": 2}]
    doc["hosts"]["mt01"]["inventory"] = {"disks": 2, "snapshots": False}


def test_a_stored_lab_sweep_reports_exactly_what_the_live_sweep_printed(
    lab: Lab, lab_state: LabState, tmp_path: Path
) -> None:
    topology = variant(tmp_path, "every-part", with_every_part)
    db = tmp_path / "sweeps.db"
    argv = sweep_argv(lab_state, topology, None, "--db", str(db))
    live = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=SWEEP_TIMEOUT_S + 60)
    assert live.returncode in (0, 1), live.stderr[-2000:]
    doc = json.loads(live.stdout)
    # every part is there to be kept: not a trivially equal empty report
    assert doc["bandwidth"] and doc["readiness"] and doc["diagnostics"]["paths"]
    assert doc["nics"], "the dual-NIC configuration server's section"
    stored = lab_exec(
        lab,
        "mgmt",
        [sys.executable, "-m", "netcheck", "report", "last", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stored.returncode == live.returncode, stored.stderr[-2000:]
    assert stored.stdout == live.stdout
