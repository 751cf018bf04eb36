"""Agent-to-agent TCP throughput: a one-shot endpoint and the side that dials it.

**Endpoint** (:class:`Endpoint`, from ``bandwidth_listen``): one listening
socket that serves exactly one client. A connection is admitted only if its
first line proves the coordinator's one-time token::

    client → endpoint   NCBW1 <cnonce> <mode> <HMAC-SHA256(token, "ncbw1 hello <cnonce> <mode>")>\\n
    endpoint → client   NCBW1 OK <HMAC-SHA256(token, "ncbw1 ok <cnonce>")>\\n

``cnonce`` is fresh per connection and the endpoint refuses one it has seen,
so a recorded hello replayed on a new connection gets nothing; a wrong MAC,
a wrong mode or garbage gets nothing either (the connection is closed without
a byte). The answer is keyed too, so the client knows it reached *our*
endpoint and not a proxy that would swallow (and flatter) the data. The token
itself never crosses the wire and never reaches a log. The first admitted
connection fixes the client's address; up to ``streams`` connections from
that address are admitted, then the listener closes, so a second client gets
a refused connection. The endpoint closes when its client's streams have all
ended, after ``max_seconds`` or ``max_bytes``, on ``bandwidth_stop``, and by
itself when nobody authenticated within ``accept_timeout_s``.

**Runner** (:class:`Runner`, from ``bandwidth_run``): dials the endpoint with
``streams`` connections and moves data for ``duration_s``: it sends (forward)
or receives what the endpoint sends (reverse: the PS → MT direction when only
the master target can dial). In forward mode the sender half-closes each
stream at the end and the endpoint answers ``NCBW1 RX <bytes> <microseconds>``
for it, so the figure is the receiver's, as iperf3's receiver line; when the
receiver cannot say, the figure falls back to the kernel's acknowledged bytes
(Linux ``TCP_INFO.tcpi_bytes_acked``) and the result says so in ``source``.

Throughput is the point, so the data path is lean: one thread per stream on
a blocking socket, ``send`` of a preallocated 1 MiB random buffer (random so a
compressing WAN optimiser cannot inflate the figure), and on Linux
``recv_into(..., MSG_TRUNC)``, which discards the received bytes in the kernel
without copying them to user space. Every loop is bounded in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Callable, Dict, Optional

from ._bandwidth_msgs import (
    BandwidthClosed,
    BandwidthListen,
    BandwidthResult,
    BandwidthRun,
    BandwidthStop,
)
from .bandwidth_endpoint import Endpoint
from .bandwidth_runner import Runner
from .bandwidth_wire import (
    CHUNK,
    MAGIC,
    MODE_RECV,
    MODE_SEND,
    check_hello,
    check_ok,
    hello_line,
    ok_line,
    parse_rx,
    rx_line,
    tcp_counters,
)
from .protocol import ERROR_BAD_MESSAGE, ERROR_LISTEN_FAILED, Error

__all__ = ["BandwidthTasks", "Endpoint", "Runner"]

log = logging.getLogger(__name__)


class BandwidthTasks:
    """The endpoints and runs of one agent, keyed by id; messages in, messages out.

    Threads report through ``emit`` on the agent's event loop (thread-safe
    hand-over); a finished task leaves the registry by itself.
    """

    def __init__(self, emit: Callable[[Any], None]):
        self._emit_on_loop = emit
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Dict[str, object] = {}

    @staticmethod
    def accepts(msg: object) -> bool:
        return isinstance(msg, (BandwidthListen, BandwidthRun, BandwidthStop))

    def _emit(self, msg: object) -> None:
        """From any thread: hand ``msg`` to the agent's loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is gone: the agent is exiting
            loop.call_soon_threadsafe(self._deliver, msg)

    def _deliver(self, msg: object) -> None:
        if isinstance(msg, (BandwidthResult, BandwidthClosed)):
            self._tasks.pop(msg.id, None)
        self._emit_on_loop(msg)

    def handle(self, msg: object) -> None:
        """A coordinator message this registry :meth:`accepts`; call on the loop."""
        self._loop = asyncio.get_running_loop()
        if isinstance(msg, BandwidthStop):
            task = self._tasks.get(msg.id)
            if task is None:
                self._emit_on_loop(Error(msg.id, ERROR_BAD_MESSAGE, "no such bandwidth id"))
            else:
                task.stop()  # type: ignore[attr-defined]
            return
        assert isinstance(msg, (BandwidthListen, BandwidthRun))
        if msg.id in self._tasks:
            self._emit_on_loop(Error(msg.id, ERROR_BAD_MESSAGE, "bandwidth id is already active"))
            return
        if isinstance(msg, BandwidthListen):
            endpoint = Endpoint(msg, self._emit)
            try:
                listening = endpoint.open()
            except OSError as exc:
                detail = f"cannot listen on {msg.address}:{msg.port}: {exc.strerror or exc}"
                self._emit_on_loop(Error(msg.id, ERROR_LISTEN_FAILED, detail))
                return
            self._tasks[msg.id] = endpoint
            self._emit_on_loop(listening)
            endpoint.start()
            return
        runner = Runner(msg, self._emit)
        self._tasks[msg.id] = runner
        runner.start()

    async def shutdown(self) -> None:
        """Stop everything and wait (bounded) for the threads to report and end."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.stop()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 3.0
        while any(t.alive() for t in tasks) and time.monotonic() < deadline:  # type: ignore[attr-defined]
            await asyncio.sleep(0.02)
        await asyncio.sleep(0)  # let the last call_soon_threadsafe hand-overs run


__all__ = [
    "CHUNK",
    "MAGIC",
    "MODE_RECV",
    "MODE_SEND",
    "BandwidthTasks",
    "Endpoint",
    "Runner",
    "check_hello",
    "check_ok",
    "hello_line",
    "ok_line",
    "parse_rx",
    "rx_line",
    "tcp_counters",
]
