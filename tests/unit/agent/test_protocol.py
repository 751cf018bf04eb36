"""Protocol v1: round trips, every rejection, and a fuzzed decoder."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netcheck_agent import protocol as p
from netcheck_agent.bounds import TIMEOUT_MS
from netcheck_agent.protocol import ProtocolError, UnknownMessageType

PROBE = p.ProbeRequest(
    "cs01->mt01:9443", "tcp_connect", "127.0.0.11", 9443, "127.0.0.10", 3, 200, 1000, "00ff"
)

EXAMPLES = [
    p.Hello(1, "0.1.0", "cs01", 123, "3.11.7", "linux", {"tcp_info": True, "scapy": False}),
    p.ProbeBatch("b1", (PROBE, p.ProbeRequest("c2", "tcp_connect", "::1", 22)), 64),
    p.ProbeBatch("empty", ()),
    p.Result("b1", "c1", (p.Sample("open", 123, "tcp_info", None, "", True, 1.7e9),)),
    p.Result("b1", "c2", (p.Sample("refused", errno=111, detail="ECONNREFUSED", t=1.0),)),
    p.BatchDone("b1", 2),
    p.RespondersStart(
        "r1", "abcd", (p.ListenSpec("127.0.0.11", 443), p.ListenSpec("::1", 0)), 60, 10
    ),
    p.RespondersReady(
        "r1",
        (p.ListenSpec("127.0.0.11", 443),),
        (p.ListenRefused("127.0.0.12", 9443, "in_use", "EADDRINUSE"),),
    ),
    p.RespondersStop("r1"),
    p.RespondersStopped("r1", 5, 4, "ttl"),
    p.Error("b1", "bad_message", "probes[0].port: must be an integer"),
    p.Error(None, "internal", ""),
    p.Bye(),
]


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: p.Message) -> None:
    line = p.encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    compact = json.dumps(json.loads(line), separators=(",", ":")).encode() + b"\n"
    assert line == compact  # compact separators, nothing else on the line
    line.decode("ascii")
    assert p.decode(line) == msg
    assert p.decode(line.decode()) == msg  # str lines work too


def test_wire_format_matches_documented_example() -> None:
    line = (
        b'{"type":"probe_batch","batch":"b1","concurrency":256,"probes":[{"cell":"x",'
        b'"kind":"tcp_connect","dst":"127.0.0.11","port":443,"src":null,"samples":3,'
        b'"interval_ms":200,"timeout_ms":1000,"nonce":null}]}\n'
    )
    msg = p.decode(line)
    assert isinstance(msg, p.ProbeBatch)
    assert msg.probes[0] == p.ProbeRequest(
        "x", "tcp_connect", "127.0.0.11", 443, None, 3, 200, 1000
    )
    assert p.encode(msg) == line


def test_optional_fields_take_defaults_and_unknown_fields_are_ignored() -> None:
    msg = p.decode(
        b'{"type":"probe_batch","batch":"b","future":1,"probes":'
        b'[{"cell":"c","kind":"k","dst":"h","port":1,"extra":{"x":[]}}]}'
    )
    assert msg == p.ProbeBatch("b", (p.ProbeRequest("c", "k", "h", 1),), 256)
    assert p.decode(b'{"type":"bye","why":"done"}') == p.Bye()


def _batch(**probe: object) -> bytes:
    base: dict = {"cell": "c", "kind": "tcp_connect", "dst": "127.0.0.1", "port": 80}
    base.update(probe)
    base = {k: v for k, v in base.items() if v is not ...}
    return json.dumps({"type": "probe_batch", "batch": "b7", "probes": [base]}).encode()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cell": ...}, "probe_batch.probes[0].cell"),
        ({"cell": ""}, "probe_batch.probes[0].cell"),
        ({"kind": 5}, "probe_batch.probes[0].kind"),
        ({"port": ...}, "probe_batch.probes[0].port"),
        ({"port": "80"}, "probe_batch.probes[0].port"),
        ({"port": True}, "probe_batch.probes[0].port"),
        ({"port": 0}, "probe_batch.probes[0].port"),
        ({"port": 65536}, "probe_batch.probes[0].port"),
        ({"port": 80.0}, "probe_batch.probes[0].port"),
        ({"src": 7}, "probe_batch.probes[0].src"),
        ({"samples": 0}, "probe_batch.probes[0].samples"),
        ({"samples": p.MAX_SAMPLES + 1}, "probe_batch.probes[0].samples"),
        ({"interval_ms": -1}, "probe_batch.probes[0].interval_ms"),
        ({"timeout_ms": 0}, "probe_batch.probes[0].timeout_ms"),
        ({"timeout_ms": None}, "probe_batch.probes[0].timeout_ms"),
        ({"nonce": "abc"}, "probe_batch.probes[0].nonce"),
        ({"nonce": "ABCD"}, "probe_batch.probes[0].nonce"),
        ({"nonce": "zz"}, "probe_batch.probes[0].nonce"),
        ({"nonce": ""}, "probe_batch.probes[0].nonce"),
    ],
)
def test_probe_request_rejections_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode(_batch(**overrides))
    assert info.value.field == field
    assert str(info.value).startswith(field + ": ")
    assert info.value.ref == "b7"  # the agent can point its error at the batch


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b'{"type":"probe_batch","probes":[]}', "probe_batch.batch"),
        (b'{"type":"probe_batch","batch":"b"}', "probe_batch.probes"),
        (b'{"type":"probe_batch","batch":"b","probes":{}}', "probe_batch.probes"),
        (b'{"type":"probe_batch","batch":"b","probes":[1]}', "probe_batch.probes[0]"),
        (
            b'{"type":"probe_batch","batch":"b","probes":[],"concurrency":0}',
            "probe_batch.concurrency",
        ),
        (
            b'{"type":"probe_batch","batch":"b","probes":[],"concurrency":5000}',
            "probe_batch.concurrency",
        ),
        (b'{"type":"responders_start","id":"r","listen":[]}', "responders_start.nonce"),
        (
            b'{"type":"responders_start","id":"r","nonce":"ab","listen":[{"address":"localhost","port":1}]}',
            "responders_start.listen[0].address",
        ),
        (
            b'{"type":"responders_start","id":"r","nonce":"ab","listen":[{"address":"::1","port":-1}]}',
            "responders_start.listen[0].port",
        ),
        (
            b'{"type":"responders_start","id":"r","nonce":"ab","listen":[],"ttl_s":0}',
            "responders_start.ttl_s",
        ),
        (
            b'{"type":"responders_start","id":"r","nonce":"ab","listen":[],"ttl_s":1e9}',
            "responders_start.ttl_s",
        ),
        (
            b'{"type":"responders_start","id":"r","nonce":"ab","listen":[],"max_conns":0}',
            "responders_start.max_conns",
        ),
        (b'{"type":"responders_stop"}', "responders_stop.id"),
        (
            b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"meh","t":1}]}',
            "result.samples[0].outcome",
        ),
        (
            b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open"}]}',
            "result.samples[0].t",
        ),
        (
            b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1,"rtt_us":-1}]}',
            "result.samples[0].rtt_us",
        ),
        (
            b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1,"rtt_source":"x"}]}',
            "result.samples[0].rtt_source",
        ),
        (
            b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":1,"proven":1}]}',
            "result.samples[0].proven",
        ),
        (
            b'{"type":"hello","protocol":1,"agent_version":"v","host":"h","pid":1,"python":"3","platform":"l","capabilities":{"x":1}}',
            "hello.capabilities.x",
        ),
        (
            b'{"type":"hello","protocol":1,"agent_version":"v","host":"h","pid":1,"python":"3","platform":"l","capabilities":[]}',
            "hello.capabilities",
        ),
        (b'{"type":"batch_done","batch":"b","cells":-1}', "batch_done.cells"),
        (b'{"type":"responders_stopped","id":"r","connections":1}', "responders_stopped.proven"),
        (b'{"type":"error","ref":null,"message":"m"}', "error.code"),
        (b'{"type":7}', "type"),
        (b'{"batch":"b"}', "type"),
    ],
)
def test_message_rejections_name_the_field(line: bytes, field: str) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode(line)
    assert info.value.field == field


def test_duplicate_cell_ids_are_rejected() -> None:
    with pytest.raises(ProtocolError, match=r"probes\[1\]\.cell: duplicate"):
        p.ProbeBatch("b", (PROBE, PROBE))


def test_unknown_type_is_its_own_error_with_ref() -> None:
    with pytest.raises(UnknownMessageType) as info:
        p.decode(b'{"type":"traceroute","batch":"b9"}')
    assert info.value.ref == "b9"
    assert isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b"42",
        b'"hello"',
        b"\xff\xfe",
        b'{"type":"bye"} x',
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":NaN}]}',
        b'{"type":"result","batch":"b","cell":"c","samples":[{"outcome":"open","t":Infinity}]}',
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b"1" * 5000,
    ],
    ids=lambda line: repr(line[:24]),
)
def test_garbage_lines_raise_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        p.decode(line)


def test_overlong_line_is_rejected_before_parsing() -> None:
    with pytest.raises(ProtocolError, match="longer than"):
        p.decode(b" " * (p.MAX_LINE_BYTES + 1))


def test_messages_validate_on_construction() -> None:
    with pytest.raises(ProtocolError, match="port"):
        p.ProbeRequest("c", "tcp_connect", "127.0.0.1", 70000)
    with pytest.raises(ProtocolError, match="outcome"):
        p.Sample("filtered", t=1.0)
    with pytest.raises(ProtocolError, match="probes"):
        p.ProbeBatch("b", [PROBE])  # type: ignore[arg-type]  # a list is not frozen


def test_reprs_never_show_the_nonce() -> None:
    start = p.RespondersStart("r1", "deadbeef", (), 1, 1)
    batch = p.ProbeBatch("b", (p.ProbeRequest("c", "tcp_connect", "::1", 1, nonce="deadbeef"),))
    assert "deadbeef" not in repr(start)
    assert "deadbeef" not in repr(batch)


# -- property tests ----------------------------------------------------------

_text = st.text(min_size=1, max_size=20)
_hex = st.binary(min_size=1, max_size=16).map(bytes.hex)
_requests = st.builds(
    p.ProbeRequest,
    cell=_text,
    kind=st.sampled_from(["tcp_connect", "udp"]),
    dst=st.sampled_from(["127.0.0.11", "::1", "mt01.example"]),
    port=st.integers(1, 65535),
    src=st.none() | st.just("127.0.0.10"),
    samples=st.integers(1, p.MAX_SAMPLES),
    interval_ms=st.integers(0, p.MAX_INTERVAL_MS),
    timeout_ms=st.integers(TIMEOUT_MS.lo, p.MAX_TIMEOUT_MS),
    nonce=st.none() | _hex,
    dst_host=st.none() | st.sampled_from(["mt01", "ps-azure"]),
)
_responder_starts = st.builds(
    p.RespondersStart,
    id=_text,
    nonce=_hex,
    listen=st.lists(
        st.builds(p.ListenSpec, st.just("127.0.0.11"), st.integers(0, 65535)), max_size=3
    ).map(tuple),
    ttl_s=st.integers(1, 100),
    max_conns=st.integers(1, 1000),
    host=st.sampled_from(["", "mt01"]),
)
_batches = st.builds(
    p.ProbeBatch,
    batch=_text,
    probes=st.lists(_requests, max_size=5, unique_by=lambda r: r.cell).map(tuple),
    concurrency=st.integers(1, p.MAX_CONCURRENCY),
)
_samples = st.builds(
    p.Sample,
    outcome=st.sampled_from(sorted(p.OUTCOMES)),
    rtt_us=st.none() | st.integers(0, 10**9),
    rtt_source=st.none() | st.sampled_from(sorted(p.RTT_SOURCES)),
    errno=st.none() | st.integers(0, 20000),
    detail=st.text(max_size=30),
    proven=st.booleans(),
    t=st.floats(0, 4e9, allow_nan=False),
)
_results = st.builds(p.Result, _text, _text, st.lists(_samples, max_size=4).map(tuple))


@settings(deadline=None)
@given(st.one_of(_batches, _results, _responder_starts))
def test_round_trip_property(msg: p.Message) -> None:
    assert p.decode(p.encode(msg)) == msg


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        p.decode(data)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(p.MESSAGE_TYPES)),
    st.dictionaries(
        st.sampled_from(
            [
                "batch",
                "id",
                "cell",
                "probes",
                "samples",
                "listen",
                "listening",
                "refused",
                "nonce",
                "dst_host",
                "port",
                "concurrency",
                "protocol",
                "capabilities",
                "cells",
                "code",
                "ttl_s",
                "max_conns",
                "connections",
                "proven",
                "agent_version",
                "host",
                "pid",
                "python",
                "platform",
                "ref",
                "message",
            ]
        ),
        _json,
    ),
)
def test_fuzz_structured_only_protocol_error(kind: str, fields: dict) -> None:
    line = json.dumps({"type": kind, **fields}).encode()
    try:
        msg = p.decode(line)
    except ProtocolError:
        return
    assert p.decode(p.encode(msg)) == msg  # whatever decodes, re-encodes faithfully


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([p.encode(m) for m in EXAMPLES]), st.data())
def test_fuzz_mutated_valid_lines_only_protocol_error(line: bytes, data: st.DataObject) -> None:
    pos = data.draw(st.integers(0, len(line) - 1))
    junk = data.draw(st.binary(min_size=0, max_size=3))
    cut = data.draw(st.integers(0, 3))
    with contextlib.suppress(ProtocolError):
        p.decode(line[:pos] + junk + line[pos + cut :])


def test_responder_identity_fields_are_optional_and_bounded() -> None:
    """v1 peers that never send them still decode; bad values name the field."""
    start = p.decode(b'{"type":"responders_start","id":"r","nonce":"ab","listen":[]}')
    assert isinstance(start, p.RespondersStart) and start.host == ""
    batch = p.decode(
        b'{"type":"probe_batch","batch":"b","probes":[{"cell":"c","kind":"tcp_connect",'
        b'"dst":"::1","port":1,"nonce":"ab"}]}'
    )
    assert isinstance(batch, p.ProbeBatch) and batch.probes[0].dst_host is None
    assert "dst_host" not in p.ProbeRequest("c", "tcp_connect", "::1", 1).to_dict()
    for line, field in (
        (b'{"type":"responders_start","id":"r","nonce":"ab","listen":[],"host":7}', "host"),
        (
            b'{"type":"probe_batch","batch":"b","probes":[{"cell":"c","kind":"tcp_connect",'
            b'"dst":"::1","port":1,"dst_host":""}]}',
            "dst_host",
        ),
    ):
        with pytest.raises(ProtocolError) as info:
            p.decode(line)
        assert field in str(info.value)
