"""Bandwidth messages and the endpoint handshake: pure, no sockets (Python 3.9 too)."""

from __future__ import annotations

import secrets
from typing import Any, Dict

import pytest
from netcheck_agent import protocol as p
from netcheck_agent.bandwidth_wire import (
    MODE_RECV,
    MODE_SEND,
    check_hello,
    check_ok,
    hello_line,
    ok_line,
    parse_rx,
    rx_line,
)

TOKEN = "ab" * 16
MESSAGES = [
    p.BandwidthListen("e1", "127.0.0.1", 0, TOKEN, 10**9, 30.0, 4, True, 5.0),
    p.BandwidthListening("e1", "127.0.0.1", 5201),
    p.BandwidthRun("r1", "::1", 5201, TOKEN, "::1", 2, 10.0, False, 500, 3000),
    p.BandwidthInterval("r1", 1.0, 12_500_000, 3),
    p.BandwidthInterval("r1", 2.0, 12_500_000, None),
    p.BandwidthResult("r1", 10**8, 8.0, 100.0, None, 2, "peer vanished after 8.0 s", "sender"),
    p.BandwidthStop("e1"),
    p.BandwidthClosed("e1", 10**8, 8.1, 2, 1, "completed", 7),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(msg: Any) -> None:
    assert p.decode(p.encode(msg)) == msg


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"token": "ab" * 8}, "token"),  # too short: 8 bytes
        ({"token": "XY" * 16}, "token"),
        ({"streams": 0}, "streams"),
        ({"streams": 129}, "streams"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"max_bytes": 0}, "max_bytes"),
        ({"address": "mt01.example"}, "address"),
        ({"port": 70000}, "port"),
        ({"reverse": "yes"}, "reverse"),
    ],
)
def test_a_bad_listen_names_its_field(change: Dict[str, Any], field: str) -> None:
    d = MESSAGES[0].to_dict()
    d.update(change)
    with pytest.raises(p.ProtocolError) as exc:
        p.decode(_line(d))
    assert exc.value.field == f"bandwidth_listen.{field}"


def _line(d: Dict[str, Any]) -> bytes:
    import json

    return json.dumps(d).encode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_s": 0.0}, "duration_s"),
        ({"src": "nope"}, "src"),
        ({"interval_ms": 1}, "interval_ms"),
    ],
)
def test_a_bad_run_names_its_field(change: Dict[str, Any], field: str) -> None:
    d = MESSAGES[2].to_dict()
    d.update(change)
    with pytest.raises(p.ProtocolError) as exc:
        p.decode(_line(d))
    assert exc.value.field == f"bandwidth_run.{field}"


def test_tokens_are_redacted_in_reprs() -> None:
    assert TOKEN not in repr(MESSAGES[0]) and "<redacted>" in repr(MESSAGES[0])
    assert TOKEN not in repr(MESSAGES[2]) and "<redacted>" in repr(MESSAGES[2])


# --- the handshake -----------------------------------------------------------------


def test_a_hello_is_accepted_only_with_the_token_and_the_mode() -> None:
    cnonce = secrets.token_hex(16)
    line = hello_line(TOKEN, cnonce, MODE_SEND)
    assert check_hello(TOKEN, MODE_SEND, line) == cnonce
    assert check_hello(TOKEN, MODE_RECV, line) is None  # a sender may not turn receiver
    assert check_hello("cd" * 16, MODE_SEND, line) is None
    assert check_hello(TOKEN, MODE_SEND, line[:-1]) is None  # no newline
    assert check_hello(TOKEN, MODE_SEND, line.replace(b"NCBW1", b"NCBW2")) is None
    assert check_hello(TOKEN, MODE_SEND, line + b"x" * 200) is None
    assert check_hello(TOKEN, MODE_SEND, b"") is None
    assert TOKEN.encode() not in line  # the token itself never crosses the wire


def test_the_answer_proves_the_endpoint_knows_the_token() -> None:
    cnonce = secrets.token_hex(16)
    assert check_ok(TOKEN, cnonce, ok_line(TOKEN, cnonce))
    assert not check_ok(TOKEN, cnonce, ok_line("cd" * 16, cnonce))
    assert not check_ok(TOKEN, cnonce, ok_line(TOKEN, secrets.token_hex(16)))
    assert not check_ok(TOKEN, cnonce, b"HTTP/1.1 400 Bad Request\r\n")


def test_rx_lines() -> None:
    assert parse_rx(rx_line(123, 456)) == (123, 456)
    assert parse_rx(b"NCBW1 RX -1 5\n") is None
    assert parse_rx(b"NCBW1 RX 1\n") is None
