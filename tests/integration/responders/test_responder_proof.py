"""Whole sweeps with real responders on loopback: the proof names the right destination.

The agents are the real in-process agents with real listeners and probes on
127.0.91.0/24 and 127.0.92.0/24 (ports 29443/29444, away from the demos').
The misdirection here is a NAT *in the control channel*: the probe requests
for ps-azure are sent to mt01's address, as a DNAT would send the packets,
while the prober still means ps-azure. The namespace lab test
(tests/integration/lab/test_lab_responders.py) does the same with a real nft DNAT.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from netcheck_agent import protocol as p

from netcheck.plan import build_plan
from netcheck.sweep import SweepObserver, SweepResult, run_sweep
from netcheck.topology.loader import load_topology_text
from netcheck.transports.base import AgentChannel
from netcheck.transports.local import LocalTransport

TOPOLOGY = """
version: 1
name: responder-proof
ports:
  replication_data: 29443
  vcenter: 443
  remap: {443: 29444}
defaults:
  agent: {transport: local}
sweep: {samples: 20, interval_ms: 50, timeout_ms: 1000}
sites:
  onprem:
    networks: {lan: 127.0.91.0/24}
  azure:
    networks: {vnet: 127.0.92.0/24}
hosts:
  mt01: {site: onprem, roles: [master_target], address: 127.0.91.20}
  vcenter: {site: onprem, roles: [vcenter], address: 127.0.91.30, agent: none}
  ps-azure: {site: azure, roles: [process_server], address: 127.0.92.4}
  vm-app01: {site: azure, roles: [protected_vm], address: 127.0.92.10}
