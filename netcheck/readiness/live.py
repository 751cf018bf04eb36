"""Live facts: ask the agent on each master target for its OS, retention volume and
VMware Tools. The only I/O of the readiness package; failures are data (a LiveStatus)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from netcheck_agent import protocol as p

from netcheck.agentclient import AgentClient
from netcheck.errors import AgentLost, ProtocolError, TransportError
from netcheck.readiness.model import LiveStatus
from netcheck.topology.model import Host, Role, Topology
from netcheck.transports.base import Transport

__all__ = ["LiveFacts", "gather_live_facts", "read_facts"]

log = logging.getLogger(__name__)

LiveFacts = tuple[dict[str, p.Facts], list[LiveStatus]]


def _retention_path(host: Host) -> str | None:
    ret = host.inventory.retention
    return ret.path if ret is not None else None  # None: the agent uses its OS default


async def read_facts(client: AgentClient, host: Host) -> p.Facts | LiveStatus:
    """One request on a running agent; a failure becomes an `unavailable` status."""
    try:
        return await client.facts(_retention_path(host))
    except (AgentLost, TransportError, ProtocolError) as exc:
        return LiveStatus(host.name, "unavailable", f"the agent could not read facts: {exc}")


async def gather_live_facts(
    topo: Topology, transports: Mapping[str, Transport], host_concurrency: int = 16
) -> LiveFacts:
    """Start an agent on every master target that can run one, read its facts, stop it."""
    facts: dict[str, p.Facts] = {}
    status: list[LiveStatus] = []
    gate = asyncio.Semaphore(host_concurrency)

    async def one(host: Host) -> None:
        if not host.agent.runs:
            status.append(LiveStatus(host.name, "no_agent", "agent: none in the topology"))
            return
        transport = transports.get(host.agent.transport.value)
        if transport is None:
            reason = f"no {host.agent.transport.value} transport configured"
            status.append(LiveStatus(host.name, "unavailable", reason))
            return
        async with gate:
            try:
                channel = await transport.start(host)
                client = await AgentClient.connect(host.name, channel)
            except TransportError as exc:
                status.append(LiveStatus(host.name, "unavailable", exc.reason))
                return
            try:
                got = await read_facts(client, host)
            finally:
                await client.close()
        if isinstance(got, LiveStatus):
            status.append(got)
        else:
            facts[host.name] = got
            status.append(LiveStatus(host.name, "live"))

    await asyncio.gather(*(one(h) for h in topo.hosts_with(Role.MASTER_TARGET)))
    order = {h.name: i for i, h in enumerate(topo.hosts)}
    status.sort(key=lambda s: order.get(s.host, 0))
    return facts, status
