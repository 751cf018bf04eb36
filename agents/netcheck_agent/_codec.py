"""One codec for every protocol v1 message, derived from its dataclass fields.

A message is a frozen dataclass deriving from :class:`Wire`. A field's
annotation says what it holds (``int``, ``float``, ``str``, ``bool``, a nested
message, a tuple of messages or of strings, a flat JSON object) and
``Optional[...]`` that ``null`` is allowed; its ``field(metadata=...)``, built
with the helpers below, says the rest: bounds, length, allowed values, hex or
IP literal, secret, left out of the line when ``null``, wire name. The
dataclass default is the value an absent field decodes to; an ``Optional``
field without a default reads as ``None`` when absent, any other field without
one is required (as is one declared ``required=True``: a local default, but
the peer must say it). A class may add cross-field rules in ``_validate``.

From that one declaration each class gets ``__post_init__`` (a message that
exists is valid, whether built locally or decoded from a peer), ``to_dict``,
``from_dict`` (absent, mistyped or out-of-range fields raise
:class:`ProtocolError` with the dotted path, ``probes[2].port``) and, when a
field is secret, a ``__repr__`` that shows ``<redacted>`` instead of it.

Declaring a field is one line; the codec, the checks and the repr follow::

    @dataclass(frozen=True)
    class RespondersStart(Wire):
        TYPE: ClassVar[str] = "responders_start"
        id: str = field(metadata=text(256))
        nonce: str = field(metadata=hex_text(secret=True))
        ...
        # a new optional field: absent from an older peer's line, it reads as None
        bind_to: Optional[str] = field(default=None, metadata=ip(omit_none=True))

A new field goes after the fields with defaults (and into ``WIRE_ORDER`` when
the class has one); a default lets lines without it still decode, and
``omit_none`` keeps the line of a message that does not use it byte for byte
as before.

Speed matters (a sweep moves thousands of results a second), so the three
functions are generated per class, as :mod:`dataclasses` generates
``__init__``: the common well-formed value passes one cheap expression, and
only a value failing it goes through the checks that name the bad field. The
code is built the first time a class is used, not at import: an agent pays
only for the messages it exchanges.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import sys
import typing
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Type, TypeVar

from . import _fields as f
from ._fields import ProtocolError

_W = TypeVar("_W", bound="Wire")
_KEY = "wire"  # the metadata key holding a field's Spec
_MAX_FLAT_STR = 1024
_MAX_FLAT_LIST_STR = 512


@dataclasses.dataclass(frozen=True)
class Spec:
    """What a field's annotation leaves unsaid; built by the helpers below."""

    lo: Any = None  # int / float bounds (both required for numbers)
    hi: Any = None
    max_len: int = 4096  # str, and str items of a tuple
    empty_ok: bool = False
    choices: Optional[FrozenSet[str]] = None
    hex: bool = False
    min_len: int = 1  # hex strings
    ip: bool = False  # an IP address literal (str, or the items of a tuple)
    max_items: Optional[int] = None  # tuples; flat objects: max keys
    list_items: int = 0  # flat objects: lists of up to this many strings (and null) allowed
    secret: bool = False  # shown as <redacted> in repr
    omit_none: bool = False  # left out of the line when None
    wire: Optional[str] = None  # the name on the wire, when not the attribute's
    required: bool = False  # must be on the line even though a local default exists
    bound: Any = None  # a user setting's bounds.Bound: its range and its wording


def _meta(**kw: Any) -> Dict[str, Any]:
    return {_KEY: Spec(**kw)}


def between(lo: Any, hi: Any, **kw: Any) -> Dict[str, Any]:
    """An int or float field in ``lo..hi`` (inclusive)."""
    return _meta(lo=lo, hi=hi, **kw)


def text(max_len: int = 4096, *, empty_ok: bool = False, **kw: Any) -> Dict[str, Any]:
    """A string of at most ``max_len`` characters (non-empty unless ``empty_ok``)."""
    return _meta(max_len=max_len, empty_ok=empty_ok, **kw)


