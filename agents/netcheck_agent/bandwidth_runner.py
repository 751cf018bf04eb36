"""The dialing side of a bandwidth test (``bandwidth_run``): streams, interval
samples and the final figure.

See :mod:`netcheck_agent.bandwidth` for the protocol as a whole.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from typing import List, Optional, Tuple

from ._bandwidth_msgs import (
    BW_COMPLETED,
    BW_ERROR,
    BW_NOT_ACCEPTED,
    BW_PEER_VANISHED,
    BW_REFUSED,
    BW_STOPPED,
    BW_TIMEOUT,
    BW_UNREACHABLE,
    SOURCE_RECEIVER,
    SOURCE_SENDER,
    SOURCE_SENDER_ACKED,
    BandwidthInterval,
    BandwidthResult,
    BandwidthRun,
)
from .bandwidth_wire import (
    _VANISHED,
    MODE_RECV,
    MODE_SEND,
    RX_WAIT_S,
    STALL_S,
    TICK_S,
    Emit,
    _family,
    _io_timeout,
    _read_exact,
    _read_line,
    _recv_loop,
    _send_loop,
    _Stream,
    check_ok,
    hello_line,
    ok_line,
    parse_rx,
    tcp_counters,
)

log = logging.getLogger(__name__)


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
