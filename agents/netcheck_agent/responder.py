"""Bounded listeners that answer the nonce challenge (responders).

Before the ASR services are installed nothing listens on, say, 9443 of the
master target, so a connect probe there proves nothing. A responder set opens
listeners on exactly the requested address:ports and answers a probe's
``NETCHECK1 <challenge>`` line with the HMAC of the challenge under the
sweep's nonce, so "open" means our process answered end to end.

Every set is bounded: it closes by itself after ``ttl_s``, after
``max_conns`` connections in total, at ``responders_stop`` and when the agent
exits; at most :data:`MAX_CONCURRENT` connections are served at once (the
rest wait in the kernel backlog); each connection is read for at most
:data:`MAX_LINE` bytes and :data:`READ_TIMEOUT_S` seconds and gets at most
one answer line. Anything that is not a challenge is closed without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
from typing import Callable, List, Optional, Set, Tuple

from . import challenge
from .probes.base import Deadline
from .probes.errors import errno_name
from .protocol import (
    REFUSED_ADDRESS_NOT_AVAILABLE,
    REFUSED_ERROR,
    REFUSED_IN_USE,
    REFUSED_PERMISSION,
    STOPPED_MAX_CONNS,
    STOPPED_REQUESTED,
    ListenRefused,
    ListenSpec,
    RespondersReady,
    RespondersStart,
    RespondersStopped,
)

log = logging.getLogger(__name__)

MAX_CONCURRENT = 256
MAX_LINE = challenge.MAX_LINE
READ_TIMEOUT_S = 3.0
_WINDOWS = sys.platform == "win32"

_IN_USE = {errno.EADDRINUSE, 10048}
_PERMISSION = {errno.EACCES, errno.EPERM, 10013}
_NOT_AVAILABLE = {errno.EADDRNOTAVAIL, 10049}


def refusal_reason(exc: OSError) -> str:
    """``REFUSED_*`` reason for a failed bind/listen. Pure."""
    number = getattr(exc, "winerror", None) or exc.errno
    if number in _IN_USE:
        return REFUSED_IN_USE
    if number in _PERMISSION:
        # On Windows WSAEACCES is also what a port held exclusively gives.
        return REFUSED_PERMISSION
    if number in _NOT_AVAILABLE:
        return REFUSED_ADDRESS_NOT_AVAILABLE
    return REFUSED_ERROR


def open_listener(spec: ListenSpec, backlog: int) -> socket.socket:
    """A non-blocking listening socket for ``spec``; OSError if it cannot be had."""
    family = socket.AF_INET6 if ":" in spec.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if _WINDOWS:
            # Windows' SO_REUSEADDR would let us bind *over* a running service;
            # exclusive use is the safe equivalent of the POSIX behaviour.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined]
        else:
            # Rebind despite TIME_WAIT leftovers, but never SO_REUSEPORT: a real
            # service holding the port must make this bind fail (EADDRINUSE).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((spec.address, spec.port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class ResponderSet:
    """The listeners of one ``responders_start``, with their counters.

    ``on_self_stop`` receives the :class:`RespondersStopped` of a set that
    closed by itself (TTL, max_conns); a requested stop returns it instead.
    """

    def __init__(
        self,
        request: RespondersStart,
        on_self_stop: Callable[[RespondersStopped], None],
        read_timeout_s: float = READ_TIMEOUT_S,
    ):
        self.request = request
        self.read_timeout_s = read_timeout_s
        self.connections = 0
        self.proven = 0
        self._on_self_stop = on_self_stop
        self._listeners: List[Tuple[socket.socket, asyncio.Task[None]]] = []
        self._handlers: Set[asyncio.Task[None]] = set()
        self._slots: Optional[asyncio.Semaphore] = None
        self._ttl: Optional[asyncio.TimerHandle] = None
        self._stopping: Optional[asyncio.Future[RespondersStopped]] = None

    @property
    def id(self) -> str:
        return self.request.id

    async def start(self) -> RespondersReady:
        """Open every listener that can be opened and arm the TTL."""
        loop = asyncio.get_running_loop()
        req = self.request
        self._slots = asyncio.Semaphore(min(MAX_CONCURRENT, req.max_conns))
        listening: List[ListenSpec] = []
        refused: List[ListenRefused] = []
        for spec in req.listen:
            try:
                sock = open_listener(spec, backlog=min(req.max_conns, 1024))
            except OSError as exc:
                number = exc.errno or 0
                detail = f"{errno_name(number)}: {exc.strerror or exc}"
                refused.append(ListenRefused(spec.address, spec.port, refusal_reason(exc), detail))
                continue
            port = sock.getsockname()[1]
            listening.append(ListenSpec(spec.address, port))
            self._listeners.append((sock, loop.create_task(self._accept_loop(sock))))
        self._ttl = loop.call_later(req.ttl_s, self._self_stop, "ttl")
        log.info(
            "responders %s: listening on %d, refused %d, ttl %ss",
            req.id,
            len(listening),
            len(refused),
            req.ttl_s,
        )
        return RespondersReady(req.id, tuple(listening), tuple(refused))

    async def _accept_loop(self, lsock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        assert self._slots is not None
        while self.connections < self.request.max_conns:
            await self._slots.acquire()
            try:
                conn, _peer = await loop.sock_accept(lsock)
            except OSError as exc:
                self._slots.release()
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    await asyncio.sleep(0.1)  # out of descriptors: back off, stay bounded
                    continue
                raise
            except BaseException:
                self._slots.release()
                raise
            self.connections += 1
            task = loop.create_task(self._serve(conn))
            self._handlers.add(task)
            task.add_done_callback(self._handler_done)
        # Total cap reached (by this or another listener of the set): close up.
        self._self_stop(STOPPED_MAX_CONNS)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        if self._slots is not None:
            self._slots.release()

    async def _serve(self, conn: socket.socket) -> None:
        """Answer one challenge line, or nothing; always close."""
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        deadline = Deadline(self.read_timeout_s)
        try:
            buf = b""
            while b"\n" not in buf and len(buf) <= MAX_LINE:
                chunk = await loop.sock_recv(conn, MAX_LINE + 1 - len(buf))
                if not chunk:
                    break
                buf += chunk
            chal = challenge.parse_challenge(buf)
            if chal is not None:
                await loop.sock_sendall(conn, challenge.answer_line(self.request.nonce, chal))
                self.proven += 1
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
        except OSError:
            pass  # the peer reset or went away: nothing to answer
        finally:
            deadline.close()
            conn.close()

    def _self_stop(self, reason: str) -> None:
        if self._stopping is not None:
            return
        task = asyncio.get_running_loop().create_task(
            self.stop(reason, grace_s=self.read_timeout_s)
        )
        task.add_done_callback(self._report_self_stop)

    def _report_self_stop(self, task: asyncio.Task[RespondersStopped]) -> None:
        if not task.cancelled() and task.exception() is None:
            result = task.result()
            if result.reason != STOPPED_REQUESTED:
                self._on_self_stop(result)

    async def stop(
        self, reason: str = STOPPED_REQUESTED, grace_s: float = 0.2
    ) -> RespondersStopped:
        """Close the listeners, let connections finish for ``grace_s``, then cut them.

        Idempotent: later calls return the first stop's result.
        """
        if self._stopping is not None:
            return await asyncio.shield(self._stopping)
        self._stopping = asyncio.get_running_loop().create_future()
        try:
            if self._ttl is not None:
                self._ttl.cancel()
            # Cancel the accept loops and let them unwind *before* closing the
            # sockets: the loop unregisters their fds on the way out, and a
            # closed fd that is still registered could be reused by a new
            # socket and then unregistered under it.
            accepting = [task for _sock, task in self._listeners]
            for task in accepting:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*accepting, return_exceptions=True)
            for sock, _task in self._listeners:
                sock.close()
            if self._handlers:
                await asyncio.wait(set(self._handlers), timeout=grace_s)
            for task in list(self._handlers):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*self._handlers, return_exceptions=True)
            result = RespondersStopped(self.id, self.connections, self.proven, reason)
            log.info(
                "responders %s stopped (%s): %d connections, %d proven",
                self.id,
                reason,
                self.connections,
                self.proven,
            )
            self._stopping.set_result(result)
        except BaseException as exc:
            self._stopping.set_exception(exc)
            raise
        return result