def one_of(choices: FrozenSet[str], **kw: Any) -> Dict[str, Any]:
    """A string from ``choices``."""
    return _meta(choices=choices, **kw)


def hex_text(max_len: int = 128, *, min_len: int = 1, **kw: Any) -> Dict[str, Any]:
    """An even-length lower-case hex string (a nonce, a token: a byte string)."""
    return _meta(hex=True, max_len=max_len, min_len=min_len, **kw)


def ip(**kw: Any) -> Dict[str, Any]:
    """An IPv4 or IPv6 address literal (for a tuple: each item); names are never resolved."""
    return _meta(ip=True, max_len=64, **kw)


def items(max_items: int, **kw: Any) -> Dict[str, Any]:
    """A tuple of at most ``max_items`` (string items: ``max_len`` 256 unless given)."""
    kw.setdefault("max_len", 256)
    return _meta(max_items=max_items, **kw)


def required(**kw: Any) -> Dict[str, Any]:
    """A field with a local default that a peer must still send."""
    return _meta(required=True, **kw)


def flat_object(max_keys: int, *, list_items: int = 0, **kw: Any) -> Dict[str, Any]:
    """A flat JSON object: short keys, scalar values (strings bounded); with
    ``list_items`` also lists of short strings and null."""
    return _meta(max_items=max_keys, list_items=list_items, **kw)


# -- checks that name the bad field (the slow path) -----------------------------------


def _is_ip(value: Any) -> bool:
    if type(value) is not str or not 0 < len(value) <= 64:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _check_str(name: str, value: Any, s: Spec) -> None:
    if s.ip:
        f.want_ip(name, value)
    elif s.hex:
        f.want_hex(name, value, max_len=s.max_len)
        if len(value) < s.min_len:
            raise ProtocolError(
                f"must be at least {s.min_len // 2} bytes ({s.min_len} hex digits)", name
            )
    elif s.choices is not None:
        f.want_choice(name, value, s.choices)
    else:
        f.want_str(name, value, empty_ok=s.empty_ok, max_len=s.max_len)


def _check_flat(name: str, value: Any, s: Spec) -> None:
    if not isinstance(value, dict):
        raise ProtocolError("must be an object", name)
    if s.max_items is not None and len(value) > s.max_items:
        raise ProtocolError(f"must have at most {s.max_items} keys, got {len(value)}", name)
    for key, item in value.items():
        f.want_str(f"{name} key", key, max_len=64)
        where = f"{name}.{key}"
        if isinstance(item, list) and s.list_items:
            if len(item) > s.list_items:
                raise ProtocolError(f"must have at most {s.list_items} items", where)
            for i, x in enumerate(item):
                f.want_str(f"{where}[{i}]", x, empty_ok=True, max_len=_MAX_FLAT_LIST_STR)
        elif isinstance(item, str):
            f.want_str(where, item, empty_ok=True, max_len=_MAX_FLAT_STR)
        elif isinstance(item, float):
            f.want_number(where, item, -1e18, 1e18)
        elif item is None and s.list_items:
            continue
        elif not isinstance(item, (str, int, float, bool)):
            raise ProtocolError(
                f"must be a string, number or boolean, got {type(item).__name__}", where
            )


