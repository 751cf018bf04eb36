"""The one place that owns concurrency and pacing of probe attempts.

A batch is a list of cells; each cell asks for ``samples`` attempts spaced
``interval_ms`` apart (start to start, like ping) with ``timeout_ms`` per
attempt. :func:`run_batch` keeps at most ``concurrency`` attempts in flight
(a fixed pool of worker tasks, so the cost does not grow with the batch) and
hands each cell's :class:`Result` to a callback the moment its last attempt
finishes, so results stream while the batch is still running.

Everything is bounded: the batch performs exactly ``sum(samples)`` attempts,
each bounded by its timeout; cancelling :func:`run_batch` cancels the
workers, whose probes close their sockets on the way out.

Two engines keep that contract. Where ``select.epoll`` exists (Linux) and
every kind of the batch has a state machine, :mod:`.engine` drives the
attempts from one epoll without a task, future or timer per attempt; that is
several times cheaper per attempt. Elsewhere (Windows, macOS, injected
``ops``/probes in tests) the portable path below runs each attempt as a
coroutine in a fixed pool of worker tasks.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Callable, Deque, Dict, List, Optional, Sequence, Set

from . import engine as _engine
from .probes import SocketOps, get_machine, get_probe
from .probes.base import ProbeFunc
from .protocol import ProbeRequest, Result, Sample

ResultSink = Callable[[Result], None]
ProbeLookup = Callable[[str], Optional[ProbeFunc]]


class _Cell:
    """Progress of one cell: its request, probe, samples so far, last start."""

    __slots__ = ("probe", "req", "samples", "started")

    def __init__(self, req: ProbeRequest, probe: ProbeFunc):
        self.req = req
        self.probe = probe
        self.samples: List[Sample] = []
        self.started = 0.0


def _unsupported(kind: str) -> ProbeFunc:
    async def probe(req: ProbeRequest, ops: Optional[SocketOps]) -> Sample:
        return Sample(
            "error", detail=f"probe kind {kind!r} is not supported by this agent", t=time.time()
        )

    return probe


async def _attempt(cell: _Cell, ops: Optional[SocketOps]) -> Sample:
    """Run one attempt; a probe that raises is a bug, reported as data."""
    try:
        return await cell.probe(cell.req, ops)
    except Exception as exc:
        return Sample("error", detail=f"internal: {type(exc).__name__}: {exc}", t=time.time())


async def run_batch(
    batch: str,
    requests: Sequence[ProbeRequest],
    concurrency: int,
    on_result: ResultSink,
    *,
    ops: Optional[SocketOps] = None,
    lookup: ProbeLookup = get_probe,
    limiter: Optional[asyncio.Semaphore] = None,
    engine: str = "auto",
    stats: Optional[Dict[str, int]] = None,
) -> int:
    """Probe every cell of ``requests``; return the number of results emitted.

    ``limiter`` is an agent-wide cap shared by concurrent batches (so several
    batches together cannot exhaust file descriptors); ``ops`` replaces the
    real socket operations in tests. ``engine`` is ``"auto"`` (epoll where it
    can), ``"epoll"`` (required: ValueError where it cannot) or ``"portable"``.
    ``stats["queued"]`` is set where the epoll engine ran the batch's TCP cells:
    the attempts that waited for a slot (the portable path does not count them;
    a mixed batch's few application probes, on the portable path, are not counted).
    """
    if engine not in ("auto", "epoll", "portable"):
        raise ValueError(f"engine must be auto, epoll or portable, got {engine!r}")
    if not requests:
        return 0
    loop = asyncio.get_running_loop()
    if engine != "portable":
        usable = ops is None and lookup is get_probe and _engine.available(loop)
        # A kind with only a coroutine probe needs the portable path; unknown
        # kinds are error samples on either.
        on_engine = [
            r for r in requests if get_machine(r.kind) is not None or get_probe(r.kind) is None
        ]
        if usable and len(on_engine) == len(requests):
            return await _engine.run_batch(
                batch, requests, concurrency, on_result, get_machine, limiter, stats
            )
        if usable and on_engine and engine == "auto":
            # A mixed batch (thousands of tcp_connect cells and a few TLS/DNS/NTP
            # ones): each kind on the engine that suits it, side by side.
            rest = [r for r in requests if get_machine(r.kind) is None and get_probe(r.kind)]
            counts = await asyncio.gather(
                _engine.run_batch(
                    batch, on_engine, concurrency, on_result, get_machine, limiter, stats
                ),
                run_batch(batch, rest, concurrency, on_result, limiter=limiter, engine="portable"),
            )
            return sum(counts)
        if engine == "epoll":
            raise ValueError("the epoll engine cannot run this batch here")
    fresh: Deque[ProbeRequest] = collections.deque(requests)
    # Cells whose next attempt is due. They go before fresh cells so a started
    # cell keeps its interval and finishes (and streams) early.
    due: asyncio.Queue[Optional[_Cell]] = asyncio.Queue()
    timers: Set[asyncio.TimerHandle] = set()
    n_workers = min(concurrency, len(requests))
    total = len(requests)
    finished = 0

    def make_due(cell: _Cell, handle_box: List[asyncio.TimerHandle]) -> None:
        timers.discard(handle_box[0])
        due.put_nowait(cell)

    def next_cell() -> Optional[_Cell]:
        if not due.empty():
            return due.get_nowait()
        if fresh:
            req = fresh.popleft()
            return _Cell(req, lookup(req.kind) or _unsupported(req.kind))
        return None

    async def worker() -> None:
        nonlocal finished
        while True:
            cell = next_cell()
            if cell is None:
                if finished == total:
                    return
                cell = await due.get()
                if cell is None:  # the batch is complete
                    return
            cell.started = loop.time()
            if limiter is None:
                sample = await _attempt(cell, ops)
            else:
                async with limiter:
                    sample = await _attempt(cell, ops)
            cell.samples.append(sample)
            req = cell.req
            if len(cell.samples) >= req.samples:
                on_result(Result(batch, req.cell, tuple(cell.samples)))
                finished += 1
                if finished == total:
                    for _ in range(n_workers):
                        due.put_nowait(None)
                continue
            delay = cell.started + req.interval_ms / 1000.0 - loop.time()
            if delay <= 0:
                due.put_nowait(cell)
            else:
                box: List[asyncio.TimerHandle] = []
                box.append(loop.call_later(delay, make_due, cell, box))
                timers.add(box[0])

    workers = [loop.create_task(worker()) for _ in range(n_workers)]
    try:
        await asyncio.gather(*workers)
    finally:
        for handle in timers:
            handle.cancel()
        for task in workers:
            task.cancel()
        # Let cancelled workers run their probes' cleanup (sockets closed).
        await asyncio.gather(*workers, return_exceptions=True)
    return finished
