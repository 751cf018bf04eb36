"""Agents that freeze, fall silent, die or babble mid-sweep, behind a real sshd.

Each ends within the deadline derived from the plan, with vm-app01's finished
cell kept, the rest labelled "agent lost" with what happened, mt01's cells
measured, and NO-GO (exit 1).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    INTERVAL_MS,
    ROOT,
    SAMPLES,
    TIMEOUT_MS,
    Run,
    remaining_budget,
    run_sweep,
    sweep_argv,
    topology,
)
from tests.integration.ssh.conftest import Sshd

pytestmark = pytest.mark.faults

# Starting three SSH agents, closing them (a frozen one gets 5 s to exit), a loaded machine.
START_AND_TEARDOWN_S = 25.0
FIGURES = f" s, from {SAMPLES} samples × {TIMEOUT_MS} ms + {TIMEOUT_MS} ms timeout + "


def _sweep(sshd: Sshd, octet: int, tmp_path: Path, python: Path) -> Run:
    site = tmp_path / "site.yaml"
    site.write_text(topology(sshd, octet, python))
    return run_sweep(sweep_argv(sshd, site), limit=120)


def _healthy_hosts_measured(run: Run) -> None:
    assert run.code == 1, run.stderr[-2000:]  # NO-GO, not a crash, not a hang
    assert run.report["verdict"] == "no-go"
    mt01 = run.cells("mt01")
    assert mt01 and all(c["status"] == "measured" for c in mt01.values()), mt01
    assert run.agent("mt01")["available"] and not run.agent("mt01")["lost"]


def _lost(run: Run, cell: dict[str, Any], why: str) -> None:
    assert cell["status"] == "agent_lost", cell
    assert not cell["passed"]
    assert cell["reason"].startswith("agent lost on vm-app01: "), cell["reason"]
    assert why in cell["reason"], cell["reason"]
    agent = run.agent("vm-app01")
    assert agent["lost"] and why in agent["reason"]


def test_an_agent_frozen_with_sigstop_is_lost_at_its_deadline(
    sshd: Sshd, octet: int, tmp_path: Path, victim: Any
) -> None:
    v = victim("stop")
    run = _sweep(sshd, octet, tmp_path, v.python)
    assert v.agent_pid() is not None  # the real agent ran and was frozen
    _healthy_hosts_measured(run)
    cells = run.cells("vm-app01")
    done = cells["cs01"]
    assert done["status"] == "measured" and len(done["samples"]) == SAMPLES  # kept
    _lost(run, cells["ps-azure"], "sent nothing for ")
    assert FIGURES in cells["ps-azure"]["reason"]
    assert "frozen" in cells["ps-azure"]["reason"]
    # the deadline: one cell left of SAMPLES × TIMEOUT_MS (a silent port) + the margin
    assert run.seconds < remaining_budget(1) + START_AND_TEARDOWN_S


def test_a_silent_agent_is_lost_at_its_deadline(
    sshd: Sshd, octet: int, tmp_path: Path, victim: Any
) -> None:
    run = _sweep(sshd, octet, tmp_path, victim("silent").python)
    _healthy_hosts_measured(run)
    cells = run.cells("vm-app01")
    assert set(cells) == {"cs01", "ps-azure"}
    for cell in cells.values():  # said hello, then nothing: no cell measured
        _lost(run, cell, "sent nothing for ")
        assert f"from {SAMPLES} samples × {max(INTERVAL_MS, TIMEOUT_MS)} ms" in cell["reason"]
    assert run.seconds < remaining_budget(2) + START_AND_TEARDOWN_S


def test_an_agent_killed_mid_batch_is_lost_at_once(
    sshd: Sshd, octet: int, tmp_path: Path, victim: Any
) -> None:
    v = victim("kill")
    run = _sweep(sshd, octet, tmp_path, v.python)
    assert v.agent_pid() is not None
    _healthy_hosts_measured(run)
    cells = run.cells("vm-app01")
    assert cells["cs01"]["status"] == "measured"
    _lost(run, cells["ps-azure"], "the agent's channel closed (agent exited or was killed)")
    # no deadline needed: the channel's end says it at once
    assert run.seconds < START_AND_TEARDOWN_S


def test_an_agent_streaming_without_newlines_is_a_protocol_failure(
    sshd: Sshd, octet: int, tmp_path: Path, victim: Any
) -> None:
    run = _sweep(sshd, octet, tmp_path, victim("no-newline").python)
    _healthy_hosts_measured(run)
    for cell in run.cells("vm-app01").values():
        _lost(run, cell, "protocol failure: the agent sent more than 4096 KiB without a newline")
    assert run.seconds < START_AND_TEARDOWN_S


def test_watch_with_a_silent_agent_completes_its_sweeps(
    sshd: Sshd, octet: int, tmp_path: Path, victim: Any
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(topology(sshd, octet, victim("silent").python))
    argv = [
        *(sys.executable, "-m", "netcheck", "watch", str(site), "--count", "1"),
        *("--listen", "127.0.0.1:0", "--interval", "1s"),
        *("--known-hosts", str(sshd.known_hosts), "-i", str(sshd.client_key)),
    ]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]  # watch ends cleanly after --count
    assert "sweep 1 " in proc.stderr and " NO-GO: " in proc.stderr, proc.stderr
    assert "1 sweeps, 0 failed" in proc.stderr  # the sweep completed, it did not error
    assert took < remaining_budget(2) + START_AND_TEARDOWN_S