class _Field:
    """One field's plan: how to check, decode and encode it."""

    def __init__(self, fld: dataclasses.Field[Any], hint: Any, owner: type) -> None:
        s = fld.metadata.get(_KEY) or Spec()
        if not fld.init:
            raise TypeError(f"{owner.__name__}.{fld.name}: every wire field is an argument")
        self.name, self.spec, self.secret = fld.name, s, s.secret
        self.wire = s.wire or fld.name
        self.optional = False
        if typing.get_origin(hint) is typing.Union:
            inner = [a for a in typing.get_args(hint) if a is not type(None)]
            self.optional, hint = len(inner) < len(typing.get_args(hint)), inner[0]
        if s.required:
            self.absent: Any = dataclasses.MISSING
        elif fld.default is not dataclasses.MISSING:
            self.absent = fld.default
        elif fld.default_factory is not dataclasses.MISSING:
            self.absent = fld.default_factory
        else:
            self.absent = None if self.optional else dataclasses.MISSING
        self.factory = fld.default_factory is not dataclasses.MISSING
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        self.item: Any = None
        if hint in (int, float):
            self.kind = hint.__name__
            if s.lo is None or s.hi is None or not math.isfinite(s.lo) or not math.isfinite(s.hi):
                raise TypeError(f"{owner.__name__}.{fld.name}: a number needs finite bounds")
        elif hint in (str, bool):
            self.kind = hint.__name__
        elif isinstance(hint, type) and issubclass(hint, Wire):
            self.kind, self.item = "obj", hint
        elif origin is tuple and args[1:] == (Ellipsis,):
            self.item = args[0]
            self.kind = "strs" if self.item is str else "objs"
        elif origin is dict:
            self.kind = "flags" if args[1] is bool else "flat"
        else:
            raise TypeError(f"{owner.__name__}.{fld.name}: no codec for {hint!r}")

    def check(self, value: Any) -> None:
        """Raise a ProtocolError naming this field unless ``value`` is valid."""
        name, s, kind = self.wire, self.spec, self.kind
        if value is None and self.optional:
            return
        if s.bound is not None:
            why = s.bound.problem(value)
            if why is not None:
                raise ProtocolError(why, name)
        elif kind == "int":
            f.want_int(name, value, s.lo, s.hi)
        elif kind == "float":
            f.want_number(name, value, s.lo, s.hi)
        elif kind == "str":
            _check_str(name, value, s)
        elif kind == "bool":
            f.want_bool(name, value)
        elif kind == "obj":
            if not isinstance(value, self.item):
                raise ProtocolError(f"must be a {self.item.__name__}", name)
        elif kind == "objs":
            f.want_tuple_of(name, value, self.item)
            self._check_len(value)
        elif kind == "strs":
            if not isinstance(value, tuple):
                raise ProtocolError("must be a list of strings", name)
            self._check_len(value)
            for i, x in enumerate(value):
                _check_str(f"{name}[{i}]", x, s)
        elif kind == "flags":
            if not isinstance(value, dict):
                raise ProtocolError("must be an object", name)
            for key, flag in value.items():
                f.want_bool(f"{name}.{key}", flag)
        else:
            _check_flat(name, value, s)

    def _check_len(self, value: Tuple[Any, ...]) -> None:
        if self.spec.max_items is not None and len(value) > self.spec.max_items:
            raise ProtocolError(
                f"must hold at most {self.spec.max_items} items, got {len(value)}", self.wire
            )

    def fast(self, v: str, ns: Dict[str, Any]) -> str:
        """A cheap expression over local ``v``, true for the common valid value
        (false may still be valid: :meth:`check` then decides)."""
        s, kind, k = self.spec, self.kind, f"_t_{self.name}"
        if kind == "int":
            expr = f"type({v}) is int and {s.lo!r} <= {v} <= {s.hi!r}"
        elif kind == "float":
            expr = f"(type({v}) is float or type({v}) is int) and {s.lo!r} <= {v} <= {s.hi!r}"
        elif kind == "str":
            expr = self._fast_str(v, ns)
        elif kind == "bool":
            expr = f"type({v}) is bool"
        elif kind == "obj":
            ns[k] = self.item
            expr = f"type({v}) is {k}"
        elif kind in ("objs", "strs"):
            if kind == "objs":
                ns[k] = self.item
                each = f"type(x) is {k}"
            else:
                each = self._fast_str("x", ns)
            expr = f"type({v}) is tuple and all({each} for x in {v})"
            if s.max_items is not None:
                expr += f" and len({v}) <= {s.max_items}"
        elif kind == "flags":
            expr = f"type({v}) is dict and all(type(x) is bool for x in {v}.values())"
        else:
            expr = "False"  # a flat object is rare: checked in full
        return f"({v} is None or ({expr}))" if self.optional else expr

    def _fast_str(self, v: str, ns: Dict[str, Any]) -> str:
        s, k = self.spec, f"_c_{self.name}"
        if s.ip:
            return f"_is_ip({v})"
        if s.choices is not None:
            ns[k] = s.choices
            return f"type({v}) is str and {v} in {k}"
        low = f"{s.min_len} <= " if s.hex else ("" if s.empty_ok else "0 < ")
        expr = f"type({v}) is str and {low}len({v}) <= {s.max_len}"
        return expr + f" and not len({v}) % 2 and _HEX.issuperset({v})" if s.hex else expr

    def decode(self, ns: Dict[str, Any]) -> str:
        """The expression reading this field from the wire object ``d``."""
        w, k = repr(self.wire), f"_t_{self.name}"
        raw = f"d[{w}]"
        if self.kind in ("obj", "objs", "strs"):
            ns[k] = self.item
            raw = f"_{self.kind}({k}, {w}, {raw}, {self.optional})"
        if self.absent is dataclasses.MISSING:
            absent = f"_required({w})"
        else:
            ns[f"_a_{self.name}"] = self.absent
            absent = f"_a_{self.name}()" if self.factory else f"_a_{self.name}"
        return f"{raw} if {w} in d else {absent}"

    def encode(self, not_none: bool = False) -> str:
        """The expression giving this field's wire value from ``self``."""
        v = f"self.{self.name}"
        expr = {
            "obj": f"{v}.to_dict()",
            "objs": f"[x.to_dict() for x in {v}]",
            "strs": f"list({v})",
            "flags": f"dict({v})",
            "flat": f"dict({v})",
        }.get(self.kind)
        if expr is None:
            return v
        return f"None if {v} is None else {expr}" if self.optional and not not_none else expr


