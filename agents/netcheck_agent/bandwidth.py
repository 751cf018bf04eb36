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
import errno
import hashlib
import hmac
import ipaddress
import logging
import os
import selectors
import socket
import string
import struct
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ._bandwidth_msgs import (
    BW_COMPLETED,
    BW_ERROR,
    BW_MAX_BYTES,
    BW_MAX_SECONDS,
    BW_NO_CLIENT,
    BW_NOT_ACCEPTED,
    BW_PEER_VANISHED,
    BW_REFUSED,
    BW_STOPPED,
    BW_TIMEOUT,
    BW_UNREACHABLE,
    SOURCE_RECEIVER,
    SOURCE_SENDER,
    SOURCE_SENDER_ACKED,
    BandwidthClosed,
    BandwidthInterval,
    BandwidthListen,
    BandwidthListening,
    BandwidthResult,
    BandwidthRun,
    BandwidthStop,
)
from .protocol import ERROR_BAD_MESSAGE, ERROR_LISTEN_FAILED, Error

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


# --- the endpoint -----------------------------------------------------------------


class Endpoint:
    """One ``bandwidth_listen``: :meth:`open`, then :meth:`start`; reports once via ``on_closed``."""

    def __init__(self, req: BandwidthListen, on_closed: Callable[[BandwidthClosed], None]):
        self.req = req
        self._on_closed = on_closed
        self._stop = threading.Event()
        self._halt = threading.Event()
        self._lsock: Optional[socket.socket] = None
        self._streams: List[_Stream] = []
        self._thread: Optional[threading.Thread] = None
        self.rejected = 0

    @property
    def id(self) -> str:
        return self.req.id

    def open(self) -> BandwidthListening:
        """Bind and listen now (raises OSError); the thread starts with :meth:`start`."""
        req = self.req
        sock = socket.socket(_family(req.address), socket.SOCK_STREAM)
        try:
            if not _WINDOWS:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if sock.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((req.address, req.port))
            sock.listen(min(req.streams + MAX_PENDING, 256))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._lsock = sock
        port = sock.getsockname()[1]
        log.info(
            "bandwidth endpoint %s on %s:%d (%d streams, %s s, %d bytes max)",
            req.id,
            req.address,
            port,
            req.streams,
            req.max_seconds,
            req.max_bytes,
        )
        return BandwidthListening(req.id, req.address, port)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"bw-endpoint-{self.req.id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def total_bytes(self) -> int:
        return sum(s.bytes for s in self._streams)

    def _within_budget(self) -> bool:
        return self.total_bytes() < self.req.max_bytes

    def _run(self) -> None:
        try:
            reason = self._serve()
        except Exception as exc:  # never leave the coordinator waiting
            log.exception("bandwidth endpoint %s failed", self.req.id)
            reason = f"{BW_ERROR}: {type(exc).__name__}"
        self._halt.set()
        for s in self._streams:
            if s.thread is not None:
                s.thread.join(2.0)
        seconds = max(((s.ended or time.monotonic()) - s.started for s in self._streams), default=0)
        retrans: Optional[int] = None
        if self.req.reverse and self._streams:
            values = [s.retrans for s in self._streams]
            retrans = None if any(v is None for v in values) else sum(v or 0 for v in values)
        closed = BandwidthClosed(
            self.req.id,
            self.total_bytes(),
            round(seconds, 6),
            len(self._streams),
            self.rejected,
            reason,
            retrans,
        )
        log.info(
            "bandwidth endpoint %s closed (%s): %d bytes, %d streams, %d rejected",
            self.req.id,
            reason,
            closed.bytes,
            closed.connections,
            closed.rejected,
        )
        self._on_closed(closed)

    def _serve(self) -> str:
        req = self.req
        lsock = self._lsock
        assert lsock is not None
        mode = MODE_RECV if req.reverse else MODE_SEND
        sel = selectors.DefaultSelector()
        sel.register(lsock, selectors.EVENT_READ)
        pending: Dict[socket.socket, Tuple[float, bytes, str]] = {}
        seen: Set[str] = set()
        client: Optional[str] = None
        opened = time.monotonic()
        first: Optional[float] = None
        listening = True
        try:
            while True:
                now = time.monotonic()
                if self._stop.is_set():
                    return BW_STOPPED
                if now - opened >= req.max_seconds:
                    return BW_MAX_SECONDS
                if self._streams and not self._within_budget():
                    return BW_MAX_BYTES
                ended = bool(self._streams) and all(s.ended is not None for s in self._streams)
                if ended and (not listening or now - (first or now) >= ACCEPT_WINDOW_S):
                    return BW_COMPLETED
                if first is None and now - opened >= req.accept_timeout_s:
                    return f"{BW_NO_CLIENT} within {req.accept_timeout_s:g} s"
                full = len(self._streams) >= req.streams
                if listening and (full or (first is not None and now - first >= ACCEPT_WINDOW_S)):
                    sel.unregister(lsock)
                    lsock.close()  # the session is complete: anyone else is refused
                    listening = False
                for key, _ in sel.select(TICK_S):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is lsock:
                        self._accept(lsock, sel, pending)
                        continue
                    deadline, buf, peer = pending[sock]
                    try:
                        chunk = sock.recv(MAX_LINE + 1 - len(buf))
                    except (BlockingIOError, InterruptedError):
                        continue  # spurious wake-up: the hello is not there yet
                    except OSError:
                        chunk = b""
                    buf += chunk
                    if chunk and b"\n" not in buf and len(buf) <= MAX_LINE:
                        pending[sock] = (deadline, buf, peer)
                        continue
                    sel.unregister(sock)
                    del pending[sock]
                    cnonce = check_hello(req.token, mode, buf) if chunk else None
                    admit = (
                        cnonce is not None
                        and cnonce not in seen
                        and listening
                        and len(self._streams) < req.streams
                        and (client is None or peer == client)
                    )
                    if cnonce is not None:
                        seen.add(cnonce)
                    if not admit:
                        self.rejected += 1
                        sock.close()  # not a word to anyone without the token
                        continue
                    assert cnonce is not None
                    client = peer
                    if first is None:
                        first = time.monotonic()
                    self._admit(sock, cnonce)
                for sock, (deadline, _buf, _peer) in list(pending.items()):
                    if time.monotonic() >= deadline:
                        sel.unregister(sock)
                        del pending[sock]
                        self.rejected += 1
                        sock.close()
        finally:
            for sock in pending:
                self.rejected += 1
                sock.close()
            if listening:
                lsock.close()
            sel.close()

    def _accept(
        self, lsock: socket.socket, sel: selectors.BaseSelector, pending: Dict[Any, Any]
    ) -> None:
        try:
            sock, addr = lsock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(TICK_S)  # out of descriptors: back off, stay bounded
                return
            raise
        if len(pending) >= MAX_PENDING:
            self.rejected += 1
            sock.close()
            return
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        pending[sock] = (time.monotonic() + HANDSHAKE_TIMEOUT_S, b"", addr[0])

    def _admit(self, sock: socket.socket, cnonce: str) -> None:
        sock.setblocking(True)
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT_S)
            sock.sendall(ok_line(self.req.token, cnonce))
        except OSError:
            sock.close()
            return
        _io_timeout(sock, TICK_S)
        stream = _Stream(sock)
        target = self._serve_send if self.req.reverse else self._serve_recv
        stream.thread = threading.Thread(target=target, args=(stream,), daemon=True)
        self._streams.append(stream)
        stream.thread.start()

    def _serve_recv(self, stream: _Stream) -> None:
        eof = _recv_loop(stream, self._halt, self._within_budget)
        try:
            if eof:
                usec = int(((stream.ended or time.monotonic()) - stream.started) * 1e6)
                stream.sock.settimeout(HANDSHAKE_TIMEOUT_S)
                stream.sock.sendall(rx_line(stream.bytes, usec))
                stream.sock.close()
            else:
                _abort(stream.sock)  # stopped or out of budget: tell the sender now
        except OSError:
            stream.sock.close()

    def _serve_send(self, stream: _Stream) -> None:
        _send_loop(stream, self._halt, self._within_budget)
        if stream.vanished is not None:
            stream.vanished = None  # in reverse the client ends a stream by closing it
        _abort(stream.sock)


