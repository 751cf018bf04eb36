"""The coordinator's side of one agent: protocol over a channel, messages routed by id.

Peer data enters here and only here: every line is decoded with the agent's
own pure protocol module, and anything malformed becomes a `ProtocolError` or,
if the channel ends, `AgentLost` for everyone still waiting.

Every wait has a deadline (`netcheck.deadline`): a probe batch's comes from the
plan and restarts with each result; a request's is fixed; a send the agent does
not read in time is a lost agent too. A missed deadline marks the agent lost,
so nothing else waits on it either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from netcheck_agent import protocol as p

from netcheck.deadline import (
    HELLO_TIMEOUT_S,
    MARGIN_S,
    SEND_TIMEOUT_S,
    Budget,
    ProbeLoad,
    StartPace,
)
from netcheck.errors import AgentLost, ProtocolError, TransportError
from netcheck.peertext import decode_peer_line, sanitize_peer_message
from netcheck.transports.base import AgentChannel

__all__ = ["AgentClient", "ResponderOutcome"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

if sys.version_info >= (3, 11):

    async def _within(aw: Awaitable[_T], timeout: float) -> _T:
        """`await aw`, raising TimeoutError after `timeout` seconds.

        asyncio.wait_for runs a coroutine in a task of its own; with a thousand
        in-process agents those tasks (four per agent) showed in sweep profiles.
        asyncio.timeout bounds it in the current task instead.
        """
        async with asyncio.timeout(timeout):
            return await aw

else:  # pragma: no cover - Python 3.10

    async def _within(aw: Awaitable[_T], timeout: float) -> _T:
        return await asyncio.wait_for(aw, timeout)


_BANDWIDTH_REPLIES = (
    p.BandwidthListening,
    p.BandwidthInterval,
    p.BandwidthResult,
    p.BandwidthClosed,
)


# replies to the dual-NIC requests, matched to their request by (type, id)
_NIC_REPLIES = (p.NicFacts, p.ArpCheck, p.CaptureReady, p.CaptureResult)


def _peer_message(item: bytes | p.Message) -> p.Message:
    """What the agent said: a line decoded, or an in-process agent's message object;
    either way with the peer's text escaped (raises `p.ProtocolError` for a bad line)."""
    if isinstance(item, bytes):
        return decode_peer_line(item)
    return sanitize_peer_message(item)


async def _hello_line(
    host: str, channel: AgentChannel, pace: StartPace, began: float
) -> bytes | None:
    """The agent's first line, waited for until `pace` gives the agent up.

    The read runs in a task of its own that is never cancelled while waiting: the
    limit is checked again whenever it passes, as other agents' progress moves it.
    """
    loop = asyncio.get_running_loop()
    spawned = loop.time()
    read = asyncio.ensure_future(channel.receive())
    try:
        while True:
            left = pace.hello_deadline(began, spawned) - loop.time()
            if left <= 0:
                break
            done, _ = await asyncio.wait({read}, timeout=left)
            if done:
                return read.result()
    finally:
        if not read.done():
            read.cancel()
            with contextlib.suppress(BaseException):
                await read
    await channel.close()
    raise TransportError(host, pace.explain(began, spawned, loop.time()))


def _secs(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.1f}"


@dataclass(frozen=True, slots=True)
class ResponderOutcome:
    listening: tuple[tuple[str, int], ...]
    refused: tuple[tuple[str, int, str, str], ...]  # address, port, reason, detail


