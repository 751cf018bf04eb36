"""The agent's one control path: a line channel to its coordinator.

A channel has ``async receive() -> Optional[bytes]`` (one line, ``None`` at
end of input: the coordinator is gone) and ``async send(data)`` (one complete
line). Two implementations:

- :class:`StdioChannel` — the process's stdin/stdout, as used over SSH.
  Blocking reads and writes happen in two daemon threads handing lines to the
  event loop with ``call_soon_threadsafe``: that works the same on Linux and
  Windows (where ``connect_read_pipe`` on a console/pipe stdin is unreliable),
  and the writer thread batches lines so a fast probe stream costs one
  ``write`` per burst rather than per line.
- :class:`QueueChannel` — an in-memory pair (:func:`memory_channel_pair`) for
  the coordinator's local transport and for tests. Made with
  ``carries_messages=True`` it passes the message objects themselves: agent and
  coordinator share one process and one set of message classes, so a line of
  JSON between them would only be encoded to be decoded again (a message is
  validated once, when it is built). Every channel that crosses a process
  carries encoded lines (the wire codec).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import queue
import sys
import threading
from typing import Any, BinaryIO, Deque, Optional, Protocol, Tuple

from .protocol import MAX_LINE_BYTES


class Channel(Protocol):
    """What the :class:`~netcheck_agent.agent.Agent` needs from its transport."""

    async def receive(self) -> Any:
        """One line (bytes), a message object on a channel that ``carries_messages``,
        or None at end of input."""

    async def send(self, data: bytes) -> None: ...


class _Pipe:
    """One direction of lines (or messages), consumed on one event loop.

    Not an ``asyncio.Queue`` because on Python 3.9 a Queue binds to an event
    loop when constructed, and channels are often built before the loop runs.
    """

    def __init__(self) -> None:
        self._items: Deque[Any] = collections.deque()
        self._closed = False
        self._waiter: Optional[asyncio.Future[None]] = None

    def put(self, item: Any) -> None:
        if self._closed:
            raise BrokenPipeError("channel closed")
        self._items.append(item)
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            if self._closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class QueueChannel:
    """One end of an in-memory channel; see :func:`memory_channel_pair`.

    ``carries_messages``: items are message objects, not encoded lines.
    """

    def __init__(self, inbound: _Pipe, outbound: _Pipe, carries_messages: bool = False):
        self._in = inbound
        self._out = outbound
        self.carries_messages = carries_messages

    async def receive(self) -> Any:
        return await self._in.get()

    async def send(self, data: Any) -> None:
        self._out.put(data)

    def send_nowait(self, data: Any) -> None:
        """Queue ``data`` for the peer without awaiting (the pipe is unbounded)."""
        self._out.put(data)

    async def close(self) -> None:
        """End this side: the peer reads what was sent, then ``None``; our own
        pending input is dropped and the peer's further sends fail."""
        self._out.close()
        self._in.close()


def memory_channel_pair(carries_messages: bool = False) -> Tuple[QueueChannel, QueueChannel]:
    """``(agent_side, coordinator_side)``, joined back to back in memory; with
    ``carries_messages`` they pass message objects instead of encoded lines."""
    to_agent, to_coordinator = _Pipe(), _Pipe()
    return (
        QueueChannel(to_agent, to_coordinator, carries_messages),
        QueueChannel(to_coordinator, to_agent, carries_messages),
    )


_STOP = object()