# -- decoding nested values (errors carry the path) ------------------------------------


def _required(name: str) -> Any:
    raise ProtocolError("is required", name)


def _obj(cls: Any, name: str, value: Any, optional: bool) -> Any:
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        why = (
            "must be an object or null"
            if optional
            else f"must be an object, got {f.describe(value)}"
        )
        raise ProtocolError(why, name)
    try:
        return cls.from_dict(value)
    except ProtocolError as exc:
        raise exc.within(name) from None


def _objs(cls: Any, name: str, value: Any, optional: bool) -> Any:
    if type(value) is not list:
        raise ProtocolError(f"must be a list, got {f.describe(value)}", name)
    decode = cls.from_dict
    if all(type(x) is dict for x in value):
        try:
            return tuple(map(decode, value))
        except ProtocolError:
            pass  # again below, naming the item that is wrong
    return tuple(f.nested(name, i, x, decode) for i, x in enumerate(value))


def _strs(cls: Any, name: str, value: Any, optional: bool) -> Any:
    if not isinstance(value, list):
        raise ProtocolError(f"must be a list, got {type(value).__name__}", name)
    return tuple(value)


_HELPERS = {
    "_required": _required,
    "_obj": _obj,
    "_objs": _objs,
    "_strs": _strs,
    "_is_ip": _is_ip,
    "_HEX": f.HEX,
}


# -- the per-class plan, built on first use -------------------------------------------


_BUILTIN = {"int": int, "float": float, "str": str, "bool": bool}
_RESOLVED: Dict[Tuple[str, str], Any] = {}


def _resolve(annotation: Any, scope: Dict[str, Any]) -> Any:
    """A field's annotation as a type (a string under ``from __future__ import annotations``)."""
    if not isinstance(annotation, str):
        return annotation
    if annotation in _BUILTIN:
        return _BUILTIN[annotation]
    key = (scope["__name__"], annotation)
    if key not in _RESOLVED:
        _RESOLVED[key] = eval(annotation, scope)  # the class's own annotation
    return _RESOLVED[key]


