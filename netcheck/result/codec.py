"""The result model to JSON-ready values and back, losslessly: one codec for every part.

Derived from the dataclasses' fields and type hints, so a new field or a new part
of the result needs no code here: frozen dataclasses become objects (their
`init` fields only), enums their values, tuples lists; decoding rebuilds the
exact values (floats round-trip exactly through JSON). The plan is not encoded:
a stored sweep's plan is rebuilt from its topology text, and a plan cell's
result names its cell by id.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from netcheck.plan import Plan, ProbeSpec
from netcheck.result.cells import AgentInfo, CellResult
from netcheck.result.model import ResponderInfo, SweepResult

__all__ = [
    "CODEC_VERSION",
    "decode",
    "dumps",
    "encode",
    "loads",
    "result_from_dict",
    "result_to_dict",
]

CODEC_VERSION = 1
T = TypeVar("T")

_PRIMITIVES = (str, int, float, bool, type(None))


def encode(value: Any) -> Any:
    """A JSON-ready value: dicts, lists, str, int, float, bool, None."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: encode(getattr(value, name)) for name in _init_fields(type(value))}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(tp: Any, data: Any) -> Any:
    """`data` (from `encode`, through JSON) back to a value of type `tp`."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        return _decode_union(typing.get_args(tp), data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, data, {})
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        if len(args) != len(data):
            raise TypeError(f"expected {len(args)} items, got {len(data)}")
        return tuple(decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [decode(arg, v) for v in data]
    if origin in (dict, Mapping, typing.Mapping):
        _key, arg = typing.get_args(tp)
        return {k: decode(arg, v) for k, v in data.items()}
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"expected a number, got {data!r}")
        return float(data)
    if tp in (str, int, bool):
        if type(data) is not tp:
            raise TypeError(f"expected {tp.__name__}, got {data!r}")
        return data
    if tp is type(None):
        if data is not None:
            raise TypeError(f"expected null, got {data!r}")
        return None
    raise TypeError(f"cannot decode {tp!r}")


def _decode_dataclass(tp: type[T], data: Any, given: Mapping[str, Any]) -> T:
    """`given` fields are taken as they are; the others decoded from `data`."""
    if not isinstance(data, dict):
        raise TypeError(f"{tp.__name__}: expected an object, got {type(data).__name__}")
    cls: type = tp
    hints = _hints(cls)
    kwargs = {
        name: given[name] if name in given else decode(hints[name], data[name])
        for name in _init_fields(cls)
        if name in data or name in given
    }
    return tp(**kwargs)


def _decode_union(args: tuple[Any, ...], data: Any) -> Any:
    if data is None and type(None) in args:
        return None
    rest = [a for a in args if a is not type(None)]
    if len(rest) == 1:
        return decode(rest[0], data)
    # a union of JSON-native types (a fact value): the JSON value is the value
    if isinstance(data, list) and any(typing.get_origin(a) is list for a in rest):
        return list(data)
    scalars = [a for a in rest if typing.get_origin(a) is not list]
    if isinstance(data, _PRIMITIVES) and all(a in _PRIMITIVES for a in scalars):
        return data
    raise TypeError(f"cannot decode {data!r} as one of {args}")


@cache
def _init_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


# --- the sweep result ------------------------------------------------------------------

_PARTS = (
    "interrupted",
    "phases",
    "bandwidth",
    "readiness",
    "diagnostics",
    "nics",
    "queuing",
)


def result_to_dict(result: SweepResult, *, cells: bool = True) -> dict[str, Any]:
    """The whole result but its plan. Without `cells`: only the parts a store keeps
    beside its indexed rows (cells, agents and responders have rows of their own)."""
    out: dict[str, Any] = {"codec": CODEC_VERSION}
    if cells:
        out.update(
            sweep_id=result.sweep_id,
            started_at=result.started_at,
            finished_at=result.finished_at,
            results=[_cell_to_dict(r) for r in result.results],
            agents=encode(result.agents),
            responders=encode(result.responders),
        )
    for name in _PARTS:
        out[name] = encode(getattr(result, name))
    return out


def result_from_dict(
    data: Mapping[str, Any],
    plan: Plan,
    *,
    sweep_id: str | None = None,
    started_at: float | None = None,
    finished_at: float | None = None,
    results: tuple[CellResult, ...] | None = None,
    agents: tuple[AgentInfo, ...] | None = None,
    responders: tuple[ResponderInfo, ...] | None = None,
) -> SweepResult:
    """The inverse of `result_to_dict`; the keyword arguments supply what was left out."""
    if data.get("codec") != CODEC_VERSION:
        raise ValueError(f"result codec {data.get('codec')!r}, this netcheck reads {CODEC_VERSION}")
    hints = _hints(SweepResult)
    specs = {s.cell_id: s for s in plan.specs}
    parts = {name: decode(hints[name], data[name]) for name in _PARTS if name in data}
    return SweepResult(
        sweep_id=data["sweep_id"] if sweep_id is None else sweep_id,
        plan=plan,
        results=tuple(_cell_from_dict(d, specs) for d in data["results"])
        if results is None
        else results,
        agents=decode(hints["agents"], data["agents"]) if agents is None else agents,
        responders=decode(hints["responders"], data["responders"])
        if responders is None
        else responders,
        started_at=float(data["started_at"]) if started_at is None else started_at,
        finished_at=float(data["finished_at"]) if finished_at is None else finished_at,
        **parts,
    )


def _cell_to_dict(r: CellResult) -> dict[str, Any]:
    d = encode(r)
    d["spec"] = r.spec.cell_id  # the plan holds the spec
    return dict(d)


def _cell_from_dict(d: Mapping[str, Any], specs: Mapping[str, ProbeSpec]) -> CellResult:
    spec = specs.get(d["spec"])
    if spec is None:
        raise ValueError(f"a stored result names cell {d['spec']!r}, which the plan lacks")
    return _decode_dataclass(CellResult, d, {"spec": spec})


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=True)


def loads(text: str) -> Any:
    return json.loads(text)