class StdioChannel:
    """Lines over binary stdin/stdout (or any pair of binary streams)."""

    def __init__(
        self,
        stdin: Optional[BinaryIO] = None,
        stdout: Optional[BinaryIO] = None,
        max_line: int = MAX_LINE_BYTES,
    ):
        self._stdin = stdin if stdin is not None else sys.stdin.buffer
        self._stdout = stdout if stdout is not None else sys.stdout.buffer
        self._max_line = max_line
        try:
            self._fileno: Optional[int] = self._stdin.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory stream
            self._fileno = None
        try:
            self._stdout.flush()  # anything buffered before we take over the fd
            self._out_fileno: Optional[int] = self._stdout.fileno()
        except (AttributeError, OSError, ValueError):
            self._out_fileno = None
        self._in = _Pipe()
        self._out: queue.Queue[object] = queue.Queue()
        self._broken = False
        self._reader: Optional[threading.Thread] = None
        self._writer: Optional[threading.Thread] = None

    def _start(self) -> None:
        if self._reader is not None:
            return
        loop = asyncio.get_running_loop()
        # Daemon threads: a reader blocked in read() must not keep the process
        # alive once the agent has decided to exit.
        self._reader = threading.Thread(
            target=self._read_loop, args=(loop,), name="netcheck-agent-stdin", daemon=True
        )
        self._writer = threading.Thread(
            target=self._write_loop, name="netcheck-agent-stdout", daemon=True
        )
        self._reader.start()
        self._writer.start()

    def _read_chunk(self) -> bytes:
        """Up to 64 KiB of input; b"" at end of input."""
        fd = self._fileno
        if fd is not None:
            return os.read(fd, 65536)
        return (
            self._stdin.read1(65536) if hasattr(self._stdin, "read1") else self._stdin.read(65536)
        )

    def _read_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        # Raw os.read on the descriptor, not the buffered stdin object: a
        # daemon thread blocked inside BufferedReader holds its lock, and the
        # interpreter aborts at exit when it cannot take that lock.
        buf = bytearray()
        skipping = False  # inside an oversized line, dropping until its newline
        try:
            while True:
                chunk = self._read_chunk()
                if not chunk:
                    break
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        if not skipping and len(buf) > self._max_line:
                            # Oversized: pass on the head (the decoder rejects
                            # it as too long) and drop the rest of the line.
                            self._post(loop, bytes(buf[: self._max_line + 1]))
                            skipping = True
                        if skipping:
                            buf.clear()
                        break
                    line = bytes(buf[: nl + 1])
                    del buf[: nl + 1]
                    if skipping:
                        skipping = False
                    else:
                        self._post(loop, line[: self._max_line + 1])
            if buf and not skipping:
                self._post(loop, bytes(buf))  # a last line without its newline
        except (OSError, ValueError):
            pass  # stdin closed under us: same as end of input
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(self._in.close)

    def _post(self, loop: asyncio.AbstractEventLoop, line: bytes) -> None:
        loop.call_soon_threadsafe(self._deliver, line)

    def _deliver(self, line: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._in.put(line)

    def _write_loop(self) -> None:
        while True:
            item = self._out.get()
            chunks = []
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                    break
                chunks.append(item)
                try:
                    item = self._out.get_nowait()
                except queue.Empty:
                    break
            if chunks and not self._broken:
                try:
                    self._write_all(b"".join(chunks))  # type: ignore[arg-type]
                except (OSError, ValueError):
                    self._broken = True  # the coordinator is gone
            if stop:
                return

    def _write_all(self, data: bytes) -> None:
        # os.write on the descriptor for the same reason the reader uses
        # os.read: a daemon thread stuck in a BufferedWriter (coordinator not
        # reading) would make the interpreter abort at exit.
        fd = self._out_fileno
        if fd is None:
            self._stdout.write(data)
            self._stdout.flush()
            return
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    async def receive(self) -> Optional[bytes]:
        self._start()
        line: Optional[bytes] = await self._in.get()
        return line

    async def send(self, data: bytes) -> None:
        self._start()
        self.send_nowait(data)

    def send_nowait(self, data: bytes) -> None:
        """Hand ``data`` to the writer thread (the queue is unbounded)."""
        self._start()
        if self._broken:
            raise BrokenPipeError("stdout closed")
        self._out.put_nowait(data)

    async def close(self, timeout: float = 5.0) -> None:
        """Flush what was sent (up to ``timeout`` seconds) and stop the writer."""
        if self._writer is None:
            return
        self._out.put_nowait(_STOP)
        # Poll rather than join in an executor: no extra thread pool to shut down.
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        while self._writer.is_alive() and loop.time() < give_up:
            await asyncio.sleep(0.005)
