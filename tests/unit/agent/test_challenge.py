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


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


KEYS = challenge.keys(NONCE, "mt01", "198.18.2.20", 9443)


def test_the_answer_key_is_derived_from_the_nonce_and_the_destination_identity() -> None:
    nonce = bytes.fromhex(NONCE)
    assert KEYS.answer == _hmac(nonce, b"netcheck-responder-v1|mt01|198.18.2.20|9443")
    assert KEYS.challenge == _hmac(nonce, b"netcheck-challenge-v1")
    # every part of the identity changes the key; the challenge key is the sweep's
    others = [
        challenge.keys(NONCE, "ps-azure", "198.18.2.20", 9443),
        challenge.keys(NONCE, "mt01", "198.18.2.21", 9443),
        challenge.keys(NONCE, "mt01", "198.18.2.20", 9444),
        challenge.keys("ff" + NONCE[2:], "mt01", "198.18.2.20", 9443),
    ]
    assert len({KEYS.answer, *(k.answer for k in others)}) == 5
    assert {k.challenge for k in others[:3]} == {KEYS.challenge}


def test_addresses_are_keyed_in_canonical_form() -> None:
    a = challenge.keys(NONCE, "h", "2001:db8:0:0::1", 1).answer
    assert a == challenge.keys(NONCE, "h", "2001:DB8::1", 1).answer
    assert challenge.identity("h", "2001:DB8:0::1", 1) == "netcheck-responder-v1|h|2001:db8::1|1"


def test_answer_is_hmac_sha256_of_the_challenge_under_the_answer_key() -> None:
    expected = hmac.new(KEYS.answer, CHAL.encode(), hashlib.sha256).hexdigest()
    assert challenge.answer(KEYS.answer, CHAL) == expected
    assert challenge.answer_line(KEYS.answer, CHAL) == b"NETCHECK1 " + expected.encode() + b"\n"
    assert challenge.challenge_line(CHAL) == b"NETCHECK1 " + CHAL.encode() + b"\n"


def test_fresh_challenges_are_16_random_bytes_and_the_sweeps_tag() -> None:
    chals = {challenge.new_challenge(KEYS.challenge) for _ in range(50)}
    assert len(chals) == 50
    for c in chals:
        raw = bytes.fromhex(c)
        assert len(raw) == 32 and raw[16:] == _hmac(KEYS.challenge, raw[:16])[:16]
        assert challenge.parse_challenge(challenge.challenge_line(c)) == c
        assert challenge.is_sweep_challenge(KEYS.challenge, c)


def test_only_the_sweeps_own_challenges_are_recognised() -> None:
    other_sweep = challenge.challenge_key("ff" + NONCE[2:])
    mine = challenge.new_challenge(KEYS.challenge)
    assert not challenge.is_sweep_challenge(other_sweep, mine)
    assert not challenge.is_sweep_challenge(KEYS.challenge, challenge.new_challenge(other_sweep))
    assert not challenge.is_sweep_challenge(KEYS.challenge, CHAL)  # untagged, 32 digits
    assert not challenge.is_sweep_challenge(KEYS.challenge, "0f" * 32)  # forged tag
    flipped = mine[:-1] + ("0" if mine[-1] != "0" else "1")
    assert not challenge.is_sweep_challenge(KEYS.challenge, flipped)


def test_verify_accepts_only_the_exact_answer() -> None:
    good = challenge.answer_line(KEYS.answer, CHAL)
    key = KEYS.answer
    assert challenge.verify_answer(key, CHAL, good)
    assert challenge.verify_answer(key, CHAL, good[:-1] + b"\r\n")  # CRLF peers
    assert not challenge.verify_answer(key, "1f" * 16, good)  # other challenge
    other = challenge.keys(NONCE, "ps-azure", "198.19.1.4", 9443).answer
    assert not challenge.verify_answer(other, CHAL, good)  # other destination
    assert not challenge.verify_answer(key, CHAL, good.upper())
    assert not challenge.verify_answer(key, CHAL, good[:-1])  # no newline
    assert not challenge.verify_answer(key, CHAL, good + b"x\n")
    assert not challenge.verify_answer(key, CHAL, b"")
    assert not challenge.verify_answer(key, CHAL, b"SSH-2.0-OpenSSH_9.6\r\n")


def test_read_reply_tells_who_answered() -> None:
    ps = challenge.keys(NONCE, "ps-azure", "198.19.1.4", 9443).answer
    mt_answer = challenge.answer_line(KEYS.answer, CHAL)
    assert challenge.read_reply(KEYS.answer, CHAL, mt_answer) == (challenge.PROVEN, None)
    token = mt_answer[len("NETCHECK1 ") : -1].decode()
    assert challenge.read_reply(ps, CHAL, mt_answer) == (challenge.MISDIRECTED, token)
    other = challenge.OTHER_SWEEP_LINE
    assert challenge.read_reply(ps, CHAL, other) == (challenge.OTHER_SWEEP, None)
    assert challenge.read_reply(ps, CHAL, other[:-1] + b"\r\n")[0] == challenge.OTHER_SWEEP
    for line in (b"", other[:-1], b"NETCHECK1 " + b"a" * 63 + b"\n", b"HTTP/1.1 400\r\n"):
        assert challenge.read_reply(ps, CHAL, line) == (challenge.NOT_NETCHECK, None)


def test_answered_by_names_the_identity_whose_key_made_the_answer() -> None:
    identities = [("ps-azure", "198.19.1.4", 9443), ("mt01", "198.18.2.20", 9443)]
    token = challenge.answer(KEYS.answer, CHAL)
    assert challenge.answered_by(NONCE, identities, CHAL, token) == identities[1]
    assert challenge.answered_by(NONCE, identities[:1], CHAL, token) is None
    assert challenge.answered_by("ff" + NONCE[2:], identities, CHAL, token) is None


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