class AgentClient:
    """One agent, after its hello. Use `AgentClient.connect(host, channel)`."""

    def __init__(
        self, host: str, channel: AgentChannel, hello: p.Hello, margin_s: float = MARGIN_S
    ) -> None:
        self.host = host
        self.hello = hello
        self._channel = channel
        # an in-process agent takes and gives message objects (no codec between them)
        self._objects: bool = getattr(channel, "carries_messages", False)
        self._margin_s = margin_s  # the fixed part of each probe deadline's margin
        self._last_heard = asyncio.get_running_loop().time()  # last line from the agent
        self._batches: dict[str, asyncio.Queue[p.Result | p.BatchDone | None]] = {}
        self._waiters: dict[tuple[str, str], asyncio.Future[p.Message]] = {}
        self._lost: str | None = None
        # bandwidth endpoint/run id -> its messages (None: the agent is gone)
        self._bandwidth: dict[str, asyncio.Queue[p.Message | None]] = {}
        self._reader = asyncio.ensure_future(self._read_loop())
        self._counter = 0
        # from the batches' batch_done: attempts that waited for a free slot, and the
        # in-flight limit they waited behind (None: the agent did not count them; see
        # netcheck.result.cells.ProbeQueuing)
        self.queued_attempts: int | None = None
        self.in_flight_limit: int | None = None

    @classmethod
    async def connect(
        cls,
        host: str,
        channel: AgentChannel,
        timeout: float = HELLO_TIMEOUT_S,
        margin_s: float = MARGIN_S,
        pace: StartPace | None = None,
        began: float | None = None,
    ) -> AgentClient:
        """Wait for the agent's hello; a channel that says anything else is not an agent.

        Alone, the agent has `timeout` s. In a sweep, `pace` (shared by its agents) sets
        the limit from the fleet's progress, `began` being when this host's connect began
        (the event loop's clock); a hello received counts as progress.
        """
        loop = asyncio.get_running_loop()
        if pace is None:
            pace = StartPace(timeout, timeout)
        line = await _hello_line(host, channel, pace, loop.time() if began is None else began)
        pace.progress(loop.time())
        if line is None:
            await channel.close()
            raise TransportError(host, "the agent exited before saying hello")
        try:
            msg = _peer_message(line)
        except p.ProtocolError as exc:
            await channel.close()
            shown = bytes(line)[:120].decode("utf-8", "replace").strip()
            raise TransportError(
                host, f"not a netcheck agent on the channel ({exc}): {shown!r}"
            ) from None
        if not isinstance(msg, p.Hello):
            await channel.close()
            raise TransportError(host, f"the agent's first message was {msg.TYPE!r}, not hello")
        if msg.protocol != p.PROTOCOL_VERSION:
            await channel.close()
            raise TransportError(
                host,
                f"agent speaks protocol {msg.protocol}, this netcheck speaks {p.PROTOCOL_VERSION}; "
                "deploy the matching agent",
            )
        return cls(host, channel, msg, margin_s)

    @property
    def lost(self) -> str | None:
        """Why the agent is gone, or None while it runs."""
        return self._lost

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    async def _send(self, msg: p.Message, timeout: float = SEND_TIMEOUT_S) -> None:
        """Send `msg`; an agent that does not take it within `timeout` s is lost.

        A frozen agent stops reading: its channel fills and a send would wait forever.
        """
        if self._lost is not None:
            raise AgentLost(self.host, self._lost)
        try:
            # a channel that carries messages takes the object itself (AgentChannel)
            item = cast(bytes, msg) if self._objects else p.encode(msg)
            await _within(self._channel.send(item), timeout)
        except (asyncio.TimeoutError, TimeoutError):  # before OSError: its subclass in 3.11
            self._mark_lost(
                f"it did not read the {msg.TYPE} message within {timeout:g} s "
                "(its channel is full: the agent is frozen, or its link is down)"
            )
            raise AgentLost(self.host, self._lost or "send timed out") from None
        except (OSError, EOFError, ConnectionError) as exc:
            self._mark_lost(f"channel closed while sending ({exc})")
            raise AgentLost(self.host, self._lost or "channel closed") from None

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self._channel.receive()
                if line is None:
                    self._mark_lost("the agent's channel closed (agent exited or was killed)")
                    return
                self._last_heard = asyncio.get_running_loop().time()
                try:
                    msg = _peer_message(line)
                except p.ProtocolError as exc:
                    log.warning(
                        "[host=%s] ignoring a malformed line from the agent: %s", self.host, exc
                    )
                    continue
                self._route(msg)
        except asyncio.CancelledError:
            raise
        except ProtocolError as exc:  # e.g. a stream without newlines (LineTooLong)
            self._mark_lost(f"protocol failure: {exc}")
        except Exception as exc:  # a broken channel must not kill the sweep
            self._mark_lost(f"reading from the agent failed: {exc!r}")

    def _route(self, msg: p.Message) -> None:
        if isinstance(msg, (p.Result, p.BatchDone)):
            q = self._batches.get(msg.batch)
            if q is not None:
                q.put_nowait(msg)
            return
        if isinstance(
            msg, (p.RespondersReady, p.RespondersStopped, p.Facts, p.DiagResult, *_NIC_REPLIES)
        ):
            fut = self._waiters.pop((msg.TYPE, msg.id), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        if isinstance(msg, _BANDWIDTH_REPLIES):
            bq = self._bandwidth.get(msg.id)
            if bq is not None:
                bq.put_nowait(msg)
            return
        if isinstance(msg, p.Error):
            log.warning("[host=%s] agent error %s: %s", self.host, msg.code, msg.message)
            if msg.ref is not None and msg.ref in self._bandwidth:
                self._bandwidth[msg.ref].put_nowait(msg)
            if msg.ref is not None:
                for key, fut in list(self._waiters.items()):
                    if key[1] == msg.ref and not fut.done():
                        fut.set_exception(ProtocolError(f"{self.host}: {msg.message}"))
                        del self._waiters[key]
                q = self._batches.get(msg.ref)
                if q is not None:
                    q.put_nowait(None)
            return
        if isinstance(msg, p.Bye):
            self._mark_lost("the agent said bye")

    def _mark_lost(self, reason: str) -> None:
        if self._lost is None:
            self._lost = reason
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(AgentLost(self.host, reason))
        self._waiters.clear()
        for q in self._batches.values():
            q.put_nowait(None)
        for bq in self._bandwidth.values():
            bq.put_nowait(None)

    async def _request(
        self, msg: p.Message, reply_type: str, ref: str, timeout: float
    ) -> p.Message:
        fut: asyncio.Future[p.Message] = asyncio.get_running_loop().create_future()
        self._waiters[(reply_type, ref)] = fut
        try:
            await self._send(msg, timeout)
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AgentLost(self.host, f"no {reply_type} within {timeout:g} s") from None
        finally:
            self._waiters.pop((reply_type, ref), None)

    # --- responders ---------------------------------------------------------

    async def start_responders(
        self,
        listen: Sequence[tuple[str, int]],
        nonce: str,
        ttl_s: int,
        max_conns: int,
        host: str = "",
    ) -> tuple[str, ResponderOutcome]:
        """Open responders for `host` (its name keys their answers) on `listen`."""
        rid = self._next_id("r")
        msg = p.RespondersStart(
            id=rid,
            nonce=nonce,
            ttl_s=ttl_s,
            max_conns=max_conns,
            listen=tuple(p.ListenSpec(address=a, port=port) for a, port in listen),
            host=host,
        )
        reply = await self._request(msg, p.RespondersReady.TYPE, rid, timeout=30.0)
        assert isinstance(reply, p.RespondersReady)
        return rid, ResponderOutcome(
            listening=tuple((x.address, x.port) for x in reply.listening),
            refused=tuple((x.address, x.port, x.reason, x.detail) for x in reply.refused),
        )

    async def stop_responders(self, rid: str) -> p.RespondersStopped | None:
        if self._lost is not None:
            return None
        try:
            reply = await self._request(
                p.RespondersStop(id=rid), p.RespondersStopped.TYPE, rid, 10.0
            )
        except AgentLost:
            return None
        assert isinstance(reply, p.RespondersStopped)
        return reply

    # --- host facts (failback readiness) -------------------------------------

    async def facts(self, retention_path: str | None, timeout: float = 40.0) -> p.Facts:
        """The host's OS, retention volume and VMware Tools facts (read-only on the host).

        Raises AgentLost (gone / no answer in time) or ProtocolError (the agent refused,
        e.g. an agent too old to know the request).
        """
        fid = self._next_id("f")
        reply = await self._request(
            p.FactsRequest(id=fid, retention_path=retention_path), p.Facts.TYPE, fid, timeout
        )
        assert isinstance(reply, p.Facts)
        return reply

    # --- dual-NIC checks (the flow is in netcheck.nic.run) ----------------------

    async def nic_facts(self, destinations: Sequence[str], timeout: float = 40.0) -> p.NicFacts:
        """Interfaces, rp_filter and the OS's route choice per destination (no packet sent)."""
        rid = self._next_id("n")
        msg = p.NicFactsRequest(id=rid, destinations=tuple(destinations))
        reply = await self._request(msg, p.NicFacts.TYPE, rid, timeout)
        assert isinstance(reply, p.NicFacts)
        return reply

    async def arp_check(self, targets: Sequence[p.ArpTarget], timeout_ms: int) -> p.ArpCheck:
        """ARP probes for the host's own addresses: does another machine answer for them?"""
        rid = self._next_id("a")
        msg = p.ArpCheckRequest(id=rid, targets=tuple(targets), timeout_ms=timeout_ms)
        reply = await self._request(msg, p.ArpCheck.TYPE, rid, 60.0 + timeout_ms / 100)
        assert isinstance(reply, p.ArpCheck)
        return reply

    async def capture_start(self, peers: Sequence[str], max_seconds: int) -> p.CaptureReady:
        """Start capturing handshakes with `peers` on every interface (bounded in time)."""
        rid = self._next_id("c")
        msg = p.CaptureStart(id=rid, peers=tuple(peers), max_seconds=max_seconds)
        reply = await self._request(msg, p.CaptureReady.TYPE, rid, 60.0)
        assert isinstance(reply, p.CaptureReady)
        return reply

    async def capture_stop(self, rid: str) -> p.CaptureResult:
        reply = await self._request(p.CaptureStop(id=rid), p.CaptureResult.TYPE, rid, 30.0)
        assert isinstance(reply, p.CaptureResult)
        return reply

    # --- path diagnostics (netcheck.diagnose) -----------------------------------

    async def diagnose(self, req: p.DiagRequest, timeout: float) -> p.DiagResult:
        """Run one diagnostic (traceroute, echo, pmtu, syn) on the agent's host.

        Raises AgentLost (gone / no answer in time) or ProtocolError (refused, e.g. an
        agent too old to know the request).
        """
        reply = await self._request(req, p.DiagResult.TYPE, req.id, timeout)
        assert isinstance(reply, p.DiagResult)
        return reply

    def next_id(self, prefix: str) -> str:
        """A request id unique on this agent's channel."""
        return self._next_id(prefix)

    # --- bandwidth (the protocol flow is in netcheck.bandwidth.run) ----------

    def bandwidth_subscribe(self, bid: str) -> asyncio.Queue[p.Message | None]:
        """Messages for bandwidth id `bid` (and Errors naming it); None once the agent is gone."""
        q: asyncio.Queue[p.Message | None] = asyncio.Queue()
        if self._lost is not None:
            q.put_nowait(None)
        self._bandwidth[bid] = q
        return q

    def bandwidth_unsubscribe(self, bid: str) -> None:
        self._bandwidth.pop(bid, None)

    async def bandwidth_send(
        self, msg: p.BandwidthListen | p.BandwidthRun | p.BandwidthStop
    ) -> None:
        """Send a bandwidth request; raises AgentLost when the agent is gone."""
        await self._send(msg)

    # --- probes -------------------------------------------------------------

    async def run_batch(
        self, probes: Sequence[p.ProbeRequest], concurrency: int
    ) -> AsyncIterator[p.Result]:
        """Send a batch and yield its results as they arrive.

        Ends normally at batch_done; raises AgentLost if the agent goes away first,
        or misses the batch's deadline (the results already yielded stay valid). The
        deadline is the plan's budget for the cells still to come (netcheck.deadline),
        counted from the batch's start and again from each result.
        """
        bid = self._next_id("b")
        queue: asyncio.Queue[p.Result | p.BatchDone | None] = asyncio.Queue()
        self._batches[bid] = queue
        load = ProbeLoad.of(probes, concurrency)
        waiting = {r.cell for r in probes}
        loop = asyncio.get_running_loop()
        try:
            seconds = load.seconds(self._margin_s)
            since = loop.time()
            await self._send(
                p.ProbeBatch(batch=bid, probes=tuple(probes), concurrency=concurrency),
                max(seconds, SEND_TIMEOUT_S),
            )
            while True:
                try:  # results come in bursts: only an empty queue needs the timer
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    try:
                        item = await _within(queue.get(), max(since + seconds - loop.time(), 0.0))
                    except (asyncio.TimeoutError, TimeoutError):
                        budget = load.with_cells(len(waiting)).budget(self._margin_s)
                        self._mark_lost(self._missed(budget, since, loop.time()))
                        raise AgentLost(self.host, self._lost or "deadline missed") from None
                if item is None:
                    raise AgentLost(self.host, self._lost or "the agent rejected the batch")
                if isinstance(item, p.BatchDone):
                    self._count_queuing(item)
                    return
                if item.cell in waiting:
                    waiting.discard(item.cell)
                    seconds = load.with_cells(len(waiting)).seconds(self._margin_s)
                    since = loop.time()
                yield item
        finally:
            self._batches.pop(bid, None)

    def _count_queuing(self, done: p.BatchDone) -> None:
        if done.queued is not None:
            self.queued_attempts = (self.queued_attempts or 0) + done.queued
        if done.limit is not None:
            self.in_flight_limit = done.limit

    def _missed(self, budget: Budget, since: float, now: float) -> str:
        """Why a batch's deadline was missed, with the plan figures it came from."""
        if self._last_heard <= since:
            quiet = f"sent nothing for {_secs(now - since)} s"
        else:  # lines, but none of this batch's results
            heard = _secs(now - self._last_heard)
            quiet = f"sent no probe result for {_secs(now - since)} s (its last line {heard} s ago)"
        return (
            f"{quiet} (deadline {_secs(budget.seconds)} s, from {budget.why}): "
            "the agent is frozen or stuck, or its link is down"
        )

    async def close(self) -> None:
        """Say bye (politely, briefly) and close the channel; never raises."""
        if self._lost is None:
            with contextlib.suppress(Exception):
                await _within(self._channel.send(p.encode(p.Bye())), 2.0)
        try:
            await _within(self._channel.close(), 5.0)
        except Exception as exc:
            log.debug("[host=%s] close: %r", self.host, exc)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
