"""The one-shot bandwidth endpoint (``bandwidth_listen``): serves exactly one
authenticated client, bounded in streams, bytes and seconds.

See :mod:`netcheck_agent.bandwidth` for the protocol as a whole.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ._bandwidth_msgs import (
    BW_COMPLETED,
    BW_ERROR,
    BW_MAX_BYTES,
    BW_MAX_SECONDS,
    BW_NO_CLIENT,
    BW_STOPPED,
    BandwidthClosed,
    BandwidthListen,
    BandwidthListening,
)
from .bandwidth_wire import (
    _WINDOWS,
    ACCEPT_WINDOW_S,
    HANDSHAKE_TIMEOUT_S,
    MAX_LINE,
    MAX_PENDING,
    MODE_RECV,
    MODE_SEND,
    TICK_S,
    _abort,
    _family,
    _io_timeout,
    _recv_loop,
    _send_loop,
    _Stream,
    check_hello,
    ok_line,
    rx_line,
)

log = logging.getLogger(__name__)


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