def _plan(cls: Any) -> List[_Field]:
    plan: Optional[List[_Field]] = cls.__dict__.get("_wire_plan")
    if plan is not None:
        return plan
    scope = vars(sys.modules[cls.__module__])
    plan = [_Field(x, _resolve(x.type, scope), cls) for x in dataclasses.fields(cls)]
    order: Tuple[str, ...] = cls.__dict__.get("WIRE_ORDER") or tuple(x.name for x in plan)
    by_name = {x.name: x for x in plan}
    if sorted(order) != sorted(by_name):
        raise TypeError(f"{cls.__name__}.WIRE_ORDER must name every field once")
    ns: Dict[str, Any] = dict(_HELPERS, _cls=cls)
    src = [
        _post_init_src(cls, plan, ns),
        _from_dict_src(plan, ns),
        _to_dict_src(cls, order, by_name),
    ]
    exec("\n".join(src), ns)  # our own generated code, as dataclasses does
    for fn_name in ("__post_init__", "to_dict", "from_dict"):
        ns[fn_name].__qualname__ = f"{cls.__qualname__}.{fn_name}"
    cls.__post_init__ = ns["__post_init__"]
    cls.to_dict = ns["to_dict"]
    cls.from_dict = classmethod(ns["from_dict"])
    if any(x.secret for x in plan):
        cls.__repr__ = _repr
    cls._wire_source = "\n".join(src)  # for a reader debugging a message class
    cls._wire_plan = plan
    return plan


def _post_init_src(cls: Any, plan: List[_Field], ns: Dict[str, Any]) -> str:
    lines = ["def __post_init__(self):"]
    lines += [f"    v{i} = self.{x.name}" for i, x in enumerate(plan)]
    fast = " and ".join(x.fast(f"v{i}", ns) for i, x in enumerate(plan)) or "True"
    lines += [f"    if not ({fast}):", "        _check_all(self)"]

    def check_all(msg: Any) -> None:  # the slow path: the first bad field raises
        for x in plan:
            x.check(getattr(msg, x.name))

    ns["_check_all"] = check_all
    if hasattr(cls, "_validate"):
        lines.append("    self._validate()")
    return "\n".join(lines) + "\n"


def _from_dict_src(plan: List[_Field], ns: Dict[str, Any]) -> str:
    args = "".join(f"        {x.decode(ns)},\n" for x in plan)
    return f"def from_dict(cls, d):\n    return cls(\n{args}    )\n"


def _to_dict_src(cls: Any, order: Tuple[str, ...], by_name: Dict[str, _Field]) -> str:
    head = [f"'type': {cls.TYPE!r}"] if "TYPE" in cls.__dict__ else []
    tail: List[str] = []  # once one field is left out when None, the rest follow in order
    for name in order:
        x = by_name[name]
        if x.spec.omit_none:
            tail.append(f"    if self.{name} is not None:")
            tail.append(f"        d[{x.wire!r}] = {x.encode(not_none=True)}")
        elif tail:
            tail.append(f"    d[{x.wire!r}] = {x.encode()}")
        else:
            head.append(f"{x.wire!r}: {x.encode()}")
    return "\n".join(
        ["def to_dict(self):", f"    d = {{{', '.join(head)}}}", *tail, "    return d\n"]
    )


def _repr(self: Any) -> str:
    shown = (
        f"{x.name}=<redacted>"
        if x.secret and getattr(self, x.name) is not None
        else f"{x.name}={getattr(self, x.name)!r}"
        for x in _plan(type(self))
    )
    return f"{type(self).__name__}({', '.join(shown)})"


class Wire:
    """Base of every message and nested record: the codec, built on first use.

    The first construction, ``to_dict`` or ``from_dict`` of a class builds its
    plan and replaces these three methods on the class with generated ones.
    """

    def __post_init__(self) -> None:
        _plan(type(self))
        self.__post_init__()

    def to_dict(self) -> Dict[str, Any]:
        _plan(type(self))
        return self.to_dict()

    @classmethod
    def from_dict(cls: Type[_W], d: Dict[str, Any]) -> _W:
        _plan(cls)
        return cls.from_dict(d)


__all__ = [
    "Spec",
    "Wire",
    "between",
    "flat_object",
    "hex_text",
    "ip",
    "items",
    "one_of",
    "required",
    "text",
]
