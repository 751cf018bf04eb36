"""The scheduler's Linux engine: a batch's attempts driven by one ``epoll``.

The portable path (:mod:`.scheduler`) runs each attempt as a coroutine in a
worker task, with an asyncio future, a selector registration and a timer per
attempt; at thousands of attempts per second that bookkeeping, not the
network, is the cost. Here a batch owns one ``select.epoll`` registered once
with the event loop (``loop.add_reader`` on the epoll's own descriptor), and
each attempt is a small state machine (:class:`~.probes.base.Machine`):

- :func:`Machine.start <.probes.tcp_connect.start>` opens a non-blocking
  socket and starts the connect. Often the handshake is over by then (on
  loopback the kernel completes or refuses it inside ``connect``): such an
  attempt is ``ready`` and never touches the epoll. Its ``step`` runs after
  the round of starts, so every connect of the round goes out first (a
  silently dropped cell's timeout starts as early as it can, and overlaps
  the others');
- otherwise its socket joins the epoll for what ``attempt.want`` says, its
  deadline goes on a heap served by one loop timer, and ``step`` advances it
  on each readiness event until it is done;
- at the deadline ``expire`` ends it (after a last look at pending events, so
  an answer that arrived in time is never called a timeout); when the batch
  is cancelled ``cancel`` closes every socket still open.

Concurrency (``concurrency`` per batch and the agent-wide ``limiter``),
pacing (start-to-start ``interval_ms``) and deadlines stay here, as on the
portable path; the probe only does its one attempt. This module is used only
where ``select.epoll`` exists and the loop is a selector loop.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Set, Tuple

from .probes import Machine
from .protocol import ProbeRequest, Result, Sample

try:
    from select import epoll as _epoll
except ImportError:  # Windows, macOS
    _epoll = None  # type: ignore[assignment,misc,unused-ignore]

ResultSink = Callable[[Result], None]
MachineLookup = Callable[[str], Optional[Machine]]


def available(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this engine can run on ``loop`` (epoll exists, loop takes readers)."""
    return _epoll is not None and isinstance(loop, asyncio.SelectorEventLoop)


class _Cell:
    """Progress of one cell: its request, machine, samples so far, last start."""

    __slots__ = ("machine", "req", "samples", "started")

    def __init__(self, req: ProbeRequest, machine: Optional[Machine]):
        self.req = req
        self.machine = machine
        self.samples: List[Sample] = []
        self.started = 0.0


def _unsupported(req: ProbeRequest) -> Sample:
    return Sample(
        "error", detail=f"probe kind {req.kind!r} is not supported by this agent", t=time.time()
    )


def _internal(exc: Exception) -> Sample:
    return Sample("error", detail=f"internal: {type(exc).__name__}: {exc}", t=time.time())


