"""Fixtures for the namespace lab: one lab per test session, always taken down.

The lab tests need root and `ip netns`. Without them a developer's run skips
with the reason; a CI run (CI=true) fails instead, because there a skipped lab
test would be a hidden hole.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.lab import Lab, LabState, lab_down, lab_up, load_lab

LAB_FILE = Path(__file__).resolve().parents[3] / "topologies" / "lab" / "failback-lab.yaml"
# Its own prefix, so a test run never tears down a lab a developer has up (nc-);
# NETCHECK_LAB_TEST_PREFIX gives concurrent runs on one machine a lab each.
TEST_PREFIX = os.environ.get("NETCHECK_LAB_TEST_PREFIX", "nct-")
_TOOLS = ("ip", "tc", "nft", "ssh", "ssh-keygen", "ping", "sysctl")


def lab_unavailable() -> str | None:
    """Why the lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if not Path("/usr/sbin/sshd").exists() and shutil.which("sshd") is None:
        missing.append("sshd")
    if missing:
        return f"missing {', '.join(missing)}; run scripts/lab-deps"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.strip()}"
    return None


def require_lab() -> None:
    reason = lab_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"lab tests must run in CI but cannot: {reason}")
    pytest.skip(reason)


@pytest.fixture
def lab_required() -> None:
    require_lab()


@pytest.fixture(scope="session")
def lab() -> Lab:
    return dataclasses.replace(load_lab(LAB_FILE), prefix=TEST_PREFIX)


@pytest.fixture(scope="session")
def lab_state(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    require_lab()
    state_dir = tmp_path_factory.mktemp("lab-state")
    lab_down(lab, state_dir)  # leftovers of a run that was killed
    try:
        yield lab_up(lab, state_dir=state_dir)
    finally:
        lab_down(lab, state_dir)
