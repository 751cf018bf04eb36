"""The generic wire codec: what a message class gets from its field declarations."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, Optional, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netcheck_agent import protocol as p
from netcheck_agent._codec import Wire, _plan, between, hex_text, ip, items, one_of, text

# every class the protocol moves, top-level or nested
NESTED = (
    p.ProbeRequest,
    p.Sample,
    p.ListenSpec,
    p.ListenRefused,
    p.VolumeFacts,
    p.InterfaceFacts,
    p.RouteChoice,
    p.ArpTarget,
    p.ArpResult,
    p.CapturedPacket,
    p.Hop,
)
ALL = tuple(p.MESSAGE_TYPES.values()) + NESTED


@dataclass(frozen=True)
class Inner(Wire):
    n: int = field(metadata=between(0, 9))


@dataclass(frozen=True)
class Demo(Wire):
    """A message using every kind of field, declared as the protocol's are."""

    TYPE: ClassVar[str] = "demo"
    WIRE_ORDER: ClassVar[Tuple[str, ...]] = ("name", "inners", "token", "level", "addr", "x")
    name: str = field(metadata=text(8, wire="Name"))
    inners: Tuple[Inner, ...] = field(metadata=items(2))
    token: Optional[str] = field(default=None, metadata=hex_text(secret=True))
    level: str = field(default="low", metadata=one_of(frozenset({"low", "high"})))
    addr: Optional[str] = field(default=None, metadata=ip(omit_none=True))
    x: float = field(default=0.5, metadata=between(0, 1, required=True))


def test_a_declared_class_encodes_in_wire_order_with_wire_names() -> None:
    d = Demo("a", (Inner(1),), "00ff", x=1)
    assert d.to_dict() == {
        "type": "demo",
        "Name": "a",
        "inners": [{"n": 1}],
        "token": "00ff",
        "level": "low",
        "x": 1,
    }
    assert list(d.to_dict()) == ["type", "Name", "inners", "token", "level", "x"]
    assert Demo.from_dict(d.to_dict()) == d
    with_addr = dataclasses.replace(d, addr="::1")
    assert list(with_addr.to_dict())[-2:] == ["addr", "x"]  # an omitted field keeps its place


def test_defaults_required_and_paths() -> None:
    assert Demo.from_dict({"Name": "a", "inners": [], "x": 0}) == Demo("a", (), x=0)
    with pytest.raises(p.ProtocolError) as info:
        Demo.from_dict({"Name": "a", "inners": []})  # x has a local default, but is required
    assert (info.value.field, info.value.reason) == ("x", "is required")
    with pytest.raises(p.ProtocolError) as info:
        Demo.from_dict({"Name": "a", "inners": [{"n": 1}, {"n": 10}], "x": 0})
    assert (info.value.field, info.value.reason) == ("inners[1].n", "must be in 0..9, got 10")
    with pytest.raises(p.ProtocolError) as info:
        Demo("a", (Inner(1),) * 3)
    assert (info.value.field, info.value.reason) == ("inners", "must hold at most 2 items, got 3")
    with pytest.raises(p.ProtocolError, match=r"^Name: must be at most 8 characters"):
        Demo("a" * 9, ())


def test_secret_fields_are_redacted_only_when_set() -> None:
    assert "token=<redacted>" in repr(Demo("a", (), "00ff"))
    assert "token=None" in repr(Demo("a", ()))
    assert "00ff" not in repr(Demo("a", (), "00ff"))


def test_a_number_without_bounds_or_a_bad_wire_order_is_a_declaration_error() -> None:
    @dataclass(frozen=True)
    class Unbounded(Wire):
        n: int

    with pytest.raises(TypeError, match="finite bounds"):
        Unbounded(1)

    @dataclass(frozen=True)
    class Misordered(Wire):
        WIRE_ORDER: ClassVar[Tuple[str, ...]] = ("a",)
        a: bool
        b: bool

    with pytest.raises(TypeError, match="WIRE_ORDER"):
        Misordered(True, False)


