"""Sixty agents at once over SSH on this machine: load is not a NO-GO (issue 15, goal 4).

A fleet lab (`netcheck.lab.fleet`): 60 hosts, each a namespace with its own sshd,
swept by the real CLI from the lab's management namespace with
`--host-concurrency 64`, so every login, upload and agent start competes for the
machine's CPUs at once. Before the hello limit became per host and fleet-aware
(`netcheck.deadline.StartPace`), a run in three lost agents to a fixed 20 s limit.

The lab has a prefix of its own (the test prefix without its dash, plus `f-`), so
it never meets the failback lab of the other lab tests, whose namespaces
(`nct-fb-sw`...) share the test prefix. Every address is in 198.18.10.0/24, inside
namespaces this test creates; every wait is bounded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.lab import Lab, LabState, lab_down, lab_exec, lab_up
from netcheck.lab.fleet import fleet_lab, fleet_topology, start_targets
from tests.integration.lab.conftest import AGENT_PYTHON, TEST_PREFIX, require_lab

pytestmark = pytest.mark.lab

HOSTS = 60
HOST_CONCURRENCY = 64
SWEEP_TIMEOUT_S = 200  # the agents' own cap is 120 s from each host's connect


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Lab, LabState]]:
    require_lab()
    lab = fleet_lab(HOSTS, prefix=TEST_PREFIX.rstrip("-") + "f-")
    state_dir = tmp_path / "fleet-state"
    lab_down(lab, state_dir)  # leftovers of a run that was killed
    try:
        state = lab_up(lab, state_dir=state_dir)
        start_targets(lab, AGENT_PYTHON)
        yield lab, state
    finally:
        lab_down(lab, state_dir)


def test_sixty_agents_started_at_once_all_come_up(fleet: tuple[Lab, LabState]) -> None:
    lab, state = fleet
    topology = state.state_dir / "fleet.yaml"
    topology.write_text(fleet_topology(lab, AGENT_PYTHON), encoding="utf-8")
    report_file = state.state_dir / "report.json"
    argv = [
        *(sys.executable, "-m", "netcheck", "sweep", str(topology)),
        *("--known-hosts", str(state.state_dir / "known_hosts")),
        *("-i", str(state.state_dir / "id_ed25519")),
        *("--format", "json", "-o", str(report_file), "--no-store", "--no-progress"),
        *("--host-concurrency", str(HOST_CONCURRENCY)),
    ]
    proc = lab_exec(
        lab,
        "mgmt",
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=SWEEP_TIMEOUT_S,
    )
    assert report_file.exists(), proc.stderr[-3000:]
    report = json.loads(report_file.read_text())
    down = {a["host"]: a["reason"] for a in report["agents"] if not a["available"]}
    assert not down, f"{len(down)} of {HOSTS} agents did not come up: {down}"
    assert len(report["agents"]) == HOSTS
    assert report["verdict"] == "go", [c for c in report["cells"] if not c["passed"]][:5]
    assert len(report["cells"]) == 2 * HOSTS
    assert proc.returncode == 0, proc.stderr[-3000:]
