"""An agent's hello limit adapts to the fleet (issue 15, goal 4): load is not a dead host.

`StartPace` is pure (the caller passes the clock); the AgentClient tests run a
silent agent on the in-memory channel the local transport uses, with limits of
tenths of a second.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from netcheck_agent import protocol as p
from netcheck_agent.channels import memory_channel_pair

from netcheck.agentclient import AgentClient
from netcheck.deadline import StartPace
from netcheck.errors import TransportError

HELLO = p.Hello(p.PROTOCOL_VERSION, "test", "fake", 1, "3.11", "linux", {})


def test_alone_an_agent_has_the_quiet_limit_from_its_own_start() -> None:
    pace = StartPace(quiet_s=20, cap_s=120)
    assert pace.hello_deadline(began=100.0, spawned=103.0) == 123.0


def test_progress_of_other_agents_stretches_the_limit_up_to_the_cap() -> None:
    pace = StartPace(quiet_s=20, cap_s=120)
    pace.progress(130.0)  # another agent said hello at 130
    assert pace.hello_deadline(began=100.0, spawned=103.0) == 150.0
    pace.progress(110.0)  # progress never goes back
    assert pace.hello_deadline(began=100.0, spawned=103.0) == 150.0
    pace.progress(500.0)  # however busy the fleet, 120 s after this host's connect began
    assert pace.hello_deadline(began=100.0, spawned=103.0) == 220.0


def test_the_reasons_say_which_limit_ran_out() -> None:
    pace = StartPace(quiet_s=20, cap_s=120)
    assert pace.explain(100.0, 103.0, 123.0) == "the agent did not say hello within 20 s"
    pace.progress(140.0)
    assert pace.explain(100.0, 103.0, 160.0) == (
        "the agent did not say hello within 57 s of its start (no agent of the sweep "
        "got further in the last 20 s)"
    )
    pace.progress(500.0)
    assert pace.explain(100.0, 103.0, 220.0) == (
        "the agent did not say hello within 120 s of the SSH connect (117 s after it started)"
    )


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError):
        StartPace(quiet_s=0)
    with pytest.raises(ValueError):
        StartPace(quiet_s=30, cap_s=20)


async def _progress_every(pace: StartPace, seconds: float, times: int) -> None:
    loop = asyncio.get_running_loop()
    for _ in range(times):
        await asyncio.sleep(seconds)
        pace.progress(loop.time())


def test_a_slow_agent_in_a_fleet_that_makes_progress_is_still_waited_for() -> None:
    async def main() -> str:
        agent, mine = memory_channel_pair()
        pace = StartPace(quiet_s=0.3, cap_s=5.0)
        loop = asyncio.get_running_loop()
        others = asyncio.ensure_future(_progress_every(pace, 0.1, 8))  # other hosts' hellos

        async def late_hello() -> None:
            await asyncio.sleep(0.7)  # > quiet_s after its start: a fixed limit would fail it
            await agent.send(p.encode(HELLO))

        sender = asyncio.ensure_future(late_hello())
        client = await AgentClient.connect("h01", mine, pace=pace, began=loop.time())
        await asyncio.gather(others, sender)
        await client.close()
        return client.hello.host

    assert asyncio.run(asyncio.wait_for(main(), 10)) == "fake"


def test_a_dead_agent_fails_once_the_fleet_is_quiet_or_at_the_cap() -> None:
    async def main(progress_for: int, cap_s: float) -> tuple[str, float]:
        _, mine = memory_channel_pair()  # says nothing, ever
        pace = StartPace(quiet_s=0.3, cap_s=cap_s)
        loop = asyncio.get_running_loop()
        others = asyncio.ensure_future(_progress_every(pace, 0.1, progress_for))
        t0 = time.monotonic()
        began = loop.time() - 0.05  # the SSH connect took 50 ms
        with pytest.raises(TransportError) as err:
            await AgentClient.connect("h01", mine, pace=pace, began=began)
        others.cancel()
        return err.value.reason, time.monotonic() - t0

    # the others came up within 0.5 s; the dead one fails 0.3 s after the last of them
    reason, took = asyncio.run(main(progress_for=5, cap_s=5.0))
    assert 0.7 <= took < 2.0, took
    assert "of its start (no agent of the sweep got further in the last 0.3 s)" in reason
    # a fleet that keeps coming up for longer than the cap: the cap ends the wait
    reason, took = asyncio.run(main(progress_for=100, cap_s=1.0))
    assert 0.9 <= took < 2.5, took
    assert reason.startswith("the agent did not say hello within 1 s of the SSH connect")
