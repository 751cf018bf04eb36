"""The local transport: the agent runs in-process, on the coordinator's event loop.

Agent and coordinator exchange the protocol's message objects over an in-memory
channel: the same messages, built and validated the same way as over SSH, without
a JSON line in between (both ends are this process). The wire codec is the SSH
path's; its golden tests and the SSH integration tests prove it.
"""

from __future__ import annotations

import asyncio
import logging

from netcheck_agent.agent import Agent
from netcheck_agent.channels import memory_channel_pair

from netcheck.topology.model import Host
from netcheck.transports.base import AgentChannel

__all__ = ["LocalTransport"]

log = logging.getLogger(__name__)


class _LocalChannel:
    def __init__(self, host: str) -> None:
        self._mine, theirs = memory_channel_pair(carries_messages=True)
        self.carries_messages = True
        self._task = asyncio.ensure_future(Agent(theirs).run())
        self._host = host

    async def send(self, line: bytes) -> None:  # a message object (carries_messages)
        if self._task.done():
            raise ConnectionError("the in-process agent has stopped")
        await self._mine.send(line)

    async def receive(self) -> bytes | None:  # a message object (carries_messages)
        item: bytes | None = await self._mine.receive()
        return item

    async def close(self) -> None:
        await self._mine.close()
        task = self._task
        if not task.done():
            # asyncio.wait neither cancels the agent on timeout nor wraps it (as
            # wait_for(shield(...)) did): a thousand agents close in one sweep.
            await asyncio.wait((task,), timeout=5.0)
        if not task.done():
            log.warning("[host=%s] in-process agent did not stop; cancelling it", self._host)
            task.cancel()
        elif not task.cancelled() and task.exception() is not None:
            log.warning("[host=%s] in-process agent failed: %r", self._host, task.exception())


class LocalTransport:
    """Every `local` host is this machine, so one in-process agent serves them all
    (`shared`): the sweep starts it once and sends it one batch with the cells of
    every local source host, each bound to its own source address."""

    name = "local"
    shared = True

    async def start(self, host: Host) -> AgentChannel:
        return _LocalChannel(host.name)
