"""The dual-NIC checks during a sweep: the I/O around the pure `cells` and `checks`.

`run_sweep` drives one `NicSession`: it opens responders on the extra
listeners, starts the captures before the probes, probes the extra per-NIC
cells next to the plan's, then stops the captures and reads each multi-NIC
host's interfaces, route choices and ARP answers. Failures are data: a check
that could not run becomes an `unknown` finding with the reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.errors import AgentLost, ProtocolError, TransportError
from netcheck.nic.cells import multi_nic_hosts, per_nic_cells
from netcheck.nic.checks import analyse
from netcheck.nic.model import HostNicReport, NicCellResult, PerNicCell
from netcheck.plan import Plan, ProbeSpec
from netcheck.probing import probe_batch
from netcheck.proof import ResponderProof
from netcheck.result.cells import CellResult, CellStatus
from netcheck.stats import CellVerdict
from netcheck.topology.model import Host

__all__ = ["ALL_NICS", "NicOptions", "NicSession"]

log = logging.getLogger(__name__)

_FAILURES = (AgentLost, TransportError, ProtocolError)


@dataclass(frozen=True, slots=True)
class NicOptions:
    """Which multi-NIC hosts a sweep checks, and how many peers per group it probes."""

    enabled: bool = True
    host: str | None = None  # only this host (netcheck nic --host)
    peers_per_group: int | None = 4  # None: every peer (netcheck nic)
    arp_timeout_ms: int = 1500


ALL_NICS = NicOptions()  # the sweep's default: every multi-NIC host with an agent


class NicSession:
    def __init__(self, plan: Plan, options: NicOptions) -> None:
        self.plan = plan
        self.options = options
        self.hosts: list[Host] = multi_nic_hosts(plan, options.host) if options.enabled else []
        self.cells: dict[str, tuple[PerNicCell, ...]] = {}
        extra: dict[str, ProbeSpec] = {}
        for h in self.hosts:
            cells, ext = per_nic_cells(plan, h, options.peers_per_group)
            self.cells[h.name] = cells
            for s in ext:
                extra.setdefault(s.cell_id, s)
        self.extra: tuple[ProbeSpec, ...] = tuple(extra.values())
        self.results: dict[str, CellResult] = {}
        self._capture_ids: dict[str, str] = {}
        self.capture: dict[str, p.CaptureResult] = {}
        self.capture_why: dict[str, str] = {}
        self.facts: dict[str, p.NicFacts] = {}
        self.facts_why: dict[str, str] = {}
        self.arp: dict[str, p.ArpCheck] = {}
        self.arp_why: dict[str, str] = {}

    # --- what the sweep adds for us --------------------------------------------------

    def by_source(self) -> dict[str, list[ProbeSpec]]:
        out: dict[str, list[ProbeSpec]] = {}
        for s in self.extra:
            out.setdefault(s.source_host, []).append(s)
        return out

    def listeners(self) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for s in self.extra:
            lst = out.setdefault(s.dest_host, [])
            if s.proto == "tcp" and (s.dest_address, s.port) not in lst:
                lst.append((s.dest_address, s.port))
        return out

    def _peers(self, host: str) -> list[str]:
        out: list[str] = []
        for c in self.cells.get(host, ()):
            if c.peer_address not in out:
                out.append(c.peer_address)
        return out

    # --- the steps ------------------------------------------------------------------------

    async def read_facts(self, clients: Mapping[str, AgentClient]) -> None:
        """Interfaces and route choices (no packet sent), before the probes."""

        async def one(host: Host) -> None:
            client = clients.get(host.name)
            if client is None:
                self.facts_why[host.name] = "no agent on the host"
                return
            try:
                self.facts[host.name] = await client.nic_facts(self._peers(host.name))
            except _FAILURES as exc:
                self.facts_why[host.name] = f"the agent could not read its NICs: {exc}"

        await asyncio.gather(*(one(h) for h in self.hosts))

    def _one_interface(self, host: Host) -> str | None:
        """The interface all the host's NICs are on (so no reply can return on another)."""
        facts = self.facts.get(host.name)
        if facts is None:
            return None
        names = set()
        for nic in host.nics:
            itf = _holder(facts, str(nic.address))
            if itf is None:
                return None
            names.add(itf)
        return names.pop() if len(names) == 1 else None

    async def start_captures(self, clients: Mapping[str, AgentClient], max_seconds: int) -> None:
        async def one(host: Host) -> None:
            client = clients.get(host.name)
            if client is None:
                self.capture_why[host.name] = "no agent on the host"
                return
            shared = self._one_interface(host)
            if shared is not None:
                self.capture_why[host.name] = (
                    f"every NIC address is on {shared}: no other interface to return on"
                )
                return
            try:
                ready = await client.capture_start(self._peers(host.name), max_seconds)
            except _FAILURES as exc:
                self.capture_why[host.name] = f"the agent could not capture: {exc}"
                return
            if ready.status == "capturing":
                self._capture_ids[host.name] = ready.id
            else:
                self.capture_why[host.name] = ready.detail or ready.status

        await asyncio.gather(*(one(h) for h in self.hosts))

    async def probe(
        self,
        clients: Mapping[str, AgentClient],
        proof: ResponderProof,
    ) -> None:
        """Probe the extra per-NIC cells, one batch per source, next to the plan's."""
        st = self.plan.settings

        async def one(source: str, specs: Sequence[ProbeSpec]) -> None:
            client = clients.get(source)
            if client is None:
                for s in specs:
                    self._unmeasured(s, CellStatus.AGENT_UNAVAILABLE, f"no agent on {source}")
                return
            try:
                await probe_batch(client, specs, st, proof, self._record)
            except AgentLost as exc:
                for s in specs:
                    self._unmeasured(s, CellStatus.AGENT_LOST, f"agent lost on {source}: {exc}")

        await asyncio.gather(*(one(src, specs) for src, specs in self.by_source().items()))

    def _record(self, result: CellResult) -> None:
        self.results[result.spec.cell_id] = result

    def _unmeasured(self, spec: ProbeSpec, status: CellStatus, reason: str) -> None:
        self.results.setdefault(spec.cell_id, CellResult(spec, status, reason=reason))

    async def finish(self, clients: Mapping[str, AgentClient]) -> None:
        """Stop the captures, then the ARP probes."""

        async def one(host: Host) -> None:
            client = clients.get(host.name)
            if client is None:
                self.arp_why[host.name] = "no agent on the host"
                return
            cid = self._capture_ids.pop(host.name, None)
            if cid is not None:
                try:
                    self.capture[host.name] = await client.capture_stop(cid)
                except _FAILURES as exc:
                    self.capture_why[host.name] = f"the capture was lost: {exc}"
            targets = [p.ArpTarget(address=str(n.address)) for n in host.nics]
            try:
                self.arp[host.name] = await client.arp_check(targets, self.options.arp_timeout_ms)
            except _FAILURES as exc:
                self.arp_why[host.name] = f"the agent could not probe: {exc}"

        await asyncio.gather(*(one(h) for h in self.hosts))

    def reports(
        self,
        plan_results: Mapping[str, CellResult],
        judge: Callable[[CellResult], CellVerdict],
        interrupted: bool = False,
    ) -> tuple[HostNicReport, ...]:
        out = []
        for host in self.hosts:
            cells = []
            for c in self.cells[host.name]:
                r = plan_results.get(c.spec.cell_id) or self.results.get(c.spec.cell_id)
                if r is None:
                    why = "not measured: the sweep was interrupted" if interrupted else "not run"
                    r = CellResult(c.spec, CellStatus.NOT_RUN, reason=why)
                cells.append(NicCellResult(c, judge(r)))
            why = "the sweep was interrupted" if interrupted else "not read"
            out.append(
                analyse(
                    self.plan.topology,
                    host,
                    cells,
                    self.facts.get(host.name),
                    self.facts_why.get(host.name, why),
                    self.capture.get(host.name),
                    self.capture_why.get(host.name, why),
                    self.arp.get(host.name),
                    self.arp_why.get(host.name, why),
                )
            )
        return tuple(out)


def _holder(facts: p.NicFacts, address: str) -> str | None:
    """The interface holding `address` (a loopback interface holds its whole prefix)."""
    addr = ipaddress.ip_address(address)
    for loopback_only in (False, True):
        for itf in facts.interfaces:
            if loopback_only and itf.kind != "loopback":
                continue
            for a in itf.addresses:
                net = ipaddress.ip_interface(a)
                if net.ip == addr or (loopback_only and addr in net.network):
                    return itf.name
    return None