def _least(cls: Any) -> Any:
    """An instance of ``cls`` with every field at the low end of its declaration."""
    args = []
    for x in _plan(cls):
        s = x.spec
        value: Any = {
            "int": s.lo,
            "float": s.lo,
            "bool": False,
            "flags": {},
            "flat": {},
        }.get(x.kind)
        if x.kind == "str":
            value = "::1" if s.ip else min(s.choices) if s.choices else "0" * max(2, s.min_len)
        elif x.kind == "obj":
            value = _least(x.item)
        elif x.kind == "objs":
            value = (_least(x.item),)
        elif x.kind == "strs":
            value = ("::1",)
        args.append(value)
    return cls(*args)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_class_round_trips_and_shows_every_field(cls: Any) -> None:
    """Derived from the declaration: any value it allows round-trips, and the repr
    cannot drift from the fields (BandwidthRun's once left out connect_timeout_ms)."""
    msg = _least(cls)
    assert cls.from_dict(msg.to_dict()) == msg
    if hasattr(cls, "TYPE"):
        assert p.decode(p.encode(msg)) == msg
    for f in dataclasses.fields(cls):
        assert f"{f.name}=" in repr(msg)


def test_bandwidth_run_repr_shows_every_setting_but_the_token() -> None:
    run = p.BandwidthRun("r1", "::1", 5201, "ab" * 16, connect_timeout_ms=3000)
    assert "connect_timeout_ms=3000" in repr(run)
    assert "ab" * 16 not in repr(run)


@pytest.mark.parametrize("bad", [[], [1], {}, {"a": 1}])
@pytest.mark.parametrize("key", ["outcome", "rtt_source"])
def test_a_choice_given_a_list_or_object_is_a_protocol_error(key: str, bad: Any) -> None:
    """A peer's `"outcome": []` once escaped decode as TypeError (unhashable)."""
    sample: Dict[str, Any] = {"outcome": "open", "t": 1, key: bad}
    line = json.dumps({"type": "result", "batch": "b", "cell": "c", "samples": [sample]})
    with pytest.raises(p.ProtocolError) as info:
        p.decode(line)
    assert info.value.field == f"result.samples[0].{key}"
    assert info.value.reason.startswith("must be a string, got ")


# -- property: whatever a declaration allows round-trips, byte for byte ---------------


def _values(x: Any) -> Any:
    """A hypothesis strategy for the values field plan ``x`` allows."""
    s = x.spec
    if x.kind == "int":
        strat = st.integers(s.lo, s.hi)
    elif x.kind == "float":
        strat = st.floats(s.lo, s.hi, allow_nan=False) | st.integers(math.ceil(s.lo), int(s.hi))
    elif x.kind == "bool":
        strat = st.booleans()
    elif x.kind == "str" or x.kind == "strs":
        if s.ip:
            strat = st.sampled_from(["127.0.0.1", "::1", "198.18.0.1", "fe80::1"])
        elif s.hex:
            strat = st.binary(min_size=s.min_len // 2 or 1, max_size=s.max_len // 2).map(bytes.hex)
        elif s.choices:
            strat = st.sampled_from(sorted(s.choices))
        else:
            strat = st.text(min_size=0 if s.empty_ok else 1, max_size=min(s.max_len, 12))
        if x.kind == "strs":
            strat = st.lists(strat, max_size=3).map(tuple)
    elif x.kind == "obj":
        strat = _messages(x.item)
    elif x.kind == "objs":
        strat = st.lists(_messages(x.item), max_size=3).map(tuple)
    elif x.kind == "flags":
        strat = st.dictionaries(st.text(max_size=8), st.booleans(), max_size=3)
    else:
        scalar = st.text(max_size=8) | st.integers(-5, 5) | st.booleans() | st.floats(-1, 1)
        strat = st.dictionaries(st.text(min_size=1, max_size=8), scalar, max_size=3)
    return st.none() | strat if x.optional else strat


def _messages(cls: Any) -> Any:
    def build(args: list[Any]) -> Any:
        try:
            return cls(*args)
        except p.ProtocolError:  # a cross-field rule (duplicate cells, syn needs a port)
            return None

    fields = [_values(x) for x in _plan(cls)]
    return st.tuples(*fields).map(lambda t: build(list(t))).filter(lambda m: m is not None)


@settings(max_examples=25, deadline=None)
@given(st.data())
@pytest.mark.parametrize("cls", tuple(p.MESSAGE_TYPES.values()), ids=lambda c: c.__name__)
def test_any_declared_value_round_trips(cls: Any, data: st.DataObject) -> None:
    msg = data.draw(_messages(cls))
    line = p.encode(msg)
    assert p.decode(line) == msg
    assert p.encode(p.decode(line)) == line
