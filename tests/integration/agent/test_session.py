"""The full Agent over a memory channel pair, against real loopback sockets."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, Dict, List, Optional

from netcheck_agent import protocol as p
from netcheck_agent.agent import Agent
from netcheck_agent.channels import QueueChannel, memory_channel_pair

NONCE = "c0ffee" * 4


class Coordinator:
    """The test's side of the channel: send requests, read replies by type."""

    def __init__(self, chan: QueueChannel):
        self.chan = chan

    async def send(self, msg: Any) -> None:
        raw = msg if isinstance(msg, bytes) else p.encode(msg)
        await self.chan.send(raw)

    async def recv(self) -> Optional[p.Message]:
        line = await asyncio.wait_for(self.chan.receive(), 5)
        return None if line is None else p.decode(line)

    async def until(self, cls: type) -> List[p.Message]:
        """Every message up to and including the first ``cls``."""
        got: List[p.Message] = []
        while True:
            msg = await self.recv()
            assert msg is not None, f"channel ended before {cls.__name__}: {got}"
            got.append(msg)
            if isinstance(msg, cls):
                return got


def start_agent(**kw: Any) -> tuple[asyncio.Task[str], Coordinator]:
    agent_side, coord_side = memory_channel_pair()
    task = asyncio.get_running_loop().create_task(Agent(agent_side).run(**kw))
    return task, Coordinator(coord_side)


def test_hello_batch_responders_bye(arun: Any, listen: Any, free_port: Any) -> None:
    _open_sock, open_port = listen("127.0.0.11")
    closed = free_port("127.0.0.11")

    async def main() -> None:
        task, co = start_agent()
        hello = await co.recv()
        assert isinstance(hello, p.Hello)
        assert hello.protocol == 1 and hello.agent_version == "0.1.0"
        assert set(hello.capabilities) >= {"tcp_info", "bind_no_port", "scapy", "raw_sockets"}

        await co.send(
            p.RespondersStart("r1", NONCE, (p.ListenSpec("127.0.0.12", 0),), ttl_s=10, max_conns=50)
        )
        ready = (await co.until(p.RespondersReady))[-1]
        assert isinstance(ready, p.RespondersReady)
        rport = ready.listening[0].port

        probes = (
            p.ProbeRequest(
                "open", "tcp_connect", "127.0.0.11", open_port, samples=2, interval_ms=20
            ),
            p.ProbeRequest("closed", "tcp_connect", "127.0.0.11", closed),
            p.ProbeRequest(
                "proven", "tcp_connect", "127.0.0.12", rport, src="127.0.0.10", nonce=NONCE
            ),
            p.ProbeRequest("mystery", "icmp", "127.0.0.11", 1),
        )
        await co.send(p.ProbeBatch("b1", probes, concurrency=8))
        msgs = await co.until(p.BatchDone)
        results: Dict[str, p.Result] = {m.cell: m for m in msgs if isinstance(m, p.Result)}
        assert msgs[-1] == p.BatchDone("b1", 4, queued=0, limit=8)  # nothing waited for a slot
        assert [s.outcome for s in results["open"].samples] == ["open", "open"]
        assert results["closed"].samples[0].outcome == "refused"
        assert results["proven"].samples[0].outcome == "open"
        assert results["proven"].samples[0].proven is True
        assert results["mystery"].samples[0].outcome == "error"

        await co.send(p.RespondersStop("r1"))
        stopped = (await co.until(p.RespondersStopped))[-1]
        assert stopped == p.RespondersStopped("r1", 1, 1, "requested")

        await co.send(p.Bye())
        assert await co.recv() == p.Bye()
        assert await co.recv() is None  # the agent closed its side
        assert await task == "bye"

    arun(main())


def test_malformed_input_gets_errors_and_the_session_goes_on(arun: Any) -> None:
    async def main() -> None:
        task, co = start_agent()
        await co.recv()  # hello
        await co.send(b"this is not json\n")
        await co.send(b'{"type":"probe_batch","batch":"b9","probes":[{"cell":"c"}]}\n')
        await co.send(b'{"type":"warp_drive","id":"w1"}\n')
        await co.send(b"\n")
        await co.send(p.encode(p.BatchDone("b1", 0)))  # an agent message, wrong direction
        await co.send(p.RespondersStop("nope"))
        errors = [await co.recv() for _ in range(4)]
        assert [(e.code, e.ref) for e in errors] == [  # type: ignore[union-attr]
            ("bad_message", None),
            ("bad_message", "b9"),
            ("unknown_type", "w1"),
            ("bad_message", "b1"),
        ]
        assert "probes[0].kind" in errors[1].message  # type: ignore[union-attr]
        assert await co.recv() == p.Error("nope", "bad_message", "no such responder id")
        await co.send(p.ProbeBatch("ok", ()))
        assert await co.recv() == p.BatchDone("ok", 0, queued=None, limit=256)  # no attempt
        await co.send(p.Bye())
        assert await task == "bye"

    arun(main())


