"""``tcp_connect``: one TCP connect attempt to ``dst``:``port``, optionally proven.

Outcomes: ``open`` (connected; ``proven`` when the intended responder
answered the challenge), ``refused`` (RST), ``timeout`` (no answer by the
deadline: the coordinator calls it filtered), ``unreachable`` (ICMP
unreachable, local firewall, source address not ours), ``handshake_only``
(connected but the intended responder did not answer: a middlebox, another
service, another responder of the sweep behind a NAT — detail
:data:`~netcheck_agent.challenge.DETAIL_MISDIRECTED`, with the challenge and
the answer in ``facts`` so the coordinator can name it — or a responder of
another sweep, :data:`~netcheck_agent.challenge.DETAIL_OTHER_SWEEP`), ``error``.

RTT comes from the kernel when it can (Linux ``TCP_INFO.tcpi_rtt``, the
smoothed RTT which right after the handshake is the SYN/SYN-ACK sample), so a
busy event loop does not inflate it; elsewhere it is the monotonic time the
connect took.

The attempt exists in two forms built from the same pure decisions
(:func:`connected_rtt`, :func:`reply_sample`, :func:`deadline_sample`,
:func:`oserror_sample`):

- :func:`probe`, a coroutine over injectable :class:`SocketOps` — the
  portable path (any event loop, Windows' proactor included);
- a state machine for the scheduler's epoll engine: :func:`start` opens the
  socket and starts the connect, :func:`step` advances it when its socket is
  ready for what :attr:`Attempt.want` says (connect done → ``SO_ERROR`` +
  ``TCP_INFO`` → [send the challenge, read the answer, verify]), and
  :func:`expire` / :func:`cancel` end it at the scheduler's deadline or on
  cancellation. The machine keeps no timer and never waits: the scheduler
  owns readiness, deadlines and concurrency. Whenever ``Attempt.sample`` is
  set the socket has been closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import socket
import struct
import sys
import time
from typing import Any, Callable, Optional, Tuple

from .. import challenge
from ..protocol import ProbeRequest, Sample
from .base import CONNECT_PENDING, WANT_READ, WANT_WRITE, Deadline, LoopSocketOps, SocketOps
from .errors import ERROR, HANDSHAKE_ONLY, OPEN, TIMEOUT, classify_oserror

KIND = "tcp_connect"

_LINUX = sys.platform.startswith("linux")
# linux/in.h; Python exposes it only from 3.12 on, the value is ABI-stable.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
TCP_INFO = getattr(socket, "TCP_INFO", 11) if _LINUX else None
# struct tcp_info (linux/tcp.h): 8 one-byte fields, then u32 rto, ato, snd_mss,
# rcv_mss, unacked, sacked, lost, retrans, fackets, last_data_sent,
# last_ack_sent, last_data_recv, last_ack_recv, pmtu, rcv_ssthresh, rtt:
# 8 + 15 * 4 = 68. 104 bytes is the size since Linux 2.6 (enough for rtt).
TCPI_RTT_OFFSET = 68
TCP_INFO_LEN = 104
# tcpi_state is the first byte; linux/tcp_states.h.
TCP_SYN_SENT = 2
_RTT = struct.Struct("=I")
# SO_LINGER {on, 0 s}: close() sends RST and frees the 4-tuple at once.
# struct linger is two ints on POSIX but two u_shorts in Winsock.
_LINGER_ABORT = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
# Non-blocking from birth where the OS allows: one fcntl less per attempt.
_SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)

_default_ops = LoopSocketOps()

# Stages of an attempt; also the prefix of an error's detail.
BIND = "bind"
CONNECT = "connect"
CHALLENGE = "challenge"


# -- pure decisions -----------------------------------------------------------


def rtt_from_tcp_info(info: Optional[bytes]) -> Optional[int]:
    """``tcpi_rtt`` (µs) from a ``TCP_INFO`` blob; None if absent, short or 0.

    0 means the kernel took no RTT sample; the monotonic time is better than that.
    """
    if info is None or len(info) < TCPI_RTT_OFFSET + 4:
        return None
    rtt: int = _RTT.unpack_from(info, TCPI_RTT_OFFSET)[0]
    return rtt or None


def connected_rtt(info: Optional[bytes], elapsed_s: float) -> Tuple[int, str]:
    """RTT and its source once connected: the kernel's if any, else the elapsed time."""
    rtt = rtt_from_tcp_info(info)
    if rtt is not None:
        return rtt, "tcp_info"
    return int(elapsed_s * 1e6), "monotonic"


