"""Filtered cells' timeouts overlap; when a limit makes attempts wait, the report says so.

The faults demo on a loopback range of its own: its silent ports are filtered cells,
each attempt holding its slot until the timeout. With one attempt in flight every
attempt after the first waits, and the JSON, the table and a stored copy of the sweep
all say how many; with the defaults nothing waits and nothing is said.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.private_demo import private_copy

ROOT = Path(__file__).resolve().parents[2]


def _netcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_a_limit_that_made_attempts_wait_is_reported_live_and_stored(tmp_path: Path) -> None:
    faults = private_copy("local-demo-faults.yaml", tmp_path / "faults.yaml", 96)
    db = str(tmp_path / "nc.db")
    common = ("--no-progress", "--no-diagnose", "--samples", "1", "--timeout-ms", "200")
    limited = _netcheck(
        "sweep", str(faults), "--format", "json", "--db", db, "--concurrency", "1", *common
    )
    assert limited.returncode == 1, limited.stderr  # the faults demo is NO-GO
    doc = json.loads(limited.stdout)
    cells = len(doc["cells"])
    (queue,) = doc["queuing"]
    assert queue["limit"] == 1 and queue["cells"] <= cells
    assert queue["queued"] == queue["cells"] - 1  # one attempt each, all but the first waited
    stored = _netcheck("report", doc["sweep_id"], "--db", db, "--format", "json")
    assert json.loads(stored.stdout)["queuing"] == doc["queuing"]
    table = _netcheck("report", doc["sweep_id"], "--db", db)
    assert f"queued: {queue['queued']} of the probe attempts" in table.stdout

    free = _netcheck("sweep", str(faults), "--format", "json", "--no-store", *common)
    assert json.loads(free.stdout)["queuing"] == []
