"""What every probe kind shares: the probe contract, socket operations, deadlines.

A probe is ``async def probe(request, ops) -> Sample``: one attempt against
one target, no scheduling, no printing. Its network calls go through a
:class:`SocketOps` so unit tests can feed crafted behaviour (a refusal, a
reset, a garbage answer) without a network, while integration tests use
:class:`LoopSocketOps` on real sockets.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from typing import Any, Awaitable, Callable, NamedTuple, Optional, Protocol, Tuple

from ..protocol import ProbeRequest, Sample

# Inside SocketOps the method named ``socket`` shadows the module, so the
# class body spells the socket type through this alias.
Socket = socket.socket


class SocketOps(Protocol):
    """The network calls a probe makes; the default is the running event loop's."""

    def socket(self, family: int, type: int) -> Socket: ...

    async def connect(self, sock: Socket, address: Tuple[Any, ...]) -> None: ...

    async def sendall(self, sock: Socket, data: bytes) -> None: ...

    async def recv(self, sock: Socket, nbytes: int) -> bytes: ...


#: What a non-blocking ``connect_ex`` returns while the handshake runs (10035: WSAEWOULDBLOCK).
CONNECT_PENDING = frozenset({errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, 10035})
_CONNECT_PENDING = CONNECT_PENDING


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class LoopSocketOps:
    """Real non-blocking sockets driven by the running asyncio loop."""

    def socket(self, family: int, type: int) -> Socket:
        sock = socket.socket(family, type)
        sock.setblocking(False)
        return sock

    async def connect(self, sock: Socket, address: Tuple[Any, ...]) -> None:
        loop = asyncio.get_running_loop()
        if not isinstance(loop, asyncio.SelectorEventLoop):
            # Proactor (Windows) and others: the loop's own implementation.
            await loop.sock_connect(sock, address)
            return
        # Same steps as loop.sock_connect, without its address re-resolution
        # and extra coroutine/callback layers: a third of the per-attempt
        # Python overhead at thousands of connects per second.
        err = sock.connect_ex(address)
        if err in CONNECT_PENDING:
            fut: asyncio.Future[None] = loop.create_future()
            fd = sock.fileno()
            loop.add_writer(fd, _set_done, fut)
            try:
                await fut
            finally:
                loop.remove_writer(fd)  # also on cancel: the fd must leave the selector
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))

    async def sendall(self, sock: Socket, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(sock, data)

    async def recv(self, sock: Socket, nbytes: int) -> bytes:
        return await asyncio.get_running_loop().sock_recv(sock, nbytes)


ProbeFunc = Callable[[ProbeRequest, Optional[SocketOps]], Awaitable[Sample]]

#: What an attempt's socket waits for (the values of ``select.EPOLLIN`` / ``EPOLLOUT``).
WANT_READ = 0x001
WANT_WRITE = 0x004


class Attempt(Protocol):
    """What the scheduler reads from a state-machine attempt."""

    fd: int  # its socket's descriptor, while it has one
    want: int  # WANT_READ or WANT_WRITE
    sample: Optional[Sample]  # set (and the socket closed) once done


class Machine(NamedTuple):
    """A probe kind as a state machine, for the scheduler's readiness engine.

    ``start(req)`` begins one attempt (maybe finishing it at once: ``a.sample``
    set; or leaving it ``a.ready``, its socket already ready for ``step``),
    ``step(a)`` advances it when its socket is ready for ``a.want`` and says
    whether it is done, ``expire(a)`` ends it at its deadline and returns its
    sample, ``cancel(a)`` drops it. Each closes the socket when the attempt ends.
    """

    start: Callable[[ProbeRequest], Any]
    step: Callable[[Any], bool]
    expire: Callable[[Any], Sample]
    cancel: Callable[[Any], None]


class Deadline:
    """Cancel the current task when an attempt's time is up.

    ``asyncio.wait_for`` creates a task and a timer per call; at thousands of
    attempts per second that overhead shows. A single ``call_later`` that
    cancels the attempt's own task is enough, since each attempt runs in a
    task of its own (the scheduler's worker). Usage::

        deadline = Deadline(timeout_s)
        try:
            await ...                     # connect, exchange
        except asyncio.CancelledError:
            if not deadline.absorb():     # our timer, or someone else's cancel?
                raise
            ...                           # the attempt timed out
        finally:
            deadline.close()
    """

    __slots__ = ("_handle", "_loop", "_task", "at", "expired")

    def __init__(self, timeout_s: float, loop: Optional[asyncio.AbstractEventLoop] = None):
        self._loop = loop or asyncio.get_running_loop()
        task = asyncio.current_task(self._loop)
        if task is None:
            raise RuntimeError("Deadline must be used inside a task")
        self._task = task
        self.expired = False
        self.at = self._loop.time() + timeout_s
        self._handle = self._loop.call_at(self.at, self._expire)

    def _expire(self) -> None:
        self.expired = True
        self._task.cancel()

    def remaining(self) -> float:
        return max(0.0, self.at - self._loop.time())

    def absorb(self) -> bool:
        """True when a CancelledError being handled came from this deadline.

        On 3.11+ the task's cancel count tells whether someone else cancelled
        as well; then the caller must re-raise so outer cancellation wins.
        """
        if not self.expired:
            return False
        uncancel = getattr(self._task, "uncancel", None)
        if uncancel is not None:
            return bool(uncancel() == 0)
        return True

    def close(self) -> None:
        self._handle.cancel()