def oserror_sample(stage: str, exc: OSError, t: float, rtt: Optional[Tuple[int, str]]) -> Sample:
    """The sample for an OS error at ``stage``; ``rtt`` is set once connected."""
    if stage == CHALLENGE and rtt is not None:
        return Sample(
            HANDSHAKE_ONLY,
            rtt[0],
            rtt[1],
            errno=exc.errno,
            detail=f"connected, then {classify_oserror(exc).detail}",
            t=t,
        )
    outcome, number, detail = classify_oserror(exc)
    return Sample(outcome, errno=number, detail=f"{stage}: {detail}", t=t)


def request_keys(req: ProbeRequest) -> challenge.Keys:
    """The keys of the responder ``req`` means (``req.nonce`` must be set)."""
    assert req.nonce is not None
    return challenge.keys(req.nonce, req.dst_host or "", req.dst, req.port)


def reply_sample(key: bytes, chal: str, reply: bytes, rtt: Tuple[int, str], t: float) -> Sample:
    """``open`` + proven for the intended responder's answer to ``chal``, else
    ``handshake_only`` saying who answered instead, as far as the reply tells."""
    kind, token = challenge.read_reply(key, chal, reply)
    if kind == challenge.PROVEN:
        return Sample(OPEN, rtt[0], rtt[1], proven=True, t=t)
    if kind == challenge.MISDIRECTED:
        evidence = {"challenge": chal, "answer": token}
        detail = challenge.DETAIL_MISDIRECTED
        return Sample(HANDSHAKE_ONLY, rtt[0], rtt[1], detail=detail, t=t, facts=evidence)
    if kind == challenge.OTHER_SWEEP:
        return Sample(HANDSHAKE_ONLY, rtt[0], rtt[1], detail=challenge.DETAIL_OTHER_SWEEP, t=t)
    what = "wrong answer" if reply.startswith(challenge.MAGIC) else challenge.describe_reply(reply)
    return Sample(HANDSHAKE_ONLY, rtt[0], rtt[1], detail=f"connected, then {what}", t=t)


def deadline_sample(
    stage: str, rtt: Optional[Tuple[int, str]], timeout_ms: int, t: float
) -> Sample:
    """The attempt's deadline passed at ``stage``."""
    if stage == CHALLENGE and rtt is not None:
        return Sample(HANDSHAKE_ONLY, rtt[0], rtt[1], detail="no answer before deadline", t=t)
    return Sample(TIMEOUT, detail=f"no answer within {timeout_ms} ms", t=t)


def answer_complete(buf: bytes) -> bool:
    """Whether ``buf`` holds a whole answer line (or more than one can be)."""
    return b"\n" in buf or len(buf) > challenge.MAX_LINE


@functools.lru_cache(maxsize=16384)  # a sweep's addresses repeat across its cells
def _ip_version(address: str) -> int:
    return ipaddress.ip_address(address).version  # the agent never resolves names here


def _target(
    dst: str, port: int, src: Optional[str]
) -> Tuple[int, Tuple[Any, ...], Optional[Tuple[Any, ...]]]:
    """Address family, destination and source sockaddrs; ValueError if unusable."""
    version = _ip_version(dst)
    if src and _ip_version(src) != version:
        raise ValueError(f"src {src} and dst {dst} are different address families")
    if version == 6:
        return socket.AF_INET6, (dst, port, 0, 0), (src, 0, 0, 0) if src else None
    return socket.AF_INET, (dst, port), (src, 0) if src else None


# -- socket helpers -----------------------------------------------------------


def _tcp_info(sock: Any) -> Optional[bytes]:
    if TCP_INFO is None:
        return None
    try:
        info: bytes = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, TCP_INFO_LEN)
    except (OSError, AttributeError, TypeError):
        return None
    return info


def kernel_rtt_us(sock: Any) -> Optional[int]:
    """``tcpi_rtt`` in microseconds, or None where TCP_INFO is unavailable/empty."""
    return rtt_from_tcp_info(_tcp_info(sock))


