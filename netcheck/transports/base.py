"""The transport contract: how the coordinator gets a JSON-lines channel to an agent.

A transport only starts an agent and hands back a byte-line channel; it knows
nothing about probes. `AgentClient` (in `netcheck.agentclient`) speaks the
protocol over whatever channel a transport returns.
"""

from __future__ import annotations

from typing import Protocol

from netcheck.topology.model import Host

__all__ = ["AgentChannel", "Transport"]


class AgentChannel(Protocol):
    """One running agent: lines in, lines out.

    A channel to an agent in this process may carry the message objects instead of
    lines; it says so with a true `carries_messages` attribute (see
    `netcheck_agent.channels.memory_channel_pair`).
    """

    async def send(self, line: bytes) -> None:
        """Send one protocol line (newline-terminated); a message object on a
        channel that carries messages."""

    async def receive(self) -> bytes | None:
        """The next line from the agent (a message object on a channel that carries
        messages); None when the agent is gone (EOF)."""

    async def close(self) -> None:
        """Close the channel; the agent exits when its channel closes."""


class Transport(Protocol):
    name: str

    async def start(self, host: Host) -> AgentChannel:
        """Start an agent for `host`; raise TransportError with a reason a user can act on."""
