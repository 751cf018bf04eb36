"""tcp_connect against crafted socket behaviour (no network): every outcome path.

The probe's network calls go through an injectable ``SocketOps``; these fakes
play refusals, resets, silences and wrong answers. The same paths are proven
against real loopback sockets in tests/integration/agent.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import struct
import sys
from typing import Any, Callable, List, Optional

import pytest
from netcheck_agent import challenge
from netcheck_agent.probes import get_probe, kinds, tcp_connect
from netcheck_agent.protocol import ProbeRequest, Sample

NONCE = "a1b2c3d4"


class FakeSocket:
    def __init__(self, family: int, rtt_us: Optional[int]):
        self.family = family
        self.rtt_us = rtt_us
        self.closed = False
        self.bound: Optional[tuple] = None
        self.options: List[tuple] = []
        self.bind_error: Optional[OSError] = None

    def setsockopt(self, level: int, name: int, value: Any) -> None:
        self.options.append((level, name, value))

    def getsockopt(self, level: int, name: int, size: int = 0) -> bytes:
        if self.rtt_us is None:
            raise OSError(errno.ENOPROTOOPT, "no TCP_INFO")
        info = bytearray(size)
        struct.pack_into("=I", info, tcp_connect.TCPI_RTT_OFFSET, self.rtt_us)
        return bytes(info)

    def bind(self, address: tuple) -> None:
        if self.bind_error:
            raise self.bind_error
        self.bound = address

    def close(self) -> None:
        self.closed = True


class FakeOps:
    """Scripted socket operations. ``reply(sent_line) -> bytes | Exception | None``
    (None = never answer)."""

    def __init__(
        self,
        connect: Optional[BaseException] = None,
        hang_connect: bool = False,
        reply: Optional[Callable[[bytes], Any]] = None,
        rtt_us: Optional[int] = 250,
        socket_error: Optional[OSError] = None,
        bind_error: Optional[OSError] = None,
    ):
        self._connect, self._hang, self._reply = connect, hang_connect, reply
        self._rtt, self._socket_error, self._bind_error = rtt_us, socket_error, bind_error
        self.sockets: List[FakeSocket] = []
        self.sent = b""

    def socket(self, family: int, type: int) -> Any:
        if self._socket_error:
            raise self._socket_error
        sock = FakeSocket(family, self._rtt)
        sock.bind_error = self._bind_error
        self.sockets.append(sock)
        return sock

    async def connect(self, sock: Any, address: tuple) -> None:
        if self._hang:
            await asyncio.sleep(3600)
        if self._connect is not None:
            raise self._connect

    async def sendall(self, sock: Any, data: bytes) -> None:
        self.sent += data

    async def recv(self, sock: Any, nbytes: int) -> bytes:
        answer = self._reply(self.sent) if self._reply else b""
        if answer is None:
            await asyncio.sleep(3600)
        if isinstance(answer, BaseException):
            raise answer
        return bytes(answer[:nbytes])


def run_probe(ops: FakeOps, **fields: Any) -> Sample:
    base = {
        "cell": "c",
        "kind": "tcp_connect",
        "dst": "127.0.0.11",
        "port": 9443,
        "timeout_ms": 100,
    }
    base.update(fields)
    req = ProbeRequest(**base)

    async def main() -> Sample:
        return await tcp_connect.probe(req, ops)

    sample = asyncio.run(main())
    assert all(s.closed for s in ops.sockets), "socket left open"
    return sample


#: The keys of the responder run_probe's requests mean ("" host, 127.0.0.11:9443).
KEYS = challenge.keys(NONCE, "", "127.0.0.11", 9443)


def _correct(sent: bytes, key: bytes = KEYS.answer) -> bytes:
    chal = re.fullmatch(rb"NETCHECK1 ([0-9a-f]{64})\n", sent)
    assert chal, sent
    assert challenge.is_sweep_challenge(KEYS.challenge, chal.group(1).decode())
    return challenge.answer_line(key, chal.group(1).decode())


def test_registry_knows_tcp_connect() -> None:
    assert get_probe("tcp_connect") is tcp_connect.probe
    assert get_probe("udp") is None
    assert "tcp_connect" in kinds()


def test_open_uses_kernel_rtt() -> None:
    s = run_probe(FakeOps(rtt_us=1234))
    expected_source = "tcp_info" if tcp_connect.TCP_INFO is not None else "monotonic"
    assert (s.outcome, s.rtt_source, s.proven) == ("open", expected_source, False)
    if expected_source == "tcp_info":
        assert s.rtt_us == 1234


def test_open_falls_back_to_monotonic_without_tcp_info() -> None:
    s = run_probe(FakeOps(rtt_us=None))
    assert (s.outcome, s.rtt_source) == ("open", "monotonic")
    assert s.rtt_us is not None and 0 <= s.rtt_us < 1_000_000


def test_zero_kernel_rtt_means_no_sample() -> None:
    s = run_probe(FakeOps(rtt_us=0))
    assert s.rtt_source == "monotonic"


def test_refused() -> None:
    s = run_probe(FakeOps(connect=ConnectionRefusedError(errno.ECONNREFUSED, "refused")))
    assert (s.outcome, s.errno, s.rtt_us) == ("refused", errno.ECONNREFUSED, None)
    assert "ECONNREFUSED" in s.detail


@pytest.mark.parametrize(
    "number", [errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM]
)
def test_unreachable(number: int) -> None:
    s = run_probe(FakeOps(connect=OSError(number, "x")))
    assert (s.outcome, s.errno) == ("unreachable", number)
    assert s.detail.startswith("connect: " + errno.errorcode[number])


def test_bad_source_address_is_unreachable_at_bind() -> None:
    s = run_probe(FakeOps(bind_error=OSError(errno.EADDRNOTAVAIL, "x")), src="127.0.0.10")
    assert (s.outcome, s.errno) == ("unreachable", errno.EADDRNOTAVAIL)
    assert s.detail.startswith("bind: EADDRNOTAVAIL")


def test_source_is_bound_with_port_chosen_at_connect() -> None:
    ops = FakeOps()
    assert run_probe(ops, src="127.0.0.10").outcome == "open"
    sock = ops.sockets[0]
    assert sock.bound == ("127.0.0.10", 0)
    if tcp_connect._LINUX:
        assert (socket.IPPROTO_IP, tcp_connect.IP_BIND_ADDRESS_NO_PORT, 1) in sock.options
    # every probe socket is closed with RST (SO_LINGER 0) to avoid TIME_WAIT
    assert (socket.SOL_SOCKET, socket.SO_LINGER, tcp_connect._LINGER_ABORT) in sock.options
    assert struct.unpack("ii", tcp_connect._LINGER_ABORT) == (1, 0) or sys.platform == "win32"


def test_timeout_when_connect_never_completes() -> None:
    s = run_probe(FakeOps(hang_connect=True), timeout_ms=30)
    assert (s.outcome, s.rtt_us) == ("timeout", None)


def test_proven_open_with_the_right_answer() -> None:
    ops = FakeOps(reply=_correct)
    s = run_probe(ops, nonce=NONCE)
    assert (s.outcome, s.proven) == ("open", True)
    assert s.rtt_us is not None


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        (lambda sent: b"", "connected, then eof"),
        (lambda sent: ConnectionResetError(errno.ECONNRESET, "reset"), "ECONNRESET"),
        (lambda sent: None, "no answer before deadline"),
        (lambda sent: b"SSH-2.0-OpenSSH_9.6\r\n", "garbage 'SSH-2.0"),
        (lambda sent: b"NETCHECK1 " + b"0" * 64 + b"\n", challenge.DETAIL_MISDIRECTED),
        (lambda sent: b"NETCHECK1 " + b"0" * 63 + b"\n", "wrong answer"),
        (lambda sent: challenge.OTHER_SWEEP_LINE, challenge.DETAIL_OTHER_SWEEP),
        (lambda sent: b"x" * 500, "garbage"),
        (lambda sent: b"NETCHECK1 " + _correct(sent)[10:].upper(), "wrong answer"),
    ],
)
def test_handshake_only_when_the_peer_is_not_our_responder(reply: Callable, detail: str) -> None:
    s = run_probe(FakeOps(reply=reply), nonce=NONCE, timeout_ms=50)
    assert (s.outcome, s.proven) == ("handshake_only", False)
    assert detail in s.detail
    assert s.rtt_us is not None  # the handshake itself did complete


def test_answer_of_another_responder_is_not_proof_and_carries_the_evidence() -> None:
    mt01 = challenge.keys(NONCE, "mt01", "127.0.0.20", 9443).answer
    sent: list[bytes] = []

    def other(line: bytes) -> bytes:
        sent.append(line)
        return _correct(line, key=mt01)

    s = run_probe(FakeOps(reply=other), nonce=NONCE)
    assert (s.outcome, s.proven, s.detail) == (
        "handshake_only",
        False,
        "answered by a different netcheck responder",
    )
    chal = sent[0][len("NETCHECK1 ") : -1].decode()
    assert s.facts == {"challenge": chal, "answer": challenge.answer(mt01, chal)}
    named = challenge.answered_by(
        NONCE, [("", "127.0.0.11", 9443), ("mt01", "127.0.0.20", 9443)], chal, s.facts["answer"]
    )
    assert named == ("mt01", "127.0.0.20", 9443)


def test_the_destination_host_is_part_of_the_key() -> None:
    s = run_probe(FakeOps(reply=_correct), nonce=NONCE, dst_host="ps-azure")
    assert (s.outcome, s.detail) == ("handshake_only", challenge.DETAIL_MISDIRECTED)
    ps = challenge.keys(NONCE, "ps-azure", "127.0.0.11", 9443).answer
    s = run_probe(FakeOps(reply=lambda sent: _correct(sent, ps)), nonce=NONCE, dst_host="ps-azure")
    assert (s.outcome, s.proven) == ("open", True)


def test_socket_exhaustion_is_an_error_not_a_verdict() -> None:
    s = run_probe(FakeOps(socket_error=OSError(errno.EMFILE, "Too many open files")))
    assert (s.outcome, s.errno) == ("error", errno.EMFILE)


@pytest.mark.parametrize(
    ("dst", "src"), [("mt01.example", None), ("127.0.0.1", "::1"), ("::1", "127.0.0.1")]
)
def test_unusable_targets_are_errors(dst: str, src: Optional[str]) -> None:
    s = run_probe(FakeOps(), dst=dst, src=src)
    assert s.outcome == "error" and s.detail.startswith("bad target")


def test_ipv6_target_uses_an_ipv6_socket() -> None:
    ops = FakeOps()
    run_probe(ops, dst="::1")
    assert ops.sockets[0].family == socket.AF_INET6


def test_outer_cancellation_propagates_and_closes_the_socket() -> None:
    ops = FakeOps(hang_connect=True)
    req = ProbeRequest("c", "tcp_connect", "127.0.0.1", 1, timeout_ms=60_000)

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(tcp_connect.probe(req, ops))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert ops.sockets[0].closed


def test_kernel_rtt_reads_tcpi_rtt_at_offset_68() -> None:
    # struct tcp_info: 8 u8 fields, then 15 u32 before tcpi_rtt.
    assert tcp_connect.TCPI_RTT_OFFSET == 8 + 15 * 4
    if tcp_connect.TCP_INFO is None:
        pytest.skip("TCP_INFO is Linux-only")
    assert tcp_connect.kernel_rtt_us(FakeSocket(socket.AF_INET, 4321)) == 4321
    assert tcp_connect.kernel_rtt_us(FakeSocket(socket.AF_INET, None)) is None