async def run_batch(
    batch: str,
    requests: Sequence[ProbeRequest],
    concurrency: int,
    on_result: ResultSink,
    machines: MachineLookup,
    limiter: Optional[asyncio.Semaphore] = None,
    stats: Optional[Dict[str, int]] = None,
) -> int:
    """Probe every cell of ``requests``; return the number of results emitted.

    Same contract as :func:`.scheduler.run_batch`: exactly ``sum(samples)``
    attempts, at most ``concurrency`` in flight (and one ``limiter`` slot per
    attempt), each bounded by its ``timeout_ms``, one :class:`Result` per
    cell the moment its last attempt ends. ``stats["queued"]`` counts the
    attempts that were due but waited for a slot (the limit forced queuing).
    """
    loop = asyncio.get_running_loop()
    total = len(requests)
    fresh = iter(requests)
    # Cells whose next attempt is due; they go before fresh cells so a started
    # cell keeps its interval and finishes (and streams) early.
    due: Deque[_Cell] = collections.deque()
    # Attempts whose handshake ended inside connect() (loopback): stepped after the
    # round of starts, so all of the round's connects go out first.
    at_once: Deque[Tuple[Any, _Cell]] = collections.deque()
    timers: Set[asyncio.TimerHandle] = set()
    # fd -> (attempt, its cell, the events it is registered for)
    waiting: Dict[int, Tuple[Any, _Cell, int]] = {}
    deadlines: List[Tuple[float, int, int, Any]] = []  # (at, seq, fd, attempt)
    seq = itertools.count()
    ep: Any = None
    deadline_timer: Optional[asyncio.TimerHandle] = None
    armed_at = 0.0
    wake: Optional[asyncio.Future[None]] = None
    in_flight = 0
    finished = 0
    n_fresh = 0
    queued = 0  # attempts that were due while every slot was taken
    held = False  # the last round stopped at the limit with attempts still due

    def wake_up() -> None:
        if wake is not None and not wake.done():
            wake.set_result(None)

    def make_due(cell: _Cell, box: List[asyncio.TimerHandle]) -> None:
        timers.discard(box[0])
        due.append(cell)
        wake_up()

    def settle(cell: _Cell, sample: Sample) -> None:
        """An attempt of ``cell`` ended: free its slot, then report or pace the cell."""
        nonlocal in_flight, finished
        in_flight -= 1
        if limiter is not None:
            limiter.release()
        cell.samples.append(sample)
        req = cell.req
        if len(cell.samples) >= req.samples:
            finished += 1
            on_result(Result(batch, req.cell, tuple(cell.samples)))
            return
        at = cell.started + req.interval_ms / 1000.0
        if at <= loop.time():
            due.append(cell)
        else:
            box: List[asyncio.TimerHandle] = []
            box.append(loop.call_at(at, make_due, cell, box))
            timers.add(box[0])

    def advance(att: Any, cell: _Cell) -> Optional[bool]:
        """Step ``att``: whether it is done; None when a probe bug ended it (as data)."""
        machine = cell.machine
        assert machine is not None
        try:
            done: bool = machine.step(att)
        except Exception as exc:  # a probe bug is reported as data
            machine.cancel(att)
            settle(cell, _internal(exc))
            return None
        return done

    def on_ready() -> None:
        """The epoll has events: step each ready attempt."""
        for fd, _events in ep.poll(0):
            entry = waiting.get(fd)
            if entry is None:
                continue
            att, cell, registered = entry
            done = advance(att, cell)
            if done is None:
                del waiting[fd]
                continue
            if done:
                del waiting[fd]  # the machine closed the socket: epoll forgot it
                settle(cell, att.sample)
            elif att.want != registered:
                ep.modify(fd, att.want)
                waiting[fd] = (att, cell, att.want)
        wake_up()

    def arm(at: float) -> None:
        nonlocal deadline_timer, armed_at
        if deadline_timer is not None:
            if armed_at <= at:
                return
            deadline_timer.cancel()
        armed_at = at
        deadline_timer = loop.call_at(at, on_deadline)

    def on_deadline() -> None:
        nonlocal deadline_timer
        deadline_timer = None
        on_ready()  # what arrived in time counts, even if its event is still pending
        now = loop.time()
        while deadlines and deadlines[0][0] <= now:
            _at, _seq, fd, att = heapq.heappop(deadlines)
            entry = waiting.get(fd)
            if entry is None or entry[0] is not att:
                continue  # finished earlier (and the descriptor maybe reused)
            del waiting[fd]
            cell = entry[1]
            assert cell.machine is not None
            settle(cell, cell.machine.expire(att))
        if not waiting:
            deadlines.clear()
        elif deadlines:
            arm(deadlines[0][0])
        wake_up()

    def begin(cell: _Cell) -> None:
        """Start the next attempt of ``cell`` (its slot is already taken)."""
        machine = cell.machine
        cell.started = loop.time()
        if machine is None:
            settle(cell, _unsupported(cell.req))
            return
        try:
            att = machine.start(cell.req)
        except Exception as exc:
            settle(cell, _internal(exc))
            return
        if att.sample is not None:
            settle(cell, att.sample)
        elif att.ready:
            at_once.append((att, cell))
        else:
            watch(att, cell)

    def finish_first() -> None:
        """Step the oldest attempt whose connect finished inside ``connect()``."""
        att, cell = at_once.popleft()
        done = advance(att, cell)
        if done:
            settle(cell, att.sample)
        elif done is False:  # e.g. the challenge is sent: now it waits for the answer
            watch(att, cell)

    def watch(att: Any, cell: _Cell) -> None:
        """Wait for ``att``'s socket: the epoll, and its deadline on the heap."""
        nonlocal ep
        if ep is None:
            ep = _epoll()
            loop.add_reader(ep.fileno(), on_ready)
        fd = att.fd
        ep.register(fd, att.want)
        waiting[fd] = (att, cell, att.want)
        at = cell.started + cell.req.timeout_ms / 1000.0
        heapq.heappush(deadlines, (at, next(seq), fd, att))
        arm(at)

    try:
        while finished < total:
            while in_flight < concurrency or (at_once and (due or n_fresh < total)):
                if in_flight >= concurrency:
                    finish_first()  # a finished connect holds the slot the next one needs
                    continue
                if due:
                    cell = due.popleft()
                elif n_fresh < total:
                    req = next(fresh)
                    n_fresh += 1
                    cell = _Cell(req, machines(req.kind))
                else:
                    break
                if held:
                    queued += 1
                if limiter is not None:
                    while limiter.locked() and at_once:
                        finish_first()  # our own finished connects hold slots: free them
                    if limiter.locked():
                        queued += not held  # waits for another batch's attempts
                    await limiter.acquire()
                in_flight += 1
                begin(cell)
            if at_once:
                while at_once:
                    finish_first()
                if in_flight < concurrency and (due or n_fresh < total):
                    continue  # the limit was reached only by attempts now finished
            held = in_flight >= concurrency and (bool(due) or n_fresh < total)
            if finished >= total:
                break
            wake = loop.create_future()
            try:
                await wake
            finally:
                wake = None
    finally:
        for handle in timers:
            handle.cancel()
        if deadline_timer is not None:
            deadline_timer.cancel()
        for att, cell in at_once:
            assert cell.machine is not None
            cell.machine.cancel(att)  # closes the socket
            if limiter is not None:
                limiter.release()
        at_once.clear()
        for att, cell, _registered in waiting.values():
            assert cell.machine is not None
            cell.machine.cancel(att)  # closes the socket
            if limiter is not None:
                limiter.release()
        waiting.clear()
        if ep is not None:
            loop.remove_reader(ep.fileno())
            ep.close()
        if stats is not None:
            stats["queued"] = queued
    return finished