# --- the runner ---------------------------------------------------------------------


class Runner:
    """One ``bandwidth_run``: dial, move data, emit intervals, then one result."""

    def __init__(self, req: BandwidthRun, emit: Emit):
        self.req = req
        self._emit = emit
        self._stop = threading.Event()
        self._halt = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._streams: List[_Stream] = []

    @property
    def id(self) -> str:
        return self.req.id

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"bw-run-{self.req.id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _result(
        self, nbytes: int, seconds: float, reason: str, source: str, retrans: Optional[int]
    ) -> BandwidthResult:
        mbps = nbytes * 8 / seconds / 1e6 if seconds > 0 else 0.0
        return BandwidthResult(
            self.req.id,
            nbytes,
            round(seconds, 6),
            round(mbps, 3),
            retrans,
            len(self._streams),
            reason,
            source,
        )

    def _run(self) -> None:
        try:
            result = self._measure()
        except Exception as exc:
            log.exception("bandwidth run %s failed", self.req.id)
            result = self._result(0, 0.0, f"{BW_ERROR}: {type(exc).__name__}: {exc}", "none", None)
        finally:
            self._halt.set()
            for s in self._streams:
                s.sock.close()
        log.info(
            "bandwidth run %s: %s, %.1f Mbit/s over %d streams",
            self.req.id,
            result.reason,
            result.mbps,
            result.streams,
        )
        self._emit(result)

    def _connect(self, mode: str) -> Optional[str]:
        """Open and authenticate every stream; the reason it failed, or None."""
        req = self.req
        timeout = req.connect_timeout_ms / 1000
        for _ in range(req.streams):
            if self._stop.is_set():
                return BW_STOPPED
            sock = socket.socket(_family(req.dst), socket.SOCK_STREAM)
            try:
                if req.src:
                    sock.bind((req.src, 0))
                sock.settimeout(timeout)
                sock.connect((req.dst, req.port))
                cnonce = os.urandom(16).hex()
                sock.sendall(hello_line(req.token, cnonce, mode))
                # In reverse the data follows the OK line at once: read the line only.
                expected = len(ok_line(req.token, cnonce))
                line = _read_exact(sock, expected, time.monotonic() + timeout)
            except ConnectionRefusedError:
                sock.close()
                return BW_REFUSED
            except socket.timeout:
                sock.close()
                return BW_TIMEOUT
            except OSError as exc:
                sock.close()
                if exc.errno in _VANISHED:
                    return BW_NOT_ACCEPTED
                if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                    return BW_UNREACHABLE
                return f"{BW_ERROR}: {exc.strerror or exc}"
            if not check_ok(req.token, cnonce, line):
                sock.close()
                return BW_NOT_ACCEPTED  # closed on us, or not our endpoint answering
            _io_timeout(sock, TICK_S)
            self._streams.append(_Stream(sock))
        return None

    def _measure(self) -> BandwidthResult:
        req = self.req
        mode = MODE_RECV if req.reverse else MODE_SEND
        failed = self._connect(mode)
        if failed is not None:
            return self._result(0, 0.0, failed, "none", None)
        t0 = time.monotonic()
        for s in self._streams:
            s.started = s.last_progress = t0
            target = _recv_loop if req.reverse else _send_loop
            s.thread = threading.Thread(
                target=target, args=(s, self._halt, lambda: True), daemon=True
            )
            s.thread.start()
        stopped, vanished_at = self._report_intervals(t0)
        halted = time.monotonic()
        self._halt.set()
        for s in self._streams:
            if s.thread is not None:
                s.thread.join(2.0)
        for s in self._streams:
            # A stream that ended before we halted it lost its peer (reset or EOF).
            if s.vanished is not None or (s.ended is not None and s.ended < halted):
                s.vanished = s.vanished or s.ended
                gone = s.last_progress - t0
                vanished_at = gone if vanished_at is None else min(vanished_at, gone)
        if req.reverse:
            nbytes = sum(s.bytes for s in self._streams)
            seconds = vanished_at if vanished_at else halted - t0
            reason = self._reason(stopped, vanished_at)
            return self._result(nbytes, seconds, reason, SOURCE_RECEIVER, None)
        return self._finish_sending(t0, stopped, vanished_at)

    def _reason(self, stopped: bool, vanished_at: Optional[float]) -> str:
        if vanished_at is not None:
            return f"{BW_PEER_VANISHED} after {vanished_at:.1f} s"
        return BW_STOPPED if stopped else BW_COMPLETED

    def _report_intervals(self, t0: float) -> Tuple[bool, Optional[float]]:
        """Emit a sample every interval until the duration is over; (stopped, vanished_at)."""
        req = self.req
        end = t0 + req.duration_s
        step = req.interval_ms / 1000
        tick = t0
        last_bytes, last_retrans = self._counters()
        while True:
            tick = min(tick + step, end)
            wait = tick - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return True, None
            now = time.monotonic()
            nbytes, retrans = self._counters()
            delta_r = None if retrans is None or last_retrans is None else retrans - last_retrans
            self._emit(
                BandwidthInterval(req.id, round(now - t0, 6), max(0, nbytes - last_bytes), delta_r)
            )
            last_bytes, last_retrans = nbytes, retrans
            if now >= end:
                return False, None
            if all(s.ended is not None for s in self._streams):
                return False, max(s.last_progress for s in self._streams) - t0
            newest = max(s.last_progress for s in self._streams)
            if now - newest >= STALL_S:
                return False, newest - t0

    def _counters(self) -> Tuple[int, Optional[int]]:
        """Bytes delivered so far (acked by the peer where TCP_INFO says) and retransmissions."""
        if self.req.reverse:
            return sum(s.bytes for s in self._streams), None
        total = 0
        retrans: Optional[int] = 0
        for s in self._streams:
            r, acked = tcp_counters(s.sock)
            total += s.bytes if acked is None else acked
            retrans = None if r is None or retrans is None else retrans + r
        return total, retrans

    def _finish_sending(
        self, t0: float, stopped: bool, vanished_at: Optional[float]
    ) -> BandwidthResult:
        """Half-close every stream and collect the receiver's count for it."""
        deadline = time.monotonic() + RX_WAIT_S
        for s in self._streams:
            if s.vanished is None:
                try:
                    s.sock.shutdown(socket.SHUT_WR)
                    s.rx = parse_rx(_read_line(s.sock, deadline))
                except OSError:
                    s.rx = None
        acked_total: Optional[int] = 0
        retrans: Optional[int] = 0
        for s in self._streams:
            r, acked = tcp_counters(s.sock)  # after the drain: all the receiver acked
            if s.vanished is not None and s.retrans is not None:
                r = s.retrans  # the socket is dead; its thread read the count in time
            retrans = None if r is None or retrans is None else retrans + r
            acked_total = None if acked is None or acked_total is None else acked_total + acked
        reason = self._reason(stopped, vanished_at)
        if all(s.rx is not None for s in self._streams):
            nbytes = sum(s.rx[0] for s in self._streams if s.rx)
            seconds = max(s.rx[1] for s in self._streams if s.rx) / 1e6
            return self._result(nbytes, seconds, reason, SOURCE_RECEIVER, retrans)
        # The receiver could not say (it vanished): what the kernel saw acknowledged.
        if vanished_at is None:
            vanished_at = min(s.last_progress for s in self._streams if s.rx is None) - t0
            reason = self._reason(stopped, vanished_at)
        seconds = max(vanished_at, 1e-6)
        if acked_total is not None:
            return self._result(acked_total, seconds, reason, SOURCE_SENDER_ACKED, retrans)
        nbytes = sum(s.bytes for s in self._streams)
        return self._result(nbytes, seconds, reason, SOURCE_SENDER, retrans)


# --- the agent's registry ------------------------------------------------------------


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
