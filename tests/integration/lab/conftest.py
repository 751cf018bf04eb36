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

# The agents' interpreters, chosen explicitly: an SSH login's `python3` is whatever
# the login's PATH finds (a pyenv shim, a venv), so it proves nothing about scapy.
# The lab topology names AGENT_PYTHON: the distribution's own Python, as on a real
# Linux host, with Debian's python3-scapy that the test command installs. The
# fallback tests run PLAIN_AGENT_PYTHON: the same interpreter started with `-S`
# (no site-packages at all), so scapy is really absent, not hidden by a switch.
AGENT_PYTHON = "/usr/bin/python3"


def _imports_scapy(argv: list[str]) -> tuple[bool, str]:
    """Whether `argv -c 'import scapy.all'` works, and what it said."""
    try:
        done = subprocess.run(
            [*argv, "-c", "import scapy.all"], capture_output=True, text=True, timeout=60
        )
    except OSError as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stderr.strip().splitlines() or [""])[-1]


def lab_unavailable() -> str | None:
    """Why the lab cannot be built here, or None when it can."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces)"
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if not Path("/usr/sbin/sshd").exists() and shutil.which("sshd") is None:
        missing.append("sshd")
    if missing:
        return f"missing {', '.join(missing)}; run scripts/lab-deps"
    has_scapy, said = _imports_scapy([AGENT_PYTHON])
    if not has_scapy:
        return (
            f"the lab agents' interpreter {AGENT_PYTHON} cannot import scapy ({said}); "
            "run scripts/test, which installs python3-scapy"
        )
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


def plain_agent_python(directory: Path) -> Path:
    """An interpreter for lab agents that really has no scapy: AGENT_PYTHON with `-S`.

    Checked, not assumed: a run fails when scapy is importable through it.
    """
    wrapper = directory / "python3-without-site-packages"
    wrapper.write_text(f'#!/bin/sh\nexec {AGENT_PYTHON} -S "$@"\n')
    wrapper.chmod(0o755)
    directory.chmod(0o755)  # the lab's sshd logins run it as root, but keep it plain
    has_scapy, _ = _imports_scapy([str(wrapper)])
    assert not has_scapy, f"{wrapper} was meant to have no scapy, yet imports it"
    return wrapper


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
