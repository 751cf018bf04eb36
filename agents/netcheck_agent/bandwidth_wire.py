"""Bandwidth test wire format and socket plumbing: the keyed handshake (pure),
TCP counters, bounded line reads, and the per-stream send/receive loops.

See :mod:`netcheck_agent.bandwidth` for the protocol as a whole.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
import string
import struct
import sys
import threading
import time
from typing import Callable, Optional, Tuple

log = logging.getLogger(__name__)


MAGIC = b"NCBW1"
MAX_LINE = 160
CHUNK = 1 << 20
#: A connection must present its hello within this long, or it is closed.
HANDSHAKE_TIMEOUT_S = 3.0
#: After the first stream is admitted, the others must follow within this long.
ACCEPT_WINDOW_S = 5.0
#: Handshakes waiting at once; more connections are closed at once.
MAX_PENDING = 16
#: No byte moved on any stream for this long: the peer is gone.
STALL_S = 5.0
#: How long a sender waits for the receiver's RX line after half-closing.
RX_WAIT_S = 15.0
#: Granularity of every blocking call: how fast a stop is noticed.
TICK_S = 0.1
#: Bytes a receiving thread waits for per wake-up (SO_RCVLOWAT), within a tick.
RCVLOWAT = 64 * 1024

MODE_SEND = "send"  # the dialing side sends
MODE_RECV = "recv"  # the dialing side receives (reverse)

_LINUX = sys.platform.startswith("linux")
_WINDOWS = sys.platform == "win32"
_TRUNC = getattr(socket, "MSG_TRUNC", 0) if _LINUX else 0
TCP_INFO = getattr(socket, "TCP_INFO", 11) if _LINUX else None
# struct tcp_info (linux/tcp.h): u32 tcpi_total_retrans at 100, u64
# tcpi_bytes_acked at 120 (Linux 4.1+).
_RETRANS_OFFSET = 100
_ACKED_OFFSET = 120
_TCP_INFO_LEN = 232
_U32 = struct.Struct("=I")
_U64 = struct.Struct("=Q")
_HEX = frozenset(string.hexdigits.lower().encode())
_VANISHED = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ETIMEDOUT, errno.ENOTCONN}
_PAYLOAD: Optional[bytes] = None

Emit = Callable[[object], None]


def payload() -> memoryview:
    """The shared send buffer: 1 MiB of random bytes, made once per process."""
    global _PAYLOAD
    if _PAYLOAD is None:
        _PAYLOAD = os.urandom(CHUNK)
    return memoryview(_PAYLOAD)


# --- the handshake (pure) -----------------------------------------------------


def _mac(token_hex: str, text: str) -> str:
    return hmac.new(bytes.fromhex(token_hex), text.encode("ascii"), hashlib.sha256).hexdigest()


def hello_line(token_hex: str, cnonce: str, mode: str) -> bytes:
    mac = _mac(token_hex, f"ncbw1 hello {cnonce} {mode}")
    return b"%s %s %s %s\n" % (MAGIC, cnonce.encode(), mode.encode(), mac.encode())


def ok_line(token_hex: str, cnonce: str) -> bytes:
    return b"%s OK %s\n" % (MAGIC, _mac(token_hex, f"ncbw1 ok {cnonce}").encode())


def rx_line(nbytes: int, usec: int) -> bytes:
    return b"%s RX %d %d\n" % (MAGIC, nbytes, usec)


def _is_hex(word: bytes, lo: int, hi: int) -> bool:
    return lo <= len(word) <= hi and _HEX.issuperset(word)


def check_hello(token_hex: str, mode: str, line: bytes) -> Optional[str]:
    """The client nonce of a valid hello for ``mode``, or None for anything else."""
    if len(line) > MAX_LINE or not line.endswith(b"\n"):
        return None
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 4 or parts[0] != MAGIC or not _is_hex(parts[1], 16, 64):
        return None
    if not _is_hex(parts[3], 64, 64) or parts[2] != mode.encode():
        return None
    cnonce = parts[1].decode()
    if not hmac.compare_digest(parts[3].decode(), _mac(token_hex, f"ncbw1 hello {cnonce} {mode}")):
        return None
    return cnonce


def check_ok(token_hex: str, cnonce: str, line: bytes) -> bool:
    return hmac.compare_digest(line.rstrip(b"\r\n"), ok_line(token_hex, cnonce).rstrip(b"\n"))


def parse_rx(line: bytes) -> Optional[Tuple[int, int]]:
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 4 or parts[0] != MAGIC or parts[1] != b"RX":
        return None
    if not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    return int(parts[2]), int(parts[3])


# --- socket helpers -------------------------------------------------------------


def tcp_counters(sock: socket.socket) -> Tuple[Optional[int], Optional[int]]:
    """(tcpi_total_retrans, tcpi_bytes_acked) from TCP_INFO; None where not offered."""
    if TCP_INFO is None:
        return None, None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None, None
    retrans = _U32.unpack_from(info, _RETRANS_OFFSET)[0] if len(info) >= 104 else None
    acked = _U64.unpack_from(info, _ACKED_OFFSET)[0] if len(info) >= 128 else None
    return retrans, acked


def _io_timeout(sock: socket.socket, seconds: float) -> None:
    """A kernel-side timeout on a blocking socket: no extra poll() per call.

    A blocked call then fails with EAGAIN (BlockingIOError), which the data
    loops take as a tick to look at their stop flags.
    """
    if _WINDOWS:
        value = struct.pack("I", int(seconds * 1000))
    else:
        sec = int(seconds)
        value = struct.pack("ll", sec, int((seconds - sec) * 1e6))
    try:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except (OSError, AttributeError):
        sock.settimeout(seconds)


def _abort(sock: socket.socket) -> None:
    """Close with RST, so a bounded close is noticed at once by the other side."""
    try:
        linger = struct.pack("HH" if _WINDOWS else "ii", 1, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    except OSError:
        pass
    sock.close()


def _read_line(sock: socket.socket, deadline: float) -> bytes:
    """Read one short line with a deadline (handshake and RX replies only)."""
    buf = b""
    while b"\n" not in buf and len(buf) <= MAX_LINE:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no line in time")
        sock.settimeout(left)
        chunk = sock.recv(MAX_LINE + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    """Exactly ``n`` bytes (fewer only at EOF): the OK line, never the data after it."""
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no answer in time")
        sock.settimeout(left)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _family(address: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET


class _Stream:
    """One data connection's counters; its thread is the only writer."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.bytes = 0
        self.started = time.monotonic()
        self.last_progress = self.started
        self.ended: Optional[float] = None
        self.vanished: Optional[float] = None  # when the peer went away, if it did
        self.rx: Optional[Tuple[int, int]] = None  # the receiver's count (forward)
        self.retrans: Optional[int] = None
        self.thread: Optional[threading.Thread] = None


