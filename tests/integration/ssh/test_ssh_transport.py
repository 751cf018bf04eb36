"""The SSH transport against a real OpenSSH server on 127.0.0.1.

Every "host" of these topologies logs in to the same sshd (agent.address
127.0.0.1), while its probes bind to its own loopback address, so a sweep runs
over several real SSH sessions and agents without any network beyond loopback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from netcheck.demo import SilentPorts
from netcheck.plan import build_plan
from netcheck.results import AgentInfo, CellResult, CellStatus
from netcheck.stats import Verdict
from netcheck.sweep import SweepObserver, run_sweep
from netcheck.topology import load_topology_text
from netcheck.transports.local import LocalTransport
from netcheck.transports.ssh import SshOptions, SshTransport
from tests.integration.ssh.conftest import Sshd

PY39 = Path.home() / ".pyenv/versions/3.9.18/bin/python3.9"
PY27 = Path.home() / ".pyenv/versions/2.7.18/bin/python2.7"


def topology(
    sshd: Sshd,
    *,
    ps_python: str = sys.executable,
    ps_port: int | None = None,
    ps_agent: bool = True,
) -> str:
    ps = (
        f"{{transport: ssh, address: 127.0.0.1, port: {ps_port or sshd.port}, "
        f'user: {sshd.user}, python: "{ps_python}"}}'
        if ps_agent
        else "none"
    )
    return textwrap.dedent(
        f"""
        version: 1
        name: ssh-loopback
        ports: {{remap: {{443: 10443}}}}
        sweep: {{samples: 2, interval_ms: 20, timeout_ms: 500}}
        defaults:
          agent: {{transport: ssh, address: 127.0.0.1, port: {sshd.port}, user: {sshd.user},
                  python: {sys.executable}}}
        sites:
          onprem: {{networks: {{lan: 127.0.2.0/24, failback: 127.0.3.0/24}}}}
          azure: {{networks: {{vnet: 127.0.4.0/24}}}}
        paths:
          s2s-vpn: {{kind: vpn, sites: [azure, onprem]}}
        hosts:
          cs01:
            site: onprem
            roles: [config_server]
            nics:
              source: {{address: 127.0.2.10}}
              failback: {{address: 127.0.3.10, faces: [azure]}}
          mt01: {{site: onprem, roles: [master_target], address: 127.0.2.20}}
          ps-azure:
            site: azure
            roles: [process_server]
            address: 127.0.4.4
            agent: {ps}
          vm-app01:
            site: azure
            roles: [protected_vm]
            address: 127.0.4.10
            agent: {{transport: ssh, address: 127.0.0.1, port: {sshd.port}, user: {sshd.user},
                    python: {PY39 if PY39.exists() else sys.executable}}}
        """
    )


def sweep(text: str, options: SshOptions, observer: SweepObserver | None = None):  # type: ignore[no-untyped-def]
    plan = build_plan(load_topology_text(text, "ssh.yaml"))
    transports = {"ssh": SshTransport(options), "local": LocalTransport()}
    return asyncio.run(run_sweep(plan, transports, observer=observer))


def opts(sshd: Sshd, **kw: object) -> SshOptions:
    base = {
        "known_hosts": sshd.known_hosts,
        "identities": (sshd.client_key,),
        "connect_timeout": 5.0,
    }
    base.update(kw)
    return SshOptions(**base)  # type: ignore[arg-type]


def agent_processes() -> list[str]:
    """Agents running in this test's network namespace (a parallel run's other workers,
    and their labs, have agents of their own)."""
    out = subprocess.run(
        ["pgrep", "-af", "--ns", str(os.getpid()), "--nslist", "net", "netcheck-agent-"],
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def test_sweep_over_ssh_is_green_and_leaves_no_agent_behind(sshd: Sshd) -> None:
    result = sweep(topology(sshd), opts(sshd))
    rows = result.verdicts()
    assert rows, "the plan has cells"
    for r, v in rows:
        assert v.verdict is Verdict.OPEN, (r.spec.cell_id, v.reason)
        assert all(s.proven for s in r.samples), r.spec.cell_id
    assert result.go
    agents = {a.host: a for a in result.agents}
    assert set(agents) == {"cs01", "mt01", "ps-azure", "vm-app01"}
    assert all(a.available for a in agents.values())
    if PY39.exists():
        assert agents["vm-app01"].python and agents["vm-app01"].python.startswith("3.9")
    deadline = time.monotonic() + 5
    while agent_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert agent_processes() == []


def test_unknown_host_key_is_refused_unless_trusted_explicitly(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    result = sweep(topology(sshd), opts(sshd, known_hosts=empty))
    assert not result.go
    for a in result.agents:
        assert not a.available
        assert "not in" in a.reason and "--trust-new-host-keys" in a.reason
    assert not empty.exists()  # nothing was written without the opt-in
    result = sweep(topology(sshd), opts(sshd, known_hosts=empty, trust_new_host_keys=True))
    assert result.go
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in empty.read_text()


def test_mismatched_host_key_is_refused_and_other_hosts_still_measured(
    sshd: Sshd, tmp_path: Path
) -> None:
    # known_hosts carries another key for the server: a possible man in the middle.
    wrong = tmp_path / "known_hosts"
    other_pub = Path(f"{sshd.other_key}.pub").read_text().split()
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other_pub[0]} {other_pub[1]}\n")
    result = sweep(topology(sshd), opts(sshd, known_hosts=wrong, trust_new_host_keys=True))
    assert all(not a.available for a in result.agents)
    assert all("does not match" in a.reason for a in result.agents)
    for _, v in result.verdicts():
        assert v.verdict is Verdict.AGENT_UNAVAILABLE
        assert "does not match" in v.reason


def test_refused_key_python_missing_and_old_python_are_agent_unavailable(sshd: Sshd) -> None:
    result = sweep(topology(sshd), opts(sshd, identities=(sshd.other_key,)))
    assert all("authentication refused" in a.reason for a in result.agents)

    result = sweep(topology(sshd, ps_python="/nonexistent/python3"), opts(sshd))
    agents = {a.host: a for a in result.agents}
    assert not agents["ps-azure"].available
    assert "Python not found" in agents["ps-azure"].reason
    assert agents["cs01"].available and agents["vm-app01"].available
    cells = {(r.spec.source_host, r.spec.dest_host): v for r, v in result.verdicts()}
    assert cells[("ps-azure", "cs01")].verdict is Verdict.AGENT_UNAVAILABLE
    assert cells[("ps-azure", "mt01")].verdict is Verdict.AGENT_UNAVAILABLE
    assert cells[("vm-app01", "cs01")].verdict is Verdict.OPEN
    # with no agent on ps-azure nothing opened its port: the probe says so, honestly, and
    # does not blame a firewall
    assert cells[("vm-app01", "ps-azure")].verdict is Verdict.NO_LISTENER
    assert "agent on ps-azure unavailable" in cells[("vm-app01", "ps-azure")].reason
    assert any(x.host == "ps-azure" and x.state == "none" for x in result.responders)

    if PY27.exists():
        result = sweep(topology(sshd, ps_python=str(PY27)), opts(sshd))
        agents = {a.host: a for a in result.agents}
        assert not agents["ps-azure"].available
        assert "too old" in agents["ps-azure"].reason or "3.9" in agents["ps-azure"].reason


def test_sshd_not_listening_is_agent_unavailable(sshd: Sshd) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    result = sweep(topology(sshd, ps_port=dead_port), opts(sshd))
    agents = {a.host: a for a in result.agents}
    assert not agents["ps-azure"].available
    assert "refused" in agents["ps-azure"].reason
    assert agents["mt01"].available


class _KillAfterFirstResult(SweepObserver):
    """Kills vm-app01's agent process as soon as its first cell has arrived."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.killed = False

    def on_agent(self, info: AgentInfo) -> None:
        if info.host == "vm-app01":
            self.pid = info.pid

    def on_result(self, result: CellResult) -> None:
        if self.killed or result.spec.source_host != "vm-app01" or self.pid is None:
            return
        os.kill(self.pid, signal.SIGKILL)
        self.killed = True


