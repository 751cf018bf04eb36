"""Fuzz suite, the agent protocol: ≥ 10,000 generated lines through the agent's line
decoder and the coordinator's (which also escapes peer text). Every line decodes to
a message or raises ProtocolError, nothing else; a decoded message carries no
control character into the coordinator; and the real agent answers every bad line
with a labelled `error` (bad_message / unknown_type) and keeps serving. Counts:
docs/robustness.md.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netcheck_agent import protocol as p
from netcheck_agent.agent import Agent

from netcheck.peertext import decode_peer_line, has_control

# the suite bounds its own work; the global 120 s per-test timeout is for hangs on a
# quiet machine, and a fuzz test on a busy one may need longer
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]

PROBE = p.ProbeRequest(
    "cs01->mt01:9443", "tcp_connect", "127.0.0.11", 9443, "127.0.0.10", 3, 200, 1000, "00ff"
)
EXAMPLES = [
    p.Hello(1, "0.1.0", "cs01", 123, "3.11.7", "linux", {"tcp_info": True, "scapy": False}),
    p.ProbeBatch("b1", (PROBE,), 64),
    p.Result("b1", "c1", (p.Sample("open", 123, "tcp_info", None, "", True, 1.7e9),)),
    p.Result("b1", "c2", (p.Sample("refused", errno=111, detail="ECONNREFUSED", t=1.0),)),
    p.BatchDone("b1", 2),
    p.RespondersStart("r1", "abcd", (p.ListenSpec("127.0.0.11", 443),), 60, 10),
    p.RespondersReady(
        "r1",
        (p.ListenSpec("127.0.0.11", 443),),
        (p.ListenRefused("127.0.0.12", 9443, "in_use", "EADDRINUSE"),),
    ),
    p.RespondersStopped("r1", 5, 4, "ttl"),
    p.Error("b1", "bad_message", "probes[0].port: must be an integer"),
    p.Bye(),
]
VALID = [p.encode(m) for m in EXAMPLES]
FIELDS = sorted(
    {f.name for m in EXAMPLES for f in dataclasses.fields(m)}  # type: ignore[arg-type]
    | {"type", "ref", "message", "code", "samples", "probes", "listen"}
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["127.0.0.1", "\x1b[2J", "\u202e", "tcp_connect", "open", "b1", "ttl"]),
)
# two levels deep is where the messages nest (samples, probes, listen specs); a
# recursive strategy costs several times more per line for little more reach
_JSON = st.one_of(
    _SCALAR,
    st.lists(_SCALAR, max_size=3),
    st.dictionaries(st.sampled_from(FIELDS), _SCALAR, max_size=4),
    st.lists(st.dictionaries(st.sampled_from(FIELDS), _SCALAR, max_size=4), max_size=2),
)
_LINES = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda kind, fields: json.dumps({"type": kind, **fields}).encode(),
        st.sampled_from([*sorted(p.MESSAGE_TYPES), "nope", ""]),
        st.dictionaries(st.sampled_from(FIELDS), _JSON, max_size=8),
    ),
    st.builds(
        lambda line, pos, junk, cut: line[: pos % len(line)] + junk + line[pos % len(line) + cut :],
        st.sampled_from(VALID),
        st.integers(0, 10_000),
        st.binary(max_size=4),
        st.integers(0, 4),
    ),
)


# Lines are drawn in lists: hypothesis' cost per example, not per line, dominates
# (milliseconds on a busy 2-core machine), so one example carries PER_EXAMPLE lines.
PER_EXAMPLE = 20


def _fuzz(n: int) -> settings:
    return settings(
        max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    return []


def test_generated_lines_decode_or_raise_protocol_error() -> None:
    seen = collections.Counter[str]()

    def one(line: bytes) -> None:
        seen["lines"] += 1
        try:
            msg = p.decode(line)  # the agent's decoder
        except p.ProtocolError as exc:
            assert str(exc)
            seen["protocol_error"] += 1
            with pytest.raises(p.ProtocolError):
                decode_peer_line(line)
            return
        seen["decoded"] += 1
        assert p.decode(p.encode(msg)) == msg  # what decodes re-encodes faithfully
        try:
            peer = decode_peer_line(line)  # the coordinator's boundary
        except p.ProtocolError:
            seen["too_long_once_escaped"] += 1
            return
        assert not any(has_control(s) for s in _strings(peer)), peer

    @_fuzz(10_200 // PER_EXAMPLE)
    @given(st.lists(_LINES, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def inner(lines: list[bytes]) -> None:
        for line in lines:
            one(line)

    inner()
    print(f"\n{dict(seen)}")  # shown with -s; the figures in docs/robustness.md
    assert seen["lines"] >= 10_000, seen
    assert seen["decoded"] > 0 and seen["protocol_error"] > 0, seen


class _MemoryChannel:
    def __init__(self, lines: list[bytes]) -> None:
        self._lines = collections.deque(lines)
        self.sent: list[bytes] = []

    async def receive(self) -> bytes | None:
        await asyncio.sleep(0)
        return self._lines.popleft() if self._lines else None

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


def test_the_agent_answers_every_bad_line_with_a_labelled_error() -> None:
    bad: list[bytes] = []

    # only lines that do not decode: a decoded fuzz message could name a probe
    # target outside loopback, and this test sends nothing anywhere
    @_fuzz(50)
    @given(st.lists(_LINES, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def collect(lines: list[bytes]) -> None:
        for line in lines:
            line = line.replace(b"\n", b" ")
            if not line.strip():
                continue
            try:
                p.decode(line)
            except p.ProtocolError:
                bad.append(line + b"\n")

    collect()
    assert len(bad) >= 500
    # what earlier runs found: an empty ref, and a field name longer than an error's
    # text may be, each made the reply itself fail and ended the agent's read loop
    bad += [
        b'{"type":"nope","batch":""}\n',
        b'{"type":"bandwidth_stop","id":""}\n',
        p.encode(dataclasses.replace(EXAMPLES[0], capabilities={})).replace(
            b'"capabilities":{}', b'"capabilities":{"' + b"x" * 5000 + b'":1}'
        ),
    ]
    channel = _MemoryChannel([*bad, p.encode(p.Bye())])
    # a reader that died would leave the agent serving until max_seconds: "lifetime"
    reason = asyncio.run(asyncio.wait_for(Agent(channel).run(max_seconds=30), 60))
    assert reason == "bye"
    replies = [p.decode(line) for line in channel.sent]
    assert isinstance(replies[0], p.Hello)
    errors = [m for m in replies if isinstance(m, p.Error)]
    assert len(errors) == len(bad)
    assert {e.code for e in errors} <= {p.ERROR_BAD_MESSAGE, p.ERROR_UNKNOWN_TYPE}
    print(f"\n{len(bad)} bad lines to a real agent: {len(errors)} labelled errors, then bye")
