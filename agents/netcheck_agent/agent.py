"""The agent: protocol v1 over one channel, probes and responders behind it.

Transport-agnostic: :class:`Agent` reads lines from a channel and writes lines
back (see :mod:`.channels`). It sends ``hello`` first, then serves requests
until the coordinator says ``bye``, the channel ends, or the lifetime cap is
reached. Security rule: the agent opens no control port, its channel is its
only control path, and when that channel ends it stops everything (batches,
responders) and returns, so nothing is left orphaned on the host.

Bad input never crashes it: a malformed line is answered with an ``error``
message (naming the batch/responder id when it could be read) and the agent
goes on. A failure inside one request becomes an ``error`` for that request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Dict, Optional

from . import __version__
from .capabilities import Capabilities, detect
from .channels import Channel, _Pipe
from .probes import SocketOps
from .protocol import (
    ERROR_BAD_MESSAGE,
    ERROR_INTERNAL,
    ERROR_LIFETIME,
    ERROR_UNKNOWN_TYPE,
    PROTOCOL_VERSION,
    STOPPED_AGENT_EXIT,
    BatchDone,
    Bye,
    Error,
    Hello,
    ProbeBatch,
    ProtocolError,
    RespondersStart,
    RespondersStop,
    RespondersStopped,
    Result,
    UnknownMessageType,
    decode,
    encode,
)
from .scheduler import run_batch

if TYPE_CHECKING:  # loaded when first needed: an agent starts with what a probe sweep uses
    from .bandwidth import BandwidthTasks
    from .nic_raw import NicTasks
    from .protocol import Message
    from .responder import ResponderSet

log = logging.getLogger(__name__)

#: Why :meth:`Agent.run` returned.
EXIT_BYE = "bye"
EXIT_EOF = "eof"
EXIT_LIFETIME = "lifetime"


#: Probe sockets the agent may hold at once, at most.
MAX_IN_FLIGHT = 8192


def default_max_in_flight() -> int:
    """Agent-wide cap on probe sockets, from the descriptor limit where known.

    The soft limit is first raised toward the hard one (as port scanners do: a
    login's usual 1,024 would otherwise queue a large sweep's slow attempts in
    waves of a few hundred timeouts each).
    """
    try:
        import resource  # POSIX only

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 1024
    if soft == resource.RLIM_INFINITY:
        return MAX_IN_FLIGHT
    want = MAX_IN_FLIGHT + 128 if hard == resource.RLIM_INFINITY else min(hard, MAX_IN_FLIGHT + 128)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (OSError, ValueError):
            pass  # keep the soft limit we have
    return max(16, min(MAX_IN_FLIGHT, soft - 128))  # keep room for listeners and stdio


class Agent:
    """One agent session over ``channel``; call :meth:`run` once.

    ``capabilities`` defaults to detecting this host's; ``ops`` replaces the
    probes' socket operations (tests); ``max_in_flight`` caps probe attempts
    across all concurrent batches.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        capabilities: Optional[Capabilities] = None,
        ops: Optional[SocketOps] = None,
        max_in_flight: Optional[int] = None,
    ):
        self._channel = channel
        self._caps = capabilities
        self._ops = ops
        self._max_in_flight = max_in_flight or default_max_in_flight()
        self._batches: Dict[str, asyncio.Task[None]] = {}
        self._responders: Dict[str, ResponderSet] = {}
        self._stopped: Dict[str, RespondersStopped] = {}
        # Lines go straight to channels that offer send_nowait(); for any other
        # channel they queue here and a writer task awaits channel.send().
        self._send_nowait: Optional[Callable[[Any], None]] = getattr(channel, "send_nowait", None)
        # an in-process coordinator takes the message objects themselves (no codec)
        self._objects: bool = getattr(channel, "carries_messages", False)
        self._outbox = _Pipe()
        self._finished: Optional[asyncio.Future[str]] = None
        self._limiter: Optional[asyncio.Semaphore] = None
        self._tasks: set[asyncio.Task[None]] = set()
        # bandwidth endpoints and runs (threads); ARP probes and captures (scapy, in
        # threads): made on the first message that needs them
        self._bandwidth: Optional[BandwidthTasks] = None
        self._nic: Optional[NicTasks] = None

    # -- lifecycle ---------------------------------------------------------

    async def run(self, max_seconds: Optional[float] = None) -> str:
        """Serve until bye, end of input or ``max_seconds``; return the reason."""
        loop = asyncio.get_running_loop()
        self._finished = loop.create_future()
        self._limiter = asyncio.Semaphore(self._max_in_flight)
        # Only channels without send_nowait() need the writer task.
        writer = loop.create_task(self._write_loop()) if self._send_nowait is None else None
        caps = self._caps or detect()
        self._emit(
            Hello(
                PROTOCOL_VERSION,
                __version__,
                socket.gethostname(),
                os.getpid(),
                caps.python,
                caps.platform,
                caps.flags(),
            )
        )
        reader = loop.create_task(self._read_loop())
        timer = None
        if max_seconds is not None:
            timer = loop.call_later(max_seconds, self._finish, EXIT_LIFETIME)
        try:
            reason = await self._finished
        finally:
            if timer is not None:
                timer.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        log.info("agent stopping: %s", reason)
        await self._shutdown(reason, writer)
        return reason

    def _finish(self, reason: str) -> None:
        if self._finished is not None and not self._finished.done():
            self._finished.set_result(reason)

    async def _shutdown(self, reason: str, writer: Optional[asyncio.Task[None]]) -> None:
        batches = list(self._batches.values()) + list(self._tasks)
        for task in batches:
            task.cancel()
        if batches:
            await asyncio.gather(*batches, return_exceptions=True)
        for rs in list(self._responders.values()):
            stopped = await rs.stop(STOPPED_AGENT_EXIT, grace_s=0.0)
            if reason != EXIT_EOF:
                self._emit(stopped)
        self._responders.clear()
        if self._bandwidth is not None:
            await self._bandwidth.shutdown()
        if self._nic is not None:
            await self._nic.shutdown()
        if reason == EXIT_LIFETIME:
            self._emit(Error(None, ERROR_LIFETIME, "agent lifetime cap reached, exiting"))
        if reason != EXIT_EOF:
            self._emit(Bye())
        self._outbox.close()
        if writer is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(writer, timeout=5.0)
        close = getattr(self._channel, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()

    # -- output ------------------------------------------------------------

    def _emit(self, msg: Message) -> None:
        """Queue a message for the coordinator, in order, without blocking."""
        line = msg if self._objects else encode(msg)
        if self._send_nowait is None:
            with contextlib.suppress(BrokenPipeError):
                self._outbox.put(line)
            return
        # Channels that queue internally (both shipped ones) take the line
        # directly: one task wake-up less per result, at thousands a second.
        try:
            self._send_nowait(line)
        except (OSError, EOFError):
            self._finish(EXIT_EOF)

    async def _write_loop(self) -> None:
        while True:
            line = await self._outbox.get()
            if line is None:
                return
            try:
                await self._channel.send(line)
            except (OSError, EOFError):
                log.warning("channel closed while sending; stopping")
                self._finish(EXIT_EOF)
                return

    # -- input -------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            try:
                line = await self._channel.receive()
            except (OSError, EOFError):
                line = None
            if line is None:
                self._finish(EXIT_EOF)
                return
            if isinstance(line, bytes):
                if not line.strip():
                    continue  # tolerate blank lines (a human typing at the agent)
                try:
                    msg = decode(line)
                except UnknownMessageType as exc:
                    self._emit(_error_reply(exc, ERROR_UNKNOWN_TYPE))
                    continue
                except ProtocolError as exc:
                    self._emit(_error_reply(exc, ERROR_BAD_MESSAGE))
                    continue
            else:  # an in-process coordinator's message object (built, so validated)
                msg = line
            if isinstance(msg, Bye):
                self._finish(EXIT_BYE)
                return
            try:
                self._dispatch(msg)
            except Exception as exc:  # a bug handling one message must not end the session
                log.exception("internal error handling %s", type(msg).__name__)
                self._emit(Error(_ref(msg), ERROR_INTERNAL, f"{type(exc).__name__}: {exc}"))

    def _dispatch(self, msg: Message) -> None:
        if isinstance(msg, ProbeBatch):
            self._start_batch(msg)
        elif isinstance(msg, RespondersStart):
            self._spawn(self._start_responders(msg))
        elif isinstance(msg, RespondersStop):
            self._spawn(self._stop_responders(msg.id))
        else:
            self._dispatch_other(msg)

    def _dispatch_other(self, msg: Message) -> None:
        """The messages of the other checks; their modules load on first use (an
        agent's start-up is most of a fleet sweep's time: see issue 15)."""
        from . import diagnose, facts, nics
        from .bandwidth import BandwidthTasks
        from .nic_raw import NicTasks
        from .protocol import DiagRequest, FactsRequest, NicFactsRequest

        if BandwidthTasks.accepts(msg):
            if self._bandwidth is None:
                self._bandwidth = BandwidthTasks(self._emit)
            self._bandwidth.handle(msg)
        elif isinstance(msg, DiagRequest):  # where a path breaks: traceroute, echo, PMTU
            self._spawn(diagnose.answer(msg, self._emit))
        elif isinstance(msg, FactsRequest):  # failback readiness: read-only host facts
            self._spawn(facts.answer(msg, self._emit))
        elif isinstance(msg, NicFactsRequest):  # dual-NIC checks: interfaces, route choice
            self._spawn(nics.answer(msg, self._emit))
        elif NicTasks.accepts(msg):
            if self._nic is None:
                self._nic = NicTasks(self._emit, lambda: self._caps or detect())
            self._nic.handle(msg)
        else:
            self._emit(
                Error(_ref(msg), ERROR_BAD_MESSAGE, f"{msg.TYPE!r} is not a coordinator message")
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- probe batches -----------------------------------------------------

    def _start_batch(self, msg: ProbeBatch) -> None:
        if msg.batch in self._batches:
            self._emit(Error(msg.batch, ERROR_BAD_MESSAGE, "batch id is already running"))
            return
        task = asyncio.get_running_loop().create_task(self._run_batch(msg))
        self._batches[msg.batch] = task
        task.add_done_callback(lambda _t: self._batches.pop(msg.batch, None))

    async def _run_batch(self, msg: ProbeBatch) -> None:
        log.info("batch %s: %d cells, concurrency %d", msg.batch, len(msg.probes), msg.concurrency)
        sent = 0

        def on_result(result: Result) -> None:
            nonlocal sent
            sent += 1
            self._emit(result)

        stats: Dict[str, int] = {}
        try:
            await run_batch(
                msg.batch,
                msg.probes,
                msg.concurrency,
                on_result,
                ops=self._ops,
                limiter=self._limiter,
                stats=stats,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("batch %s failed", msg.batch)
            self._emit(Error(msg.batch, ERROR_INTERNAL, f"{type(exc).__name__}: {exc}"))
        limit = min(msg.concurrency, self._max_in_flight)
        self._emit(BatchDone(msg.batch, sent, stats.get("queued"), limit))

    # -- responders --------------------------------------------------------

    async def _start_responders(self, msg: RespondersStart) -> None:
        if msg.id in self._responders:
            self._emit(Error(msg.id, ERROR_BAD_MESSAGE, "responder id is already active"))
            return
        self._stopped.pop(msg.id, None)
        from .responder import ResponderSet

        rs = ResponderSet(msg, self._responders_stopped_by_themselves)
        self._responders[msg.id] = rs
        try:
            ready = await rs.start()
        except Exception as exc:
            self._responders.pop(msg.id, None)
            await rs.stop(STOPPED_AGENT_EXIT, grace_s=0.0)
            self._emit(Error(msg.id, ERROR_INTERNAL, f"{type(exc).__name__}: {exc}"))
            return
        self._emit(ready)

    def _responders_stopped_by_themselves(self, stopped: RespondersStopped) -> None:
        if self._responders.pop(stopped.id, None) is not None:
            self._stopped[stopped.id] = stopped
            self._emit(stopped)

    async def _stop_responders(self, rid: str) -> None:
        rs = self._responders.pop(rid, None)
        if rs is None:
            earlier = self._stopped.get(rid)
            if earlier is not None:  # it stopped by itself already: say so again
                self._emit(earlier)
            else:
                self._emit(Error(rid, ERROR_BAD_MESSAGE, "no such responder id"))
            return
        stopped = await rs.stop()
        self._stopped[rid] = stopped
        self._emit(stopped)


_MAX_ERROR_TEXT = 1024


def _error_reply(exc: ProtocolError, code: str) -> Error:
    """The `error` answering a line that did not decode. Built so it cannot fail
    itself: the field names in the text come from the peer's line (a mapping key can
    be any length), and a reply that raised would end the read loop."""
    text = str(exc)
    if len(text) > _MAX_ERROR_TEXT:
        text = text[: _MAX_ERROR_TEXT - 3] + "..."
    ref = exc.ref if exc.ref and len(exc.ref) <= 256 else None
    return Error(ref, code, text)


def _ref(msg: Message) -> Optional[str]:
    return getattr(msg, "batch", None) or getattr(msg, "id", None)
