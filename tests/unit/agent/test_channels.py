"""Channels: the in-memory pair and stdio over real pipes."""

from __future__ import annotations

import asyncio
import os
from typing import List, Optional

import pytest
from netcheck_agent.channels import StdioChannel, memory_channel_pair


def test_memory_pair_delivers_in_order_then_eof() -> None:
    async def main() -> List[Optional[bytes]]:
        agent, coord = memory_channel_pair()
        await coord.send(b"a\n")
        await coord.send(b"b\n")
        await coord.close()
        return [await agent.receive() for _ in range(4)]

    assert asyncio.run(main()) == [b"a\n", b"b\n", None, None]


def test_memory_pair_send_after_peer_closed_fails() -> None:
    async def main() -> None:
        agent, coord = memory_channel_pair()
        await coord.close()
        with pytest.raises(BrokenPipeError):
            await agent.send(b"x\n")

    asyncio.run(main())


def test_memory_pair_can_be_built_before_the_loop_runs() -> None:
    agent, coord = memory_channel_pair()  # no loop yet (matters on 3.9)

    async def main() -> Optional[bytes]:
        waiter = asyncio.get_running_loop().create_task(agent.receive())
        await asyncio.sleep(0)
        coord.send_nowait(b"late\n")
        return await waiter

    assert asyncio.run(main()) == b"late\n"


def test_stdio_channel_over_pipes() -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    stdin, feeder = os.fdopen(in_r, "rb"), os.fdopen(in_w, "wb")
    stdout, reader = os.fdopen(out_w, "wb"), os.fdopen(out_r, "rb")
    feeder.write(b"one\n" + b"x" * 300 + b"\ntwo\nlast-without-newline")
    feeder.close()

    async def main() -> List[Optional[bytes]]:
        chan = StdioChannel(stdin, stdout, max_line=100)
        got = [await chan.receive() for _ in range(5)]
        await chan.send(b"reply-1\n")
        await chan.send(b"reply-2\n")
        await chan.close()
        return got

    got = asyncio.run(main())
    assert got[0] == b"one\n"
    assert got[1] is not None and len(got[1]) == 101  # oversized: truncated head only
    assert got[2:] == [b"two\n", b"last-without-newline", None]
    stdout.close()
    assert reader.read() == b"reply-1\nreply-2\n"
    stdin.close()
    reader.close()
