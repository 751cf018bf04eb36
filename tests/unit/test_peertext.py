"""Text from a host is escaped where it enters the coordinator."""

from __future__ import annotations

import json

from netcheck_agent import protocol as p

from netcheck.peertext import (
    decode_peer_line,
    escape_control,
    sanitize_message,
    sanitize_peer_message,
)


def test_escape_control_makes_every_control_visible() -> None:
    assert escape_control("plain text, ünïcode") == "plain text, ünïcode"
    assert escape_control("\x1b[2J\x1b[HGO: 13 of 13") == "\\x1b[2J\\x1b[HGO: 13 of 13"
    assert escape_control("a\nb\rc\td\x7f\x9b") == "a\\x0ab\\x0dc\\x09d\\x7f\\x9b"
    assert escape_control("x\u202egnp.exe") == "x\\u202egnp.exe"


def test_an_agent_error_with_escape_sequences_is_escaped_when_decoded() -> None:
    line = json.dumps(
        {"type": "error", "code": "internal", "message": "\x1b[2J\x1b[1;1HGO: 13 of 13 cells pass"}
    ).encode()
    msg = decode_peer_line(line + b"\n")
    assert isinstance(msg, p.Error)
    assert "\x1b" not in msg.message
    assert msg.message.startswith("\\x1b[2J")


def test_clean_messages_are_passed_through_untouched() -> None:
    hello = p.Hello(
        agent_version="1",
        protocol=p.PROTOCOL_VERSION,
        host="h",
        python="3.11",
        platform="linux",
        pid=1,
    )
    line = p.encode(hello)
    assert decode_peer_line(line) == hello
    assert sanitize_message(hello) is hello


def test_nested_strings_are_escaped() -> None:
    hello = p.Hello(
        agent_version="1\x1b[31m",
        host="h",
        protocol=p.PROTOCOL_VERSION,
        python="3.11",
        platform="li\nnux",
        pid=1,
    )
    msg = decode_peer_line(p.encode(hello))
    assert isinstance(msg, p.Hello)
    assert (msg.agent_version, msg.platform) == ("1\\x1b[31m", "li\\x0anux")


def test_an_escape_that_outgrows_its_field_keeps_the_message() -> None:
    # platform allows 64 characters; 40 ESC become 160 once escaped
    hello = p.Hello(
        agent_version="1",
        protocol=p.PROTOCOL_VERSION,
        host="h",
        python="3.11",
        platform="\x1b" * 40,
        pid=1,
    )
    msg = decode_peer_line(p.encode(hello))
    assert isinstance(msg, p.Hello)
    assert msg.platform == "\\x1b" * 40


def _result(detail: str, facts: dict[str, object] | None = None) -> p.Result:
    sample = p.Sample("open", rtt_us=50, rtt_source="tcp_info", detail=detail, t=1.0, facts=facts)
    return p.Result(batch="b1", cell="c1", samples=(sample,))


def test_an_in_process_agents_message_is_escaped_as_a_decoded_line_would_be() -> None:
    """The local transport passes message objects: the same escaping, without a line."""
    for msg in (
        _result("plain text"),
        _result("bell\x07 and \x1b[31mred"),
        _result("", facts={"subject": "CN=evil\x1b]0;pwned\x07"}),
        _result("é\u202e"),  # non-ASCII with a bidi override: walked, escaped
    ):
        assert sanitize_peer_message(msg) == decode_peer_line(p.encode(msg))


def test_a_plain_tcp_result_is_passed_through_without_a_copy() -> None:
    msg = _result("connection refused")
    assert sanitize_peer_message(msg) is msg