"""
VM_TO_PS = "vm-app01/nic0>ps-azure/nic0:tcp/29443"
PS_TO_MT = "ps-azure/nic0>mt01/nic0:tcp/29443"
MT_TO_VCENTER = "mt01/nic0>vcenter/nic0:tcp/29444"
PS, MT, VCENTER = ("127.0.92.4", 29443), ("127.0.91.20", 29443), ("127.0.91.30", 29444)
SWEEP_TIMEOUT_S = 60


class _NattedChannel:
    """An agent channel that sends probes for `frm` to `to` (a DNAT in the channel)."""

    def __init__(self, inner: AgentChannel, frm: tuple[str, int], to: tuple[str, int]) -> None:
        self._inner, self._frm, self._to = inner, frm, to

    async def send(self, line: bytes) -> None:
        msg = p.decode(line)
        if isinstance(msg, p.ProbeBatch):
            probes = tuple(
                p.ProbeRequest(**{**x.to_dict(), "dst": self._to[0], "port": self._to[1]})
                if (x.dst, x.port) == self._frm
                else x
                for x in msg.probes
            )
            line = p.encode(p.ProbeBatch(msg.batch, probes, msg.concurrency))
        await self._inner.send(line)

    async def receive(self) -> bytes | None:
        return await self._inner.receive()

    async def close(self) -> None:
        await self._inner.close()


class NattedTransport(LocalTransport):
    def __init__(self, frm: tuple[str, int], to: tuple[str, int]) -> None:
        self.frm, self.to = frm, to

    async def start(self, host: Any) -> AgentChannel:
        return _NattedChannel(await super().start(host), self.frm, self.to)


def sweep(transport: LocalTransport, observer: SweepObserver | None = None) -> SweepResult:
    plan = build_plan(load_topology_text(TOPOLOGY))

    async def main() -> SweepResult:
        return await asyncio.wait_for(
            run_sweep(plan, {"local": transport}, observer), SWEEP_TIMEOUT_S
        )

    return asyncio.run(main())


def verdicts(result: SweepResult) -> dict[str, Any]:
    return {r.spec.cell_id: (r, v) for r, v in result.verdicts()}


@contextlib.contextmanager
def vcenter_service(close_after: int | None = None) -> Iterator[list[int]]:
    """A real service on vcenter's port (vcenter runs no agent): it accepts and closes;
    with `close_after`, it stops listening after that many connections."""
    lsock = socket.create_server(VCENTER)
    lsock.settimeout(0.2)
    accepted = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except (TimeoutError, OSError):
                continue
            conn.close()
            accepted[0] += 1
            if close_after is not None and accepted[0] >= close_after:
                lsock.close()  # later attempts are refused
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield accepted
    finally:
        stop.set()
        thread.join(5)
        lsock.close()


def test_a_misdirected_cell_fails_and_names_the_responder_that_answered() -> None:
    with vcenter_service():
        result = sweep(NattedTransport(frm=PS, to=MT))
    cells = verdicts(result)
    r, v = cells[VM_TO_PS]
    assert not v.passed and v.verdict.value == "handshake-only"
    assert "answered by a different netcheck responder (mt01?)" in v.reason
    assert all(s.detail == "answered by a different netcheck responder (mt01?)" for s in r.samples)
    assert not any(s.proven for s in r.samples)
    # the cell that really goes to mt01 is proven: its responder was there all along
    r, v = cells[PS_TO_MT]
    assert v.passed and all(s.proven for s in r.samples)
    assert not result.go


def test_without_the_nat_every_responder_cell_is_proven() -> None:
    with vcenter_service():
        result = sweep(LocalTransport())
    cells = verdicts(result)
    for cell in (VM_TO_PS, PS_TO_MT):
        r, v = cells[cell]
        assert v.passed and len(r.samples) == 20 and all(s.proven for s in r.samples), cell
    r, v = cells[MT_TO_VCENTER]  # the real service: open, not proven, passes
    assert v.passed and not any(s.proven for s in r.samples)
    assert result.go


class _FloodWhenProbing(SweepObserver):
    """1,100 plain connects to mt01's responder while the probes run (held open)."""

    def __init__(self) -> None:
        self.held: list[socket.socket] = []
        self.started_at = 0.0
        self.done_at = 0.0
        self.thread = threading.Thread(target=self._flood, daemon=True)

    def on_agent(self, info: Any) -> None:
        if not self.thread.is_alive() and not self.started_at:
            self.started_at = time.time()
            self.thread.start()

    def _flood(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until mt01's responder listens
            try:
                socket.create_connection(MT, timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.01)
        while len(self.held) < 1100 and time.monotonic() < deadline:
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(MT)
            self.held.append(sock)
            if len(self.held) % 50 == 0:
                time.sleep(0.02)  # spread over the cell's 20 attempts (1 s)
        self.done_at = time.time()

    def close(self) -> None:
        self.thread.join(15)
        for sock in self.held:
            sock.close()


def test_a_flood_of_plain_connects_during_the_sweep_leaves_every_cell_proven() -> None:
    flood = _FloodWhenProbing()
    try:
        with vcenter_service():
            result = sweep(LocalTransport(), flood)
    finally:
        flood.close()
    assert len(flood.held) == 1100
    r, v = verdicts(result)[PS_TO_MT]
    assert r.samples[0].t <= flood.done_at  # the flood ran while the cell was probed
    assert v.passed and len(r.samples) == 20 and all(s.proven for s in r.samples), [
        s.detail for s in r.samples
    ]
    assert result.go


def test_a_cell_whose_attempts_mostly_failed_is_no_pass() -> None:
    """vcenter's service goes away after 5 of the 20 attempts: 75 % failed, NO-GO."""
    with vcenter_service(close_after=5) as accepted:
        result = sweep(LocalTransport())
    assert accepted[0] == 5
    r, v = verdicts(result)[MT_TO_VCENTER]
    outcomes = [s.outcome.value for s in r.samples]
    assert outcomes.count("open") == 5 and outcomes.count("refused") == 15
    assert v.verdict.value == "open" and not v.passed
    assert v.reason == "loss 75% (15 of 20 attempts failed) exceeds the default max_loss_pct 20"
    assert not result.go


async def _listening(address: tuple[str, int], within_s: float = 10) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            _reader, writer = await asyncio.open_connection(*address)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
        else:
            writer.close()
            return


def test_a_concurrent_sweep_of_the_same_topology_is_told_apart_not_borrowed() -> None:
    """Sweep B starts while sweep A's responders hold the ports: B reports another
    netcheck sweep there, neither a real service nor a proof; A is untouched."""
    long_plan = build_plan(load_topology_text(TOPOLOGY.replace("samples: 20", "samples: 80")))
    plan = build_plan(load_topology_text(TOPOLOGY))

    async def main() -> tuple[SweepResult, SweepResult]:
        first = asyncio.ensure_future(run_sweep(long_plan, {"local": LocalTransport()}))
        await _listening(PS)
        await _listening(MT)
        second = await asyncio.wait_for(run_sweep(plan, {"local": LocalTransport()}), 30)
        assert not first.done(), "sweep A ended before B had probed"
        return await asyncio.wait_for(first, 30), second

    with vcenter_service():
        a, b = asyncio.run(main())
    held = {(x.host, x.port): (x.state, x.detail) for x in b.responders}
    for host in ("ps-azure", "mt01"):
        assert held[(host, 29443)] == ("other_sweep", "another netcheck sweep holds this port")
    for cell in (VM_TO_PS, PS_TO_MT):
        r, v = verdicts(b)[cell]
        assert not v.passed and "another netcheck sweep holds this port" in v.reason, cell
        assert not any(s.proven or s.outcome.value == "open" for s in r.samples)
    assert not b.go
    # A's responders answered B with "other sweep" only: A's own cells stay proven
    for cell in (VM_TO_PS, PS_TO_MT):
        r, v = verdicts(a)[cell]
        assert v.passed and len(r.samples) == 80 and all(s.proven for s in r.samples), cell
    assert a.go
