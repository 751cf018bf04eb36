"""Lines from a byte stream with a bound: an agent's channel is read through this.

A peer that streams bytes without a newline must not grow the coordinator's
memory, nor look like a hang: past `max_line` bytes without a newline the
reader raises `LineTooLong`, a protocol failure of that agent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable

from netcheck.errors import ProtocolError

__all__ = ["MAX_AGENT_LINE", "LineReader", "LineTooLong"]

#: Longest line an agent may send. Its messages are one cell's result or one
#: diagnostic's report (kilobytes); the limit leaves room without letting a
#: stream without newlines take the coordinator's memory.
MAX_AGENT_LINE = 4 * 1024 * 1024

_CHUNK = 64 * 1024


class LineTooLong(ProtocolError):
    """The peer sent more than the line limit without a newline."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"the agent sent more than {limit // 1024} KiB without a newline "
            "(not netcheck protocol: a wrong program on the channel, or a broken agent)"
        )


class LineReader:
    """`next()` returns the next line (with its newline), the unterminated rest at
    EOF, then None; `read(n)` is the stream's read of up to n bytes (b"" at EOF)."""

    def __init__(
        self, read: Callable[[int], Awaitable[bytes]], max_line: int = MAX_AGENT_LINE
    ) -> None:
        self._read = read
        self._max = max_line
        self._buf = bytearray()
        self._lines: deque[bytes] = deque()
        self._eof = False

    async def next(self) -> bytes | None:
        while not self._lines:
            if self._eof:
                return None
            chunk = await self._read(_CHUNK)
            if not chunk:
                self._eof = True
                if self._buf:
                    rest = bytes(self._buf)
                    self._buf.clear()
                    return rest
                return None
            self._feed(chunk)
        return self._lines.popleft()

    def _feed(self, chunk: bytes) -> None:
        start = len(self._buf)
        self._buf += chunk
        end = self._buf.rfind(b"\n", start)
        if end >= 0:
            done = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            for line in done.split(b"\n")[:-1]:  # only \n ends a line, not \r
                if len(line) >= self._max:
                    raise LineTooLong(self._max)
                self._lines.append(line + b"\n")
        if len(self._buf) > self._max:
            raise LineTooLong(self._max)
