"""The sweep's waits outside a probe batch: starting an agent has a deadline too."""

from __future__ import annotations

import asyncio
import time

import pytest

import netcheck.sweep
from netcheck.plan import build_plan
from netcheck.results import CellStatus
from netcheck.sweep import run_sweep
from netcheck.topology import load_topology_text
from netcheck.topology.model import Host
from netcheck.transports.base import AgentChannel

TOPOLOGY = """\
version: 1
name: start-hangs
sweep: {samples: 1, interval_ms: 0, timeout_ms: 100}
defaults:
  agent: {transport: ssh, address: 127.0.0.1, user: nobody}
sites:
  onprem: {networks: {lan: 127.0.2.0/24}}
  azure: {networks: {vnet: 127.0.4.0/24}}
hosts:
  cs01: {site: onprem, roles: [config_server], address: 127.0.2.10}
  vm-app01: {site: azure, roles: [protected_vm], address: 127.0.4.10}
"""


class _StartHangs:
    """An SSH login that never completes (a server that accepts and then says nothing)."""

    name = "ssh"

    async def start(self, host: Host) -> AgentChannel:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


def test_an_agent_that_never_starts_is_unavailable_at_the_start_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(netcheck.sweep, "AGENT_START_S", 0.2)
    plan = build_plan(load_topology_text(TOPOLOGY, "hangs.yaml"))
    t0 = time.monotonic()
    result = asyncio.run(asyncio.wait_for(run_sweep(plan, {"ssh": _StartHangs()}), 30))
    assert time.monotonic() - t0 < 5
    assert result.agents and all(not a.available for a in result.agents)
    for a in result.agents:
        assert a.reason == "the agent did not start within 0.2 s (login, upload, start)"
    assert result.results and all(
        r.status is CellStatus.AGENT_UNAVAILABLE and "did not start within" in r.reason
        for r in result.results
    )
    assert not result.go
