"""One-off throughput check: N tcp_connect cells through a full Agent.

The agent runs in-process over a memory channel pair (the local transport),
the coordinator side decodes every result line, and the targets are real
listeners on 127.0.0.11-20 served by a separate accept-and-close process.
Loopback only. Usage: ``PYTHONPATH=agents python agents/tools/bench_loopback.py
[cells] [concurrency] [rounds]``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import selectors
import socket
import sys
import time
from collections import Counter
from typing import Any, List, Tuple

from netcheck_agent import Agent, memory_channel_pair, protocol

ADDRESSES = [f"127.0.0.{i}" for i in range(11, 21)]


def serve(addresses: List[str], ready: Any) -> None:
    """Accept and close as fast as possible on every address (bounded by the parent)."""
    sel = selectors.DefaultSelector()
    ports = []
    for address in addresses:
        sock = socket.socket()
        sock.bind((address, 0))
        sock.listen(4096)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        ports.append((address, sock.getsockname()[1]))
    ready.put(ports)
    while True:
        for key, _ in sel.select(1.0):
            for _ in range(256):
                try:
                    conn, _peer = key.fileobj.accept()  # type: ignore[union-attr]
                except BlockingIOError:
                    break
                conn.close()


async def one_round(targets: List[Tuple[str, int]], cells: int, concurrency: int) -> float:
    agent_side, coord = memory_channel_pair()
    task = asyncio.get_running_loop().create_task(Agent(agent_side).run())
    assert isinstance(protocol.decode(await coord.receive() or b""), protocol.Hello)
    probes = tuple(
        protocol.ProbeRequest(f"c{i}", "tcp_connect", *targets[i % len(targets)], timeout_ms=2000)
        for i in range(cells)
    )
    outcomes: Counter = Counter()
    started, cpu_started = time.perf_counter(), time.process_time()
    await coord.send(protocol.encode(protocol.ProbeBatch("bench", probes, concurrency)))
    while True:
        msg = protocol.decode(await coord.receive() or b"")
        if isinstance(msg, protocol.Result):
            outcomes[msg.samples[0].outcome] += 1
        elif isinstance(msg, protocol.BatchDone):
            break
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await coord.send(protocol.encode(protocol.Bye()))
    await task
    print(
        f"  {cells} cells in {elapsed:.3f} s = {cells / elapsed:,.0f} cells/s "
        f"(agent+decoding CPU {cpu:.2f} s = {cells / cpu:,.0f} cells per CPU-second) {dict(outcomes)}"
    )
    return cells / elapsed


def main() -> None:
    cells = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    ready: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ADDRESSES, ready), daemon=True)
    server.start()
    try:
        targets = ready.get(timeout=10)
        rates = [asyncio.run(one_round(targets, cells, concurrency)) for _ in range(rounds)]
        print(f"best {max(rates):,.0f} cells/s, median {sorted(rates)[len(rates) // 2]:,.0f}")
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
