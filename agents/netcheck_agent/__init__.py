"""netcheck agent: runs probes and responders on one host for the coordinator.

Standard library only, Python 3.9+, Linux and Windows. The agent opens no
control port: it speaks protocol v1 (JSON lines, see :mod:`.protocol`) over
the one channel it was started with (stdin/stdout over SSH, or an in-memory
queue pair for the coordinator's local transport) and stops when that
channel closes.

The coordinator's entry points::

    from netcheck_agent import Agent, memory_channel_pair, protocol
    agent_side, coordinator_side = memory_channel_pair()
    task = asyncio.create_task(Agent(agent_side).run(max_seconds=3600))
    await coordinator_side.send(protocol.encode(protocol.ProbeBatch(...)))
    msg = protocol.decode(await coordinator_side.receive())

and :func:`build_zipapp` for the file the SSH transport uploads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
PROTOCOL_VERSION = 1

# Imported after the version constants: the modules below read them.
from . import protocol  # noqa: E402
from .agent import Agent  # noqa: E402
from .channels import Channel, QueueChannel, StdioChannel, memory_channel_pair  # noqa: E402
from .protocol import ProtocolError, decode, encode  # noqa: E402

if TYPE_CHECKING:
    from .zipapp_build import build_zipapp


def __getattr__(name: str) -> Any:
    # build_zipapp is the coordinator's, never needed by a running agent: its
    # imports (zipfile, zipapp, pathlib) stay out of the agent's start-up.
    if name == "build_zipapp":
        from .zipapp_build import build_zipapp

        return build_zipapp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROTOCOL_VERSION",
    "Agent",
    "Channel",
    "ProtocolError",
    "QueueChannel",
    "StdioChannel",
    "__version__",
    "build_zipapp",
    "decode",
    "encode",
    "memory_channel_pair",
    "protocol",
]