def _send_loop(stream: _Stream, halt: threading.Event, budget: Callable[[], bool]) -> None:
    view = payload()
    sock = stream.sock
    send = sock.send
    try:
        while not halt.is_set() and budget():
            try:
                n = send(view)
            except BlockingIOError:
                continue  # SO_SNDTIMEO tick: look at halt again
            except socket.timeout:
                continue
            stream.bytes += n
            stream.last_progress = time.monotonic()
    except OSError as exc:
        if exc.errno not in _VANISHED and not isinstance(exc, ConnectionError):
            log.info("bandwidth send: %s", exc)
        stream.vanished = time.monotonic()
    stream.retrans = tcp_counters(sock)[0]
    stream.ended = time.monotonic()


def _recv_loop(stream: _Stream, halt: threading.Event, budget: Callable[[], bool]) -> bool:
    """Count what arrives until EOF (True), halt or the budget (False)."""
    buf = bytearray(CHUNK)
    sock = stream.sock
    # Wake the thread for 64 KiB at a time, not for every segment: on a slow link
    # that is most of the CPU a receiver spends. The SO_RCVTIMEO tick still hands
    # back whatever has arrived, so counts stay current and stops prompt.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, RCVLOWAT)
    recv_into = sock.recv_into
    flags = _TRUNC
    eof = False
    try:
        while not halt.is_set() and budget():
            try:
                n = recv_into(buf, CHUNK, flags)
            except BlockingIOError:
                continue
            except socket.timeout:
                continue
            if not n:
                eof = True
                break
            stream.bytes += n
            stream.last_progress = time.monotonic()
    except OSError:
        stream.vanished = time.monotonic()
    stream.ended = time.monotonic()
    return eof