def test_agent_killed_mid_sweep_keeps_finished_cells(sshd: Sshd) -> None:
    # ps-azure has no agent and its data port is silent, so vm-app01's cell to it
    # takes a second of timeouts: the agent is killed while it waits.
    plan = build_plan(load_topology_text(topology(sshd, ps_agent=False), "ssh.yaml"))
    killer = _KillAfterFirstResult()
    transports = {"ssh": SshTransport(opts(sshd))}
    with SilentPorts([("127.0.4.4", 9443)]):
        result = asyncio.run(run_sweep(plan, transports, observer=killer))
    assert killer.killed
    mine = [r for r in result.results if r.spec.source_host == "vm-app01"]
    statuses = {r.spec.dest_host: r.status for r in mine}
    assert statuses["cs01"] is CellStatus.MEASURED  # finished before the kill: kept
    assert statuses["ps-azure"] is CellStatus.AGENT_LOST
    lost = next(r for r in mine if r.status is CellStatus.AGENT_LOST)
    assert "agent lost on vm-app01" in lost.reason
    info = next(a for a in result.agents if a.host == "vm-app01")
    assert info.lost
    # the other agents finished their cells
    others = [r for r in result.results if r.spec.source_host in ("cs01", "mt01")]
    assert others and all(r.status is CellStatus.MEASURED for r in others)
    assert not result.go


def test_the_connection_to_openssh_uses_aes_gcm_with_the_host_key_verified(sshd: Sshd) -> None:
    """The cheaper cipher is negotiated with a real OpenSSH, and still only after the
    host key matched known_hosts (an empty known_hosts refuses the same host)."""
    from netcheck.errors import TransportError
    from netcheck.topology.model import Host

    topo = load_topology_text(topology(sshd), "ssh.yaml")
    host: Host = next(h for h in topo.hosts if h.name == "cs01")

    async def cipher(options: SshOptions) -> str:
        conn = await SshTransport(options)._connect(host)
        try:
            return str(conn.get_extra_info("send_cipher"))
        finally:
            conn.close()
            await conn.wait_closed()

    assert asyncio.run(cipher(opts(sshd))) == "aes128-gcm@openssh.com"
    empty = sshd.home / "empty_known_hosts"
    empty.write_text("")
    try:
        asyncio.run(cipher(opts(sshd, known_hosts=empty)))
    except TransportError as exc:
        assert "is not in" in exc.reason
    else:
        raise AssertionError("an unknown host key was accepted")
