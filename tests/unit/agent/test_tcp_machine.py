"""tcp_connect's state machine (start/step/expire/cancel) against crafted sockets.

No network: a scripted socket plays what the kernel would say (connect_ex's
return, TCP_INFO's state and RTT, SO_ERROR, send/recv behaviour), so every
transition and outcome is pinned here; the real path is proven in
tests/integration/agent/test_engine_live.py.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
from typing import Any, List, Optional, Tuple, Union

import pytest
from netcheck_agent import challenge
from netcheck_agent.probes import WANT_READ, WANT_WRITE, get_machine, tcp_connect
from netcheck_agent.protocol import ProbeRequest

NONCE = "a1b2c3d4"
ESTABLISHED, SYN_SENT, CLOSE = 1, 2, 7
Recv = Union[bytes, BaseException]


def tcp_info(state: int, rtt_us: int = 250) -> bytes:
    info = bytearray(tcp_connect.TCP_INFO_LEN)
    info[0] = state
    struct.pack_into("=I", info, tcp_connect.TCPI_RTT_OFFSET, rtt_us)
    return bytes(info)


class Scripted:
    """A non-blocking socket whose kernel answers are scripted."""

    def __init__(
        self,
        connect: int = errno.EINPROGRESS,
        states: Tuple[int, ...] = (SYN_SENT,),
        so_error: int = 0,
        rtt_us: int = 250,
        send: Optional[List[Union[int, BaseException]]] = None,
        recv: Optional[List[Recv]] = None,
        bind_error: Optional[OSError] = None,
    ):
        self._connect = connect
        self._states = list(states)
        self.so_error = so_error
        self.rtt_us = rtt_us
        self._send = list(send or [])
        self._recv = list(recv or [])
        self.bind_error = bind_error
        self.sent = b""
        self.closed = False
        self.options: List[Tuple[int, int, Any]] = []
        self.bound: Optional[Tuple[Any, ...]] = None

    def fileno(self) -> int:
        return -1 if self.closed else 42

    def setsockopt(self, level: int, name: int, value: Any) -> None:
        self.options.append((level, name, value))

    def bind(self, address: Tuple[Any, ...]) -> None:
        if self.bind_error is not None:
            raise self.bind_error
        self.bound = address

    def connect_ex(self, address: Tuple[Any, ...]) -> int:
        return self._connect

    def getsockopt(self, level: int, name: int, size: int = 0) -> Any:
        if level == socket.SOL_SOCKET and name == socket.SO_ERROR:
            err, self.so_error = self.so_error, 0  # reading SO_ERROR clears it
            return err
        state = self._states.pop(0) if len(self._states) > 1 else self._states[0]
        return tcp_info(state, self.rtt_us)

    def send(self, data: bytes) -> int:
        step = self._send.pop(0) if self._send else len(data)
        if isinstance(step, BaseException):
            raise step
        self.sent += data[:step]
        return step

    def recv(self, n: int) -> bytes:
        if not self._recv:
            raise BlockingIOError(errno.EAGAIN, "nothing yet")
        item = self._recv.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item[:n]

    def close(self) -> None:
        self.closed = True


@pytest.fixture(autouse=True)
def linux_tcp_info(monkeypatch: pytest.MonkeyPatch) -> None:
    # The machine reads TCP_INFO where the OS has it; pin it so these tests
    # mean the same on every OS (the scripted socket answers it).
    monkeypatch.setattr(tcp_connect, "TCP_INFO", 11)


def req(**fields: Any) -> ProbeRequest:
    base: dict = {"cell": "c", "kind": "tcp_connect", "dst": "127.0.0.11", "port": 9443}
    base.update(fields)
    base.setdefault("timeout_ms", 100)
    return ProbeRequest(**base)


def start(sock: Scripted, **fields: Any) -> tcp_connect.Attempt:
    return tcp_connect.start(req(**fields), lambda family: sock)


KEYS = challenge.keys(NONCE, "", "127.0.0.11", 9443)  # what req() means


def answer_to(sent: bytes) -> bytes:
    m = re.fullmatch(rb"NETCHECK1 ([0-9a-f]{64})\n", sent)
    assert m, sent
    return challenge.answer_line(KEYS.answer, m.group(1).decode())


def assert_closed_with_rst(sock: Scripted) -> None:
    assert sock.closed
    assert (socket.SOL_SOCKET, socket.SO_LINGER, tcp_connect._LINGER_ABORT) in sock.options


# -- start --------------------------------------------------------------------


def test_registry_offers_the_machine() -> None:
    machine = get_machine("tcp_connect")
    assert machine is not None and machine.start is tcp_connect.start
    assert get_machine("udp") is None


def test_pending_connect_waits_for_writable() -> None:
    sock = Scripted(states=(SYN_SENT,))
    att = start(sock)
    assert (att.sample, att.want, att.fd, att.stage) == (None, WANT_WRITE, 42, "connect")
    assert not sock.closed


def test_handshake_done_inside_connect_needs_no_wait() -> None:
    # Loopback: the kernel completes the handshake within connect(); TCP_INFO
    # says ESTABLISHED, so the attempt is ready: one step finishes it, no epoll
    # (the engine steps it after the round's other connects went out).
    sock = Scripted(states=(ESTABLISHED,), rtt_us=37)
    att = start(sock)
    assert att.ready and att.sample is None and not sock.closed
    assert tcp_connect.step(att)
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.rtt_us, att.sample.rtt_source) == (
        "open",
        37,
        "tcp_info",
    )
    assert_closed_with_rst(sock)


def test_refusal_inside_connect_needs_no_wait() -> None:
    sock = Scripted(states=(CLOSE,), so_error=errno.ECONNREFUSED)
    att = start(sock)
    assert att.ready and att.sample is None
    assert tcp_connect.step(att)
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.errno) == ("refused", errno.ECONNREFUSED)
    assert att.sample.detail.startswith("connect: ECONNREFUSED")
    assert_closed_with_rst(sock)


def test_connect_error_returned_at_once() -> None:
    sock = Scripted(connect=errno.ENETUNREACH)
    att = start(sock)
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.errno) == ("unreachable", errno.ENETUNREACH)
    assert sock.closed


def test_without_tcp_info_a_pending_connect_always_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tcp_connect, "TCP_INFO", None)
    att = start(Scripted(states=(ESTABLISHED,)))
    assert att.sample is None and att.want == WANT_WRITE


def test_bind_failure_is_unreachable_at_bind() -> None:
    sock = Scripted(bind_error=OSError(errno.EADDRNOTAVAIL, "x"))
    att = start(sock, src="127.0.0.10")
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.errno) == ("unreachable", errno.EADDRNOTAVAIL)
    assert att.sample.detail.startswith("bind: EADDRNOTAVAIL")
    assert sock.closed


def test_source_is_bound_before_connect() -> None:
    sock = Scripted()
    start(sock, src="127.0.0.10")
    assert sock.bound == ("127.0.0.10", 0)


def test_socket_exhaustion_is_an_error() -> None:
    def no_socket(family: int) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    att = tcp_connect.start(req(), no_socket)
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.errno) == ("error", errno.EMFILE)


@pytest.mark.parametrize(("dst", "src"), [("mt01.example", None), ("127.0.0.1", "::1")])
def test_bad_target_opens_no_socket(dst: str, src: Optional[str]) -> None:
    opened: List[int] = []
    att = tcp_connect.start(req(dst=dst, src=src), lambda f: opened.append(f) or Scripted())
    assert att.sample is not None and att.sample.detail.startswith("bad target")
    assert opened == []


# -- step ---------------------------------------------------------------------


def test_writable_then_refused() -> None:
    sock = Scripted(states=(SYN_SENT, CLOSE), so_error=errno.ECONNREFUSED)
    att = start(sock)
    assert tcp_connect.step(att) is True
    assert att.sample is not None and att.sample.outcome == "refused"
    assert_closed_with_rst(sock)


def test_writable_then_open_with_kernel_rtt() -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED), rtt_us=1234)
    att = start(sock)
    assert tcp_connect.step(att) is True
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.rtt_us, att.sample.rtt_source) == (
        "open",
        1234,
        "tcp_info",
    )


def test_zero_kernel_rtt_falls_back_to_monotonic() -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED), rtt_us=0)
    att = start(sock)
    tcp_connect.step(att)
    assert att.sample is not None and att.sample.rtt_source == "monotonic"


def test_nonce_challenge_proven_over_two_reads() -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED))
    att = start(sock, nonce=NONCE)
    assert tcp_connect.step(att) is False  # connected: challenge sent, now reading
    assert (att.stage, att.want) == ("challenge", WANT_READ)
    line = answer_to(sock.sent)
    sock._recv = [line[:20], line[20:]]
    assert tcp_connect.step(att) is False  # half a line: keep reading
    assert tcp_connect.step(att) is True
    assert att.sample is not None and (att.sample.outcome, att.sample.proven) == ("open", True)
    assert att.sample.rtt_us == 250
    assert_closed_with_rst(sock)


def test_spurious_readiness_is_harmless() -> None:
    att = start(Scripted(states=(SYN_SENT, ESTABLISHED)), nonce=NONCE)
    tcp_connect.step(att)
    assert tcp_connect.step(att) is False  # recv says EAGAIN
    assert att.sample is None and att.want == WANT_READ


def test_challenge_that_does_not_fit_waits_for_writable() -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED), send=[BlockingIOError(), 10])
    att = start(sock, nonce=NONCE)
    assert tcp_connect.step(att) is False and att.want == WANT_WRITE  # EAGAIN
    assert tcp_connect.step(att) is False and att.want == WANT_WRITE  # 10 bytes out
    assert tcp_connect.step(att) is False and att.want == WANT_READ  # the rest
    assert len(sock.sent) == len(challenge.challenge_line("0" * 64))


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        ([b""], "connected, then eof"),
        ([ConnectionResetError(errno.ECONNRESET, "reset")], "ECONNRESET"),
        ([b"SSH-2.0-OpenSSH_9.6\r\n"], "garbage 'SSH-2.0"),
        ([b"NETCHECK1 " + b"0" * 64 + b"\n"], challenge.DETAIL_MISDIRECTED),
        ([b"NETCHECK1 ", b"0" * 60 + b"\n"], "wrong answer"),
        ([challenge.OTHER_SWEEP_LINE], challenge.DETAIL_OTHER_SWEEP),
        ([b"x" * 100, b"y" * 100], "garbage"),
    ],
)
def test_handshake_only_when_the_answer_is_not_proof(reply: List[Recv], detail: str) -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED), recv=reply)
    att = start(sock, nonce=NONCE)
    done = tcp_connect.step(att)
    for _ in range(3):  # bounded
        if done:
            break
        done = tcp_connect.step(att)
    assert att.sample is not None
    assert (att.sample.outcome, att.sample.proven) == ("handshake_only", False)
    assert detail in att.sample.detail and att.sample.rtt_us == 250
    assert_closed_with_rst(sock)


def test_send_error_is_handshake_only() -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED), send=[BrokenPipeError(errno.EPIPE, "x")])
    att = start(sock, nonce=NONCE)
    assert tcp_connect.step(att) is True
    assert att.sample is not None and att.sample.outcome == "handshake_only"
    assert att.sample.errno == errno.EPIPE


def test_step_after_done_is_a_no_op() -> None:
    att = start(Scripted(states=(ESTABLISHED,)))
    assert tcp_connect.step(att) is True
    sample = att.sample
    assert tcp_connect.step(att) is True and att.sample is sample


# -- expire / cancel ----------------------------------------------------------


def test_expire_while_connecting_is_timeout() -> None:
    sock = Scripted(states=(SYN_SENT,))
    att = start(sock, timeout_ms=150)
    s = tcp_connect.expire(att)
    assert (s.outcome, s.rtt_us, s.detail) == ("timeout", None, "no answer within 150 ms")
    assert_closed_with_rst(sock)
    assert tcp_connect.expire(att) is s  # idempotent


def test_expire_while_waiting_for_the_answer_is_handshake_only() -> None:
    sock = Scripted(states=(SYN_SENT, ESTABLISHED))
    att = start(sock, nonce=NONCE)
    tcp_connect.step(att)
    s = tcp_connect.expire(att)
    assert (s.outcome, s.detail) == ("handshake_only", "no answer before deadline")
    assert s.rtt_us == 250 and sock.closed


def test_cancel_closes_without_a_sample() -> None:
    sock = Scripted()
    att = start(sock)
    tcp_connect.cancel(att)
    assert sock.closed and att.sample is None
    tcp_connect.cancel(att)  # twice is fine


# -- the pure decisions -------------------------------------------------------


def test_rtt_from_tcp_info() -> None:
    assert tcp_connect.rtt_from_tcp_info(tcp_info(ESTABLISHED, 99)) == 99
    assert tcp_connect.rtt_from_tcp_info(tcp_info(ESTABLISHED, 0)) is None
    assert tcp_connect.rtt_from_tcp_info(b"\x01" * 40) is None
    assert tcp_connect.rtt_from_tcp_info(None) is None


def test_connected_rtt_prefers_the_kernel() -> None:
    assert tcp_connect.connected_rtt(tcp_info(ESTABLISHED, 5), 0.5) == (5, "tcp_info")
    assert tcp_connect.connected_rtt(None, 0.0015) == (1500, "monotonic")


def test_answer_complete() -> None:
    assert not tcp_connect.answer_complete(b"NETCHECK1 ab")
    assert tcp_connect.answer_complete(b"NETCHECK1 ab\n")
    assert tcp_connect.answer_complete(b"x" * (challenge.MAX_LINE + 1))


def test_oserror_sample_by_stage() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "x")
    s = tcp_connect.oserror_sample("connect", refused, 1.0, None)
    assert (s.outcome, s.detail.split(":")[0]) == ("refused", "connect")
    reset = ConnectionResetError(errno.ECONNRESET, "x")
    s = tcp_connect.oserror_sample("challenge", reset, 1.0, (7, "tcp_info"))
    assert (s.outcome, s.rtt_us) == ("handshake_only", 7)
    assert s.detail.startswith("connected, then ECONNRESET")


def test_reply_and_deadline_samples() -> None:
    chal = "ab" * 32
    good = challenge.answer_line(KEYS.answer, chal)
    assert tcp_connect.reply_sample(KEYS.answer, chal, good, (3, "tcp_info"), 1.0).proven
    bad = tcp_connect.reply_sample(KEYS.answer, chal, b"", (3, "tcp_info"), 1.0)
    assert (bad.outcome, bad.detail) == ("handshake_only", "connected, then eof")
    assert tcp_connect.deadline_sample("connect", None, 5, 1.0).outcome == "timeout"
    late = tcp_connect.deadline_sample("challenge", (3, "tcp_info"), 5, 1.0)
    assert late.outcome == "handshake_only"
