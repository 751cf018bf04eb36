"""`--limit` through the real CLI on the loopback demo (real sockets, a real SQLite file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.private_demo import private_copy

ROOT = Path(__file__).resolve().parents[2]


def netcheck(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # its own loopback range (127.116.x.y): other tests sweep the shipped demo meanwhile
    return private_copy("local-demo.yaml", tmp_path_factory.mktemp("limit") / "demo.yaml", 116)


@pytest.mark.parametrize("command", ["sweep", "plan", "nic", "readiness", "watch"])
def test_every_command_that_plans_takes_limit(command: str) -> None:
    proc = netcheck(command, "--help")
    assert proc.returncode == 0
    assert "--limit PATTERN" in proc.stdout


def test_plan_limit_keeps_the_cells_of_matching_hosts(demo: Path) -> None:
    full = json.loads(netcheck("plan", str(demo), "--format", "json").stdout)
    proc = netcheck("plan", str(demo), "--format", "json", "--limit", "role:process_server")
    assert proc.returncode == 0, proc.stderr
    limited = json.loads(proc.stdout)
    assert limited["limit"] == {"pattern": "role:process_server", "total_cells": len(full["cells"])}
    assert full["limit"] is None
    expected = [c for c in full["cells"] if "ps-azure" in (c["source_host"], c["dest_host"])]
    assert limited["cells"] == expected
    table = netcheck("plan", str(demo), "--limit", "site:azure,!vm-app02").stdout
    assert "LIMITED to hosts matching 'site:azure,!vm-app02'" in table


def test_a_limit_matching_nothing_is_exit_2(demo: Path) -> None:
    proc = netcheck("plan", str(demo), "--limit", "role:esxi")
    assert proc.returncode == 2
    assert "--limit 'role:esxi' matches no host" in proc.stderr


def test_limited_sweep_is_reported_stored_and_never_diffed_as_complete(
    demo: Path, tmp_path: Path
) -> None:
    db = str(tmp_path / "nc.db")
    limited = netcheck("sweep", str(demo), "--db", db, "--limit", "vm-app*", "--no-progress")
    assert limited.returncode == 0, limited.stderr
    lines = limited.stdout.splitlines()
    # under the verdict and the sweep's line (which may wrap at 80 columns)
    assert any(ln.startswith("LIMITED to hosts matching 'vm-app*': ") for ln in lines[:6])
    limited_id = lines[1].split()[1]  # "sweep ID of 'name' (file) at ..."
    full = netcheck("sweep", str(demo), "--db", db, "--format", "json", "--no-progress")
    assert full.returncode == 0, full.stderr
    report = json.loads(full.stdout)
    assert report["settings"]["limit"] is None
    full_id = report["sweep_id"]

    stored = netcheck("report", limited_id, "--db", db, "--format", "json")
    assert stored.returncode == 0, stored.stderr
    doc = json.loads(stored.stdout)
    assert doc["settings"]["limit"] == "vm-app*"
    assert all("vm-app" in c["source_host"] + c["dest_host"] for c in doc["cells"])
    assert 0 < len(doc["cells"]) < len(report["cells"])

    diff = netcheck("diff", limited_id, full_id, "--db", db)
    assert diff.returncode == 2
    assert f"sweep {limited_id} is limited to 'vm-app*'" in diff.stderr
    assert f"sweep {full_id} is complete" in diff.stderr


def test_readiness_limit_keeps_the_findings_about_matching_hosts() -> None:
    topo = str(ROOT / "topologies" / "asr-failback-vpn.yaml")
    full = json.loads(netcheck("readiness", topo, "--format", "json").stdout)
    proc = netcheck("readiness", topo, "--format", "json", "--limit", "role:master_target")
    limited = json.loads(proc.stdout)
    subjects = {f["subject"] for f in full["findings"]}
    kept = {f["subject"] for f in limited["findings"]}
    assert kept < subjects
    assert "mt01" in kept and "cs01" not in kept
    table = netcheck("readiness", topo, "--limit", "role:master_target").stdout
    assert table.startswith("LIMITED to hosts matching 'role:master_target'")
