"""A hand-built sweep for the renderer tests: a real Plan, crafted results (no agent, no socket).

A plain module (not a conftest) with a name no other test directory uses.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from netcheck.plan import Plan, ProbeSpec, build_plan
from netcheck.result.cells import AgentInfo, CellResult, CellStatus, Outcome, Sample
from netcheck.result.model import ResponderInfo, SweepResult
from netcheck.topology import load_topology_text

TOPOLOGY = """\
version: 1
name: report-demo
ports: {remap: {443: 10443}}
sweep: {samples: 3, timeout_ms: 800}
sites:
  onprem: {networks: {lan: 127.0.2.0/24, failback: 127.0.3.0/24}}
  azure: {networks: {vnet: 127.0.4.0/24}}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem], expect: {max_rtt_ms: 30, max_loss_pct: 34}}
hosts:
  cs01:
    site: onprem
    roles: [config_server]
    nics:
      source: {address: 127.0.2.10}
      failback: {address: 127.0.3.10, faces: [azure]}
  mt01: {site: onprem, roles: [master_target], address: 127.0.2.20}
  ps-azure: {site: azure, roles: [process_server], address: 127.0.4.4}
  vm1: {site: azure, roles: [protected_vm], address: 127.0.4.10}
rules:
  - {id: no-rdp, from: protected_vm, to: 'host:ps-azure', port: 3389, expect: blocked,
     hint: Close RDP to the process server.}
"""

# cell (source, dest, probed port) -> samples; the default sweep has one of each cell kind
VM_CS = ("vm1", "cs01", 10443)
VM_PS = ("vm1", "ps-azure", 9443)
PS_CS = ("ps-azure", "cs01", 10443)
PS_MT = ("ps-azure", "mt01", 9443)
MT_CS = ("mt01", "cs01", 10443)
RDP = ("vm1", "ps-azure", 3389)

STARTED = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z


def _open(*ms: float) -> tuple[Sample, ...]:
    return tuple(
        Sample(Outcome.OPEN, rtt_us=round(x * 1000), rtt_source="tcp_info", proven=True, t=i * 0.05)
        for i, x in enumerate(ms)
    )


SAMPLES: dict[str, tuple[Sample, ...]] = {
    "open-fast": _open(0.12, 0.11, 0.15),
    "open-slow": _open(45, 46, 44),
    "refused": (Sample(Outcome.REFUSED, errno=111, detail="ECONNREFUSED"),) * 3,
    "filtered": (Sample(Outcome.TIMEOUT),) * 3,
}

DEFAULT: dict[tuple[str, str, int], str] = {
    VM_CS: "open-fast",
    VM_PS: "open-fast",
    PS_CS: "filtered",
    PS_MT: "refused",
    MT_CS: "open-fast",
    RDP: "open-fast",  # must be blocked: OPEN!
}


@functools.cache
def report_plan() -> Plan:
    return build_plan(load_topology_text(TOPOLOGY, "report-demo.yaml"))


def spec_of(plan: Plan, key: tuple[str, str, int]) -> ProbeSpec:
    (s,) = [s for s in plan.specs if (s.source_host, s.dest_host, s.port) == key]
    return s


def make_sweep(
    kinds: Mapping[tuple[str, str, int], str | CellStatus] | None = None,
    *,
    plan: Plan | None = None,
    interrupted: bool = False,
    agents: tuple[AgentInfo, ...] = (),
    responders: tuple[ResponderInfo, ...] = (),
) -> SweepResult:
    """A SweepResult: `kinds` maps a cell to a SAMPLES key or a CellStatus (default: DEFAULT;
    cells not named are open-fast)."""
    p = plan or report_plan()
    chosen = dict(DEFAULT if kinds is None else kinds)
    results = []
    for s in p.specs:
        kind = chosen.get((s.source_host, s.dest_host, s.port), "open-fast")
        if isinstance(kind, CellStatus):
            results.append(CellResult(s, kind, reason=f"{kind.value} on {s.source_host}"))
        else:
            results.append(CellResult(s, CellStatus.MEASURED, SAMPLES[kind]))
    return SweepResult(
        sweep_id="sw-0001",
        plan=p,
        results=tuple(results),
        agents=agents,
        responders=responders,
        started_at=STARTED,
        finished_at=STARTED + 2.5,
        interrupted=interrupted,
    )