def _bind_source(sock: Any, source: Tuple[Any, ...]) -> None:
    if _LINUX:
        # Without this, bind((src, 0)) picks the ephemeral port before the
        # destination is known, so each bound source gets one port per
        # *source* rather than per 4-tuple and a sweep runs out of ports.
        # (kernel < 4.2 lacks it: binding still works, only port reuse is lost)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    sock.bind(source)


def _abort_close(sock: Any) -> None:
    """Close with RST instead of FIN.

    A probe connection carries nothing we care about once measured. An
    orderly close parks the 4-tuple in TIME_WAIT on our side for 60 s; at
    thousands of attempts per second against the same few dst:port pairs that
    exhausts the ephemeral port range and later attempts would fail with
    EADDRNOTAVAIL and be misreported. Port scanners abort the same way.
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
    sock.close()


def open_socket(family: int) -> socket.socket:
    """A non-blocking TCP socket (the state machine's default ``new_socket``)."""
    if _SOCK_NONBLOCK:
        return socket.socket(family, socket.SOCK_STREAM | _SOCK_NONBLOCK)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


# -- the state machine (scheduler's epoll engine) -----------------------------


class Attempt:
    """One attempt in flight. ``want`` is what its socket waits for
    (:data:`WANT_WRITE` / :data:`WANT_READ`); ``sample`` is set when done;
    ``ready`` says the connect already finished inside ``connect()``, so
    ``step`` may run without waiting for an event (``info``: the ``TCP_INFO``
    read then)."""

    __slots__ = (
        "buf",
        "chal",
        "fd",
        "info",
        "key",
        "out",
        "ready",
        "req",
        "rtt",
        "sample",
        "sock",
        "stage",
        "started",
        "t",
        "want",
    )

    def __init__(self, req: ProbeRequest, t: float):
        self.req = req
        self.t = t
        self.sock: Any = None
        self.fd = -1
        self.stage = CONNECT
        self.want = WANT_WRITE
        self.started = 0.0
        self.rtt: Optional[Tuple[int, str]] = None
        self.chal = ""
        self.key = b""
        self.out = b""
        self.buf = b""
        self.sample: Optional[Sample] = None
        self.ready = False
        self.info: Optional[bytes] = None


def _done(att: Attempt, sample: Sample) -> bool:
    att.sample = sample
    if att.sock is not None:
        _abort_close(att.sock)
        att.sock = None
    return True


def start(req: ProbeRequest, new_socket: Callable[[int], Any] = open_socket) -> Attempt:
    """Open the socket, bind the source, start the connect.

    Returns the attempt done (``sample`` set: a bad target, no socket, a
    connect that failed at once), ``ready`` (the handshake already finished
    or was refused inside ``connect()``, as on loopback, which ``TCP_INFO``
    shows: ``step`` finishes it without waiting for an event; the engine does
    that after it has started the other attempts of its round, so the
    connects go out first), or waiting for its socket (``fd``, ``want``).
    """
    att = Attempt(req, time.time())
    try:
        family, dst, src = _target(req.dst, req.port, req.src)
    except ValueError as exc:
        _done(att, Sample(ERROR, detail=f"bad target: {exc}", t=att.t))
        return att
    try:
        att.sock = sock = new_socket(family)
    except OSError as exc:  # EMFILE and friends: this host's problem, not the path's
        _done(att, Sample(ERROR, errno=exc.errno, detail=f"socket: {exc}", t=att.t))
        return att
    try:
        if src is not None:
            att.stage = BIND
            _bind_source(sock, src)
            att.stage = CONNECT
        att.started = time.monotonic()
        err = sock.connect_ex(dst)
    except OSError as exc:
        _done(att, oserror_sample(att.stage, exc, att.t, None))
        return att
    att.fd = sock.fileno()
    if err == 0:
        att.ready = True
    elif err in CONNECT_PENDING:
        if TCP_INFO is not None:
            info = _tcp_info(sock)
            if info is not None and info[0] != TCP_SYN_SENT:
                att.ready, att.info = True, info  # already established or refused
    else:
        _done(att, oserror_sample(CONNECT, OSError(err, os.strerror(err)), att.t, None))
    return att


def _connected(att: Attempt, info: Optional[bytes]) -> bool:
    """The connect finished (writable): its error, or the RTT and what comes next."""
    sock = att.sock
    try:
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except OSError as exc:
        err = exc.errno or 0
    if err:
        return _done(att, oserror_sample(CONNECT, OSError(err, os.strerror(err)), att.t, None))
    att.rtt = connected_rtt(info, time.monotonic() - att.started)
    if att.req.nonce is None:
        return _done(att, Sample(OPEN, att.rtt[0], att.rtt[1], t=att.t))
    att.stage = CHALLENGE
    keys = request_keys(att.req)
    att.key = keys.answer
    att.chal = challenge.new_challenge(keys.challenge)
    att.out = challenge.challenge_line(att.chal)
    return _send(att)  # a fresh socket's buffer takes the 75 bytes at once


def _send(att: Attempt) -> bool:
    try:
        sent = att.sock.send(att.out)
    except (BlockingIOError, InterruptedError):
        att.want = WANT_WRITE
        return False
    except OSError as exc:
        return _done(att, oserror_sample(CHALLENGE, exc, att.t, att.rtt))
    att.out = att.out[sent:]
    att.want = WANT_WRITE if att.out else WANT_READ
    return False


def _recv(att: Attempt) -> bool:
    try:
        chunk = att.sock.recv(challenge.MAX_LINE + 1 - len(att.buf))
    except (BlockingIOError, InterruptedError):
        return False
    except OSError as exc:
        return _done(att, oserror_sample(CHALLENGE, exc, att.t, att.rtt))
    att.buf += chunk
    if chunk and not answer_complete(att.buf):
        return False
    assert att.rtt is not None
    return _done(att, reply_sample(att.key, att.chal, att.buf, att.rtt, att.t))


def step(att: Attempt) -> bool:
    """Advance ``att`` now that its socket is ready for ``att.want``; True when done."""
    if att.sample is not None:
        return True
    if att.stage == CONNECT:
        info, att.info, att.ready = att.info, None, False
        return _connected(att, info if info is not None else _tcp_info(att.sock))
    if att.out:
        return _send(att)
    return _recv(att)


def expire(att: Attempt) -> Sample:
    """End ``att`` at its deadline (closing the socket) and return its sample."""
    if att.sample is None:
        _done(att, deadline_sample(att.stage, att.rtt, att.req.timeout_ms, att.t))
    assert att.sample is not None
    return att.sample


def cancel(att: Attempt) -> None:
    """Drop ``att`` without a result (the batch was cancelled); closes the socket."""
    if att.sock is not None:
        _abort_close(att.sock)
        att.sock = None


# -- the coroutine (portable path) --------------------------------------------


async def _read_answer(ops: SocketOps, sock: Any) -> bytes:
    """Read up to one line (at most ``challenge.MAX_LINE`` bytes); b"" on EOF."""
    buf = b""
    while not answer_complete(buf):
        chunk = await ops.recv(sock, challenge.MAX_LINE + 1 - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


async def probe(req: ProbeRequest, ops: Optional[SocketOps] = None) -> Sample:
    """One connect attempt (plus the nonce exchange when ``req.nonce`` is set)."""
    ops = ops or _default_ops
    t = time.time()
    try:
        family, dst, src = _target(req.dst, req.port, req.src)
    except ValueError as exc:
        return Sample(ERROR, detail=f"bad target: {exc}", t=t)
    try:
        sock = ops.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # EMFILE and friends: this host's problem, not the path's
        return Sample(ERROR, errno=exc.errno, detail=f"socket: {exc}", t=t)
    deadline = Deadline(req.timeout_ms / 1000.0)
    rtt: Optional[Tuple[int, str]] = None
    stage = CONNECT
    try:
        try:
            if src is not None:
                stage = BIND
                _bind_source(sock, src)
                stage = CONNECT
            started = time.monotonic()
            await ops.connect(sock, dst)
            rtt = connected_rtt(_tcp_info(sock), time.monotonic() - started)
            if req.nonce is None:
                return Sample(OPEN, rtt[0], rtt[1], t=t)
            stage = CHALLENGE
            keys = request_keys(req)
            chal = challenge.new_challenge(keys.challenge)
            await ops.sendall(sock, challenge.challenge_line(chal))
            reply = await _read_answer(ops, sock)
        except asyncio.CancelledError:
            if not deadline.absorb():
                raise
            return deadline_sample(stage, rtt, req.timeout_ms, t)
        except OSError as exc:
            return oserror_sample(stage, exc, t, rtt)
        return reply_sample(keys.answer, chal, reply, rtt, t)
    finally:
        deadline.close()
        _abort_close(sock)
