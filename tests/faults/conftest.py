"""The fault-injection suite (`-m faults`): every fault ends within its deadline.

Each test runs the real `netcheck sweep` (or `watch`) CLI and injects one fault
while it runs: an agent frozen with SIGSTOP, an agent that says hello and then
nothing, an agent killed mid-batch, an SSH link dropped by nft in a namespace, a
full disk under the store, a stdout pipe that closes. Every one must end, within the
deadline `netcheck.deadline` derives from the plan, with a complete report
(finished cells kept, the rest labelled) and the right exit code.

Agents run behind a real OpenSSH server on 127.0.0.1 (the SSH integration
tests' `sshd` fixture); probes stay on a loopback range of this run's own.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from netcheck_agent import protocol as p

from netcheck.deadline import ProbeLoad
from tests.integration.ssh.conftest import Sshd, sshd  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[2]

#: The sweep settings of every fault test: short, and the slow cell (to a silent
#: port) takes SAMPLES × TIMEOUT_MS, long enough to inject a fault while it runs.
SAMPLES, INTERVAL_MS, TIMEOUT_MS = 4, 200, 700

Report = dict[str, Any]


def remaining_budget(cells: int) -> float:
    """The deadline netcheck gives an agent for `cells` more cells of these settings."""
    return ProbeLoad(cells, SAMPLES, INTERVAL_MS, TIMEOUT_MS, 256).budget().seconds


@pytest.fixture(scope="session")
def octet() -> int:
    """A second loopback octet of this run's own (other sweeps on the machine use 127.0.x.y)."""
    return random.randint(100, 149)


def topology(server: Sshd, octet: int, victim_python: str | Path) -> str:
    """vm-app01's agent runs `victim_python` (a wrapper that injects the fault).

    vm-app01 probes cs01 (a responder: done in under a second) and ps-azure:9443
    (a silent port: SAMPLES × TIMEOUT_MS of timeouts), so its first cell is done and
    its second in flight when the fault strikes. mt01's agent is healthy throughout.
    """
    agent = (
        f"{{transport: ssh, address: 127.0.0.1, port: {server.port}, user: {server.user}, "
        f"python: {sys.executable}}}"
    )
    victim = agent.replace(f"python: {sys.executable}", f"python: {victim_python}")
    return textwrap.dedent(
        f"""\
        version: 1
        name: faults-ssh
        ports: {{remap: {{443: 10443}}}}
        sweep: {{samples: {SAMPLES}, interval_ms: {INTERVAL_MS}, timeout_ms: {TIMEOUT_MS}}}
        demo: {{silent_ports: ["ps-azure:9443"]}}
        defaults:
          agent: {agent}
        sites:
          onprem: {{networks: {{lan: 127.{octet}.2.0/24}}}}
          azure: {{networks: {{vnet: 127.{octet}.4.0/24}}}}
        hosts:
          cs01: {{site: onprem, roles: [config_server], address: 127.{octet}.2.10}}
          mt01: {{site: onprem, roles: [master_target], address: 127.{octet}.2.20}}
          ps-azure: {{site: azure, roles: [process_server], address: 127.{octet}.4.4, agent: none}}
          vm-app01:
            site: azure
            roles: [protected_vm]
            address: 127.{octet}.4.10
            agent: {victim}
        """
    )


_WRAPPER = """\
#!{python}
# The agent as netcheck starts it, run as a child whose lines are passed through;
# after its first probe result the fault strikes the real agent process.
import os, re, signal, subprocess, sys
child = subprocess.Popen([{python!r}, *sys.argv[1:]], stdout=subprocess.PIPE)
with open({pidfile!r}, "w") as fh:
    fh.write(str(child.pid))
out = sys.stdout.buffer
done = False
for line in child.stdout:
    out.write(line)
    out.flush()
    if not done and re.match(rb'{{"type": ?"result"', line):
        done = True
        os.kill(child.pid, {signal})
sys.exit(child.wait())
"""

_FAKE = """\
#!{python}
# A fake agent: the bootstrap's "run" (netcheck.transports.ssh_boot), a valid hello,
# then {what}. It keeps reading its channel, so the channel stays open, and exits when
# netcheck closes it.
import sys, threading
out = sys.stdout.buffer
out.write(b"NETCHECK-BOOT run\\n")
out.write({hello!r})
out.flush()
def stream():
    for _ in range({chunks}):
        out.write(b"x" * 65536)
        out.flush()
threading.Thread(target=stream, daemon=True).start()
while sys.stdin.buffer.read(65536):
    pass
"""


@dataclass
class Victim:
    """The program an agent host runs instead of Python, and the agent it started."""

    python: Path
    pidfile: Path

    def agent_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text())
        except (OSError, ValueError):
            return None


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Any]:
    """`victim("stop"|"kill")` wraps the real agent; `victim("silent"|"no-newline")` is a
    fake one. Whatever the test does, no agent is left behind (frozen ones included)."""
    made: list[Victim] = []

    def make(mode: str) -> Victim:
        python = tmp_path / f"agent-{mode}"
        pidfile = tmp_path / f"agent-{mode}.pid"
        if mode in ("stop", "kill"):
            sig = "signal.SIGSTOP" if mode == "stop" else "signal.SIGKILL"
            text = _WRAPPER.format(python=sys.executable, pidfile=str(pidfile), signal=sig)
        else:
            hello = p.encode(p.Hello(p.PROTOCOL_VERSION, "fake", "fake", 1, "3.11", "linux", {}))
            what = "nothing" if mode == "silent" else "bytes without a newline"
            chunks = 0 if mode == "silent" else 256  # 16 MiB at most
            text = _FAKE.format(python=sys.executable, hello=hello, what=what, chunks=chunks)
        python.write_text(text)
        python.chmod(0o755)
        v = Victim(python, pidfile)
        made.append(v)
        return v

    yield make
    for v in made:
        pid = v.agent_pid()
        if pid is not None:
            for sig in (signal.SIGKILL, signal.SIGCONT):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break


def sweep_argv(server: Sshd, topology_file: Path, *extra: str) -> list[str]:
    return [
        *(sys.executable, "-m", "netcheck", "sweep", str(topology_file)),
        *("--known-hosts", str(server.known_hosts), "-i", str(server.client_key)),
        *("--format", "json", "--no-progress", "--no-diagnose", *extra),
    ]


@dataclass
class Run:
    code: int
    report: Report
    stderr: str
    seconds: float

    def cells(self, source: str) -> dict[str, Report]:
        return {c["dest_host"]: c for c in self.report["cells"] if c["source_host"] == source}

    def agent(self, host: str) -> Report:
        return next(a for a in self.report["agents"] if a["host"] == host)


def run_sweep(argv: list[str], limit: float, **kw: Any) -> Run:
    """The CLI, bounded by `limit` seconds (a hang fails the test, it never blocks it)."""
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit, cwd=ROOT, **kw)
    took = time.monotonic() - t0
    assert proc.stdout, f"no report (exit {proc.returncode}): {proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    assert report["schema"] == "netcheck.sweep"
    return Run(proc.returncode, report, proc.stderr, took)
