"""The nonce challenge (HMAC-SHA256) and the OS-error classification. Pure."""

from __future__ import annotations

import errno
import hashlib
import hmac

import pytest
from netcheck_agent import challenge
from netcheck_agent.probes.errors import classify_oserror, errno_name
from netcheck_agent.responder import refusal_reason

NONCE = "00112233445566778899aabbccddeeff"
CHAL = "0f" * 16


def test_answer_is_hmac_sha256_of_the_challenge_keyed_with_the_nonce_bytes() -> None:
    expected = hmac.new(bytes.fromhex(NONCE), CHAL.encode(), hashlib.sha256).hexdigest()
    assert challenge.answer(NONCE, CHAL) == expected
    assert challenge.answer_line(NONCE, CHAL) == b"NETCHECK1 " + expected.encode() + b"\n"
    assert challenge.challenge_line(CHAL) == b"NETCHECK1 " + CHAL.encode() + b"\n"


def test_fresh_challenges_are_16_random_bytes() -> None:
    chals = {challenge.new_challenge() for _ in range(50)}
    assert len(chals) == 50
    assert all(len(c) == 32 and int(c, 16) >= 0 for c in chals)


def test_verify_accepts_only_the_exact_answer() -> None:
    good = challenge.answer_line(NONCE, CHAL)
    assert challenge.verify_answer(NONCE, CHAL, good)
    assert challenge.verify_answer(NONCE, CHAL, good[:-1] + b"\r\n")  # CRLF peers
    assert not challenge.verify_answer(NONCE, "1f" * 16, good)  # other challenge
    assert not challenge.verify_answer("ff" + NONCE[2:], CHAL, good)  # other nonce
    assert not challenge.verify_answer(NONCE, CHAL, good.upper())
    assert not challenge.verify_answer(NONCE, CHAL, good[:-1])  # no newline
    assert not challenge.verify_answer(NONCE, CHAL, good + b"x\n")
    assert not challenge.verify_answer(NONCE, CHAL, b"")
    assert not challenge.verify_answer(NONCE, CHAL, b"SSH-2.0-OpenSSH_9.6\r\n")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"NETCHECK1 " + CHAL.encode() + b"\n", CHAL),
        (b"NETCHECK1 deadbeef\r\n", "deadbeef"),
        (b"NETCHECK1 dead\n", None),  # too short
        (b"NETCHECK1 " + b"a" * 65 + b"\n", None),  # too long
        (b"NETCHECK1 DEADBEEF\n", None),
        (b"NETCHECK1 deadbeeg\n", None),
        (b"NETCHECK2 deadbeef\n", None),
        (b"NETCHECK1  deadbeef\n", None),
        (b"NETCHECK1 deadbeef", None),
        (b"GET / HTTP/1.1\r\n", None),
        (b"", None),
        (b"\x16\x03\x01\x02\x00", None),  # a TLS ClientHello
    ],
)
def test_responder_parses_only_wellformed_challenges(line: bytes, expected: object) -> None:
    assert challenge.parse_challenge(line) == expected


def test_describe_reply_is_short_and_printable() -> None:
    assert challenge.describe_reply(b"") == "eof"
    text = challenge.describe_reply(b"\x00\x01HTTP/1.1 400 Bad Request\r\n" + b"x" * 100)
    assert text.startswith("garbage ") and text.endswith("...")
    assert text.isprintable() and len(text) < 60


def _oserror(number: int, cls: type = OSError) -> OSError:
    return cls(number, "text")


@pytest.mark.parametrize(
    ("exc", "outcome", "name"),
    [
        (_oserror(errno.ECONNREFUSED, ConnectionRefusedError), "refused", "ECONNREFUSED"),
        (_oserror(errno.ECONNREFUSED), "refused", "ECONNREFUSED"),
        (_oserror(errno.ETIMEDOUT), "timeout", "ETIMEDOUT"),
        (_oserror(errno.EHOSTUNREACH), "unreachable", "EHOSTUNREACH"),
        (_oserror(errno.ENETUNREACH), "unreachable", "ENETUNREACH"),
        (_oserror(errno.EACCES), "unreachable", "EACCES"),
        (_oserror(errno.EPERM), "unreachable", "EPERM"),
        (_oserror(errno.EADDRNOTAVAIL), "unreachable", "EADDRNOTAVAIL"),
        (_oserror(10061), "refused", "WSAECONNREFUSED"),
        (_oserror(10065), "unreachable", "WSAEHOSTUNREACH"),
        (_oserror(10060), "timeout", "WSAETIMEDOUT"),
        (_oserror(errno.EMFILE), "error", "EMFILE"),
        (_oserror(987654), "error", "E987654"),
    ],
)
def test_classify_oserror(exc: OSError, outcome: str, name: str) -> None:
    result = classify_oserror(exc)
    assert result.outcome == outcome
    assert result.errno == exc.errno
    assert result.detail.startswith(name + ": ")


def test_classify_prefers_a_known_windows_error() -> None:
    exc = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    exc.winerror = 1225  # type: ignore[attr-defined]  # what the proactor reports
    assert classify_oserror(exc)[:2] == ("refused", 1225)


def test_classify_without_errno_is_an_error() -> None:
    assert classify_oserror(OSError("weird")).outcome == "error"


def test_errno_name() -> None:
    assert errno_name(errno.ECONNREFUSED) == "ECONNREFUSED"
    assert errno_name(10049) == "WSAEADDRNOTAVAIL"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (errno.EADDRINUSE, "in_use"),
        (10048, "in_use"),
        (errno.EACCES, "permission"),
        (errno.EPERM, "permission"),
        (errno.EADDRNOTAVAIL, "address_not_available"),
        (errno.EINVAL, "error"),
    ],
)
def test_listener_refusal_reasons(number: int, reason: str) -> None:
    assert refusal_reason(OSError(number, "x")) == reason