def test_eof_stops_everything_and_closes_listeners(arun: Any, listen: Any) -> None:
    _lsock, port = listen("127.0.0.33", backlog=0)
    filler = socket.create_connection(("127.0.0.33", port), timeout=1)

    async def main() -> None:
        task, co = start_agent()
        await co.recv()
        await co.send(p.RespondersStart("r1", NONCE, (p.ListenSpec("127.0.0.13", 0),), 60, 10))
        ready = (await co.until(p.RespondersReady))[-1]
        rport = ready.listening[0].port  # type: ignore[union-attr]
        # a long batch against a full accept queue: attempts hang until cancelled
        slow = tuple(
            p.ProbeRequest(f"c{i}", "tcp_connect", "127.0.0.33", port, samples=50, timeout_ms=5000)
            for i in range(4)
        )
        await co.send(p.ProbeBatch("long", slow, concurrency=4))
        await asyncio.sleep(0.2)
        await co.chan.close()  # the coordinator vanishes
        assert await asyncio.wait_for(task, 3) == "eof"
        try:
            await asyncio.open_connection("127.0.0.13", rport)
        except ConnectionRefusedError:
            return
        raise AssertionError("responder still listening after the coordinator left")

    try:
        arun(main())
    finally:
        filler.close()


def test_lifetime_cap_ends_the_session(arun: Any) -> None:
    async def main() -> None:
        task, co = start_agent(max_seconds=0.2)
        await co.recv()
        err = await co.recv()
        assert isinstance(err, p.Error) and err.code == "lifetime"
        assert await co.recv() == p.Bye()
        assert await task == "lifetime"

    arun(main())


def test_duplicate_ids_are_rejected(arun: Any, listen: Any) -> None:
    _lsock, port = listen("127.0.0.34", backlog=0)
    filler = socket.create_connection(("127.0.0.34", port), timeout=1)

    async def main() -> None:
        task, co = start_agent()
        await co.recv()
        slow = (p.ProbeRequest("c", "tcp_connect", "127.0.0.34", port, timeout_ms=300),)
        await co.send(p.ProbeBatch("same", slow))
        await co.send(p.ProbeBatch("same", slow))
        err = await co.recv()
        assert err == p.Error("same", "bad_message", "batch id is already running")
        msgs = await co.until(p.BatchDone)
        assert msgs[0].samples[0].outcome == "timeout"  # type: ignore[union-attr]
        await co.send(p.Bye())
        assert await task == "bye"

    try:
        arun(main())
    finally:
        filler.close()


def test_results_are_json_lines_on_the_wire(arun: Any, listen: Any) -> None:
    _s, port = listen("127.0.0.11")

    async def main() -> None:
        agent_side, coord_side = memory_channel_pair()
        task = asyncio.get_running_loop().create_task(Agent(agent_side).run())
        await coord_side.receive()
        await coord_side.send(
            json.dumps(
                {
                    "type": "probe_batch",
                    "batch": "w",
                    "probes": [
                        {"cell": "x", "kind": "tcp_connect", "dst": "127.0.0.11", "port": port}
                    ],
                }
            ).encode()
            + b"\n"
        )
        raw = await coord_side.receive()
        assert raw is not None and raw.endswith(b"\n")
        obj = json.loads(raw)
        assert obj["type"] == "result" and obj["samples"][0]["outcome"] == "open"
        assert set(obj["samples"][0]) == {
            "outcome",
            "rtt_us",
            "rtt_source",
            "errno",
            "detail",
            "proven",
            "t",
        }
        await coord_side.send(p.encode(p.Bye()))
        await task

    arun(main())


class PlainChannel:
    """A channel with only the two required methods (no send_nowait)."""

    def __init__(self, inner: QueueChannel):
        self.inner = inner

    async def receive(self) -> Optional[bytes]:
        return await self.inner.receive()

    async def send(self, data: bytes) -> None:
        await asyncio.sleep(0)  # a transport that really awaits
        await self.inner.send(data)


def test_any_channel_with_receive_and_send_works(arun: Any, listen: Any) -> None:
    _s, port = listen("127.0.0.11")

    async def main() -> None:
        agent_side, coord_side = memory_channel_pair()
        task = asyncio.get_running_loop().create_task(Agent(PlainChannel(agent_side)).run())
        co = Coordinator(coord_side)
        assert isinstance(await co.recv(), p.Hello)
        cells = tuple(p.ProbeRequest(f"c{i}", "tcp_connect", "127.0.0.11", port) for i in range(20))
        await co.send(p.ProbeBatch("b", cells, concurrency=5))
        msgs = await co.until(p.BatchDone)
        assert len(msgs) == 21 and msgs[-1] == p.BatchDone("b", 20, queued=0, limit=5)
        await co.send(p.Bye())
        assert await co.recv() == p.Bye()
        assert await task == "bye"

    arun(main())


def test_responders_that_expire_report_it_unprompted(arun: Any) -> None:
    async def main() -> None:
        task, co = start_agent()
        await co.recv()
        await co.send(p.RespondersStart("r1", NONCE, (p.ListenSpec("127.0.0.13", 0),), 0.2, 10))
        assert isinstance(await co.recv(), p.RespondersReady)
        assert await co.recv() == p.RespondersStopped("r1", 0, 0, "ttl")  # nobody asked
        await co.send(p.RespondersStop("r1"))  # a late stop gets the same answer
        assert await co.recv() == p.RespondersStopped("r1", 0, 0, "ttl")
        await co.send(p.Bye())
        assert await co.recv() == p.Bye()
        assert await task == "bye"

    arun(main())
