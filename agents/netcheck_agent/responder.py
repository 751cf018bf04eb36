"""Bounded listeners that answer the sweep's challenge (responders).

Before the ASR services are installed nothing listens on, say, 9443 of the
master target, so a connect probe there proves nothing. A responder set opens
listeners on exactly the requested address:ports and answers a probe's
``NETCHECK1 <challenge>`` line with the HMAC of the challenge under *its own*
key, derived from the sweep's nonce and its identity (the request's ``host``,
the listener's address and port), so "open, proven" means the responder the
probe meant answered end to end (see :mod:`netcheck_agent.challenge`).

Not a signing oracle: only a challenge tagged with its own sweep's key gets an
answer, and that answer is keyed to this responder's identity, so it proves
nothing for any other destination. A stranger gets silence; a well-formed
challenge of another sweep gets :data:`~netcheck_agent.challenge.OTHER_SWEEP_LINE`.

Bounded against anyone who can connect:

- the set closes by itself after ``ttl_s``, after ``max_conns`` *answered
  challenges* (connections that carry none are not counted, so plain connects
  cannot close it), at ``responders_stop`` and when the agent exits;
- a challenge already waiting at accept (the usual case: a probe sends it
  right after the handshake) is answered at once; a connection still to send
  its line is *idle*: at most :data:`MAX_IDLE` are kept, the oldest shed
  (closed) first for a new one, each read for at most :data:`MAX_LINE` bytes
  and :data:`READ_TIMEOUT_S` seconds, and it gets at most one line back.

A listener that cannot bind because the port is in use is asked our
challenge once (one line to whoever holds it): a responder of another sweep
says so, and the port is reported :data:`REFUSED_OTHER_SWEEP` rather than as
a real service.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import sys
from typing import Callable, Dict, List, Optional, Set, Tuple

from . import challenge
from .probes.base import Deadline
from .probes.errors import errno_name
from .protocol import (
    REFUSED_ADDRESS_NOT_AVAILABLE,
    REFUSED_ERROR,
    REFUSED_IN_USE,
    REFUSED_OTHER_SWEEP,
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

#: Idle connections (still to send their line) kept at once; the oldest go first.
MAX_IDLE = 256
MAX_LINE = challenge.MAX_LINE
#: How long an idle connection may take to send its line: a probe sends it
#: right after the handshake, so a short deadline costs it nothing.
READ_TIMEOUT_S = 2.0
#: Bounds of the one exchange with a port's other holder (see _other_sweep_holds).
HOLDER_CONNECT_S = 0.1
HOLDER_REPLY_S = 1.0
BACKLOG = 1024
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
    ``connections`` counts every accepted connection, ``proven`` the answered
    challenges, ``shed`` the idle connections closed to make room for newer ones.
    """

    def __init__(
        self,
        request: RespondersStart,
        on_self_stop: Callable[[RespondersStopped], None],
        read_timeout_s: float = READ_TIMEOUT_S,
        max_idle: int = MAX_IDLE,
    ):
        self.request = request
        self.read_timeout_s = read_timeout_s
        self.max_idle = max_idle
        self.connections = 0
        self.proven = 0
        self.shed = 0
        self._on_self_stop = on_self_stop
        self._challenge_key = challenge.challenge_key(request.nonce)
        self._listeners: List[Tuple[socket.socket, asyncio.Task[None]]] = []
        self._handlers: Set[asyncio.Task[None]] = set()
        # Idle connections' handlers, oldest first (dicts keep insertion order).
        self._idle: Dict[asyncio.Task[None], None] = {}
        self._ttl: Optional[asyncio.TimerHandle] = None
        self._stopping: Optional[asyncio.Future[RespondersStopped]] = None

    @property
    def id(self) -> str:
        return self.request.id

    async def start(self) -> RespondersReady:
        """Open every listener that can be opened and arm the TTL."""
        loop = asyncio.get_running_loop()
        req = self.request
        listening: List[ListenSpec] = []
        failed: List[Tuple[ListenSpec, OSError]] = []
        for spec in req.listen:
            try:
                sock = open_listener(spec, backlog=BACKLOG)
            except OSError as exc:
                failed.append((spec, exc))
                continue
            port = sock.getsockname()[1]
            listening.append(ListenSpec(spec.address, port))
            key = challenge.keys(req.nonce, req.host, spec.address, port).answer
            self._listeners.append((sock, loop.create_task(self._accept_loop(sock, key))))
        self._ttl = loop.call_later(req.ttl_s, self._self_stop, "ttl")
        refused = await asyncio.gather(*(self._refusal(spec, exc) for spec, exc in failed))
        log.info(
            "responders %s: listening on %d, refused %d, ttl %ss",
            req.id,
            len(listening),
            len(refused),
            req.ttl_s,
        )
        return RespondersReady(req.id, tuple(listening), tuple(refused))

    async def _refusal(self, spec: ListenSpec, exc: OSError) -> ListenRefused:
        reason = refusal_reason(exc)
        if reason == REFUSED_IN_USE and await self._other_sweep_holds(spec):
            detail = challenge.DETAIL_OTHER_SWEEP
            return ListenRefused(spec.address, spec.port, REFUSED_OTHER_SWEEP, detail)
        detail = f"{errno_name(exc.errno or 0)}: {exc.strerror or exc}"
        return ListenRefused(spec.address, spec.port, reason, detail)

    async def _other_sweep_holds(self, spec: ListenSpec) -> bool:
        """Whether a responder of another netcheck sweep holds ``spec``'s port.

        One connection, one challenge line, one reply read. The holder is on
        this host, so the kernel completes the connect at once unless the
        holder drops SYNs (then it is no responder): :data:`HOLDER_CONNECT_S`;
        a responder answers well within :data:`HOLDER_REPLY_S`. A real service
        gets a line it does not understand, as from any stray client, and is
        taken for what it is.
        """
        chal = challenge.new_challenge(self._challenge_key)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(spec.address, spec.port), HOLDER_CONNECT_S
            )
        except (OSError, asyncio.TimeoutError):
            return False
        try:
            writer.write(challenge.challenge_line(chal))
            line = await asyncio.wait_for(_read_line(reader), HOLDER_REPLY_S)
        except (OSError, asyncio.TimeoutError):
            return False
        finally:
            writer.close()
        return challenge.read_reply(b"", chal, line)[0] == challenge.OTHER_SWEEP

    async def _accept_loop(self, lsock: socket.socket, key: bytes) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _peer = await loop.sock_accept(lsock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._shed_oldest()  # frees a descriptor for the next one
                    await asyncio.sleep(0.1)  # stay bounded
                    continue
                raise
            self.connections += 1
            self._take(conn, key)
            # While connections queue up sock_accept returns without yielding:
            # let the handlers and the agent's own channel run in between.
            await asyncio.sleep(0)

    def _take(self, conn: socket.socket, key: bytes) -> None:
        """Answer at once what already arrived, or watch the connection as idle."""
        try:
            conn.setblocking(False)
            buf = conn.recv(MAX_LINE + 1)
        except (BlockingIOError, InterruptedError):
            buf = b""
        except OSError:
            conn.close()
            return
        else:
            if not buf or _complete(buf):  # eof, or the whole line
                self._reply(conn, key, buf)
                conn.close()
                return
        if len(self._idle) >= self.max_idle:
            self._shed_oldest()
        task = asyncio.get_running_loop().create_task(self._serve(conn, key, buf))
        self._handlers.add(task)
        self._idle[task] = None
        task.add_done_callback(self._handler_done)
        # A task shed before it ever ran skips its own finally: close here too.
        task.add_done_callback(lambda _task: conn.close())

    def _shed_oldest(self) -> None:
        for task in self._idle:
            del self._idle[task]
            task.cancel()  # its finally closes the connection
            self.shed += 1
            return

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        self._idle.pop(task, None)

    async def _serve(self, conn: socket.socket, key: bytes, buf: bytes) -> None:
        """Read the rest of one challenge line, answer it or not; always close."""
        loop = asyncio.get_running_loop()
        deadline = Deadline(self.read_timeout_s)
        try:
            while not _complete(buf):
                chunk = await loop.sock_recv(conn, MAX_LINE + 1 - len(buf))
                if not chunk:
                    break
                buf += chunk
            self._idle.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            self._reply(conn, key, buf)
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
        except OSError:
            pass  # the peer reset or went away: nothing to answer
        finally:
            deadline.close()
            conn.close()

    def _reply(self, conn: socket.socket, key: bytes, buf: bytes) -> None:
        """Send the one line ``buf`` earns, if any (non-blocking: ~75 bytes to a fresh socket)."""
        out = self._reply_for(key, buf)
        if out:
            with contextlib.suppress(OSError):
                conn.send(out)

    def _reply_for(self, key: bytes, buf: bytes) -> bytes:
        """The answer to a challenge of this sweep, the other-sweep line, or nothing."""
        chal = challenge.parse_challenge(buf)
        if chal is None:
            return b""
        if not challenge.is_sweep_challenge(self._challenge_key, chal):
            return challenge.OTHER_SWEEP_LINE
        if self.proven >= self.request.max_conns:
            return b""
        self.proven += 1
        if self.proven >= self.request.max_conns:
            self._self_stop(STOPPED_MAX_CONNS)
        return challenge.answer_line(key, chal)

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


def _complete(buf: bytes) -> bool:
    """Whether ``buf`` holds a whole line (or more than a challenge can be)."""
    return b"\n" in buf or len(buf) > MAX_LINE


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    buf = b""
    while not _complete(buf):
        chunk = await reader.read(MAX_LINE + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf
