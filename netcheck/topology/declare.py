"""The topology format's keys, declared once: name, shape, default and meaning.

Each mapping the loader reads with `Node.as_mapping(...)` has a `Section` beside its
parser; the key set the parser allows is `Section.keys`, and the JSON Schema
(`netcheck.topology.schema`) and the reference tables of docs/topology.md are
rendered from the same declarations. So a key the loader accepts is a key the
schema and the docs know, by construction.

The declarations describe; they do not validate. The parsers stay the authority on
values (and on the messages a user reads); the schema is a faithful, sometimes
looser, picture of them for editors. A test keeps the two in agreement.

This module imports nothing of the rest of `netcheck.topology` (every part of the
loader imports it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "ADDRESS",
    "BOOL",
    "NAME",
    "NETWORK",
    "NO_DEFAULT",
    "NUMBER",
    "PORT",
    "STRING",
    "Key",
    "ListOf",
    "MapOf",
    "OneOf",
    "Ref",
    "Scalar",
    "Section",
    "Shape",
    "anycase",
    "default_of",
    "in_range",
]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A YAML scalar: `type` is a JSON Schema type (string, integer, number, boolean)."""

    type: str
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str | int, ...] = ()  # exact values (editors offer them)
    pattern: str | None = None  # an ECMA-262 regular expression, as JSON Schema reads it
    formats: tuple[str, ...] = ()  # any of these JSON Schema formats (ipv4, ipv6)
    label: str = ""  # how the docs name it, when not by its type (e.g. "IP address")
    examples: tuple[str, ...] = ()  # accepted values that `enum` cannot list (any case)


@dataclass(frozen=True, slots=True)
class Ref:
    """A nested mapping with fixed keys: the `Section` of this id."""

    section: str


@dataclass(frozen=True, slots=True)
class MapOf:
    """A mapping whose keys the user chooses (host names, site names, ...)."""

    value: Shape
    key_label: str = "NAME"  # in dotted paths and the docs: hosts.NAME.agent
    key_pattern: str | None = None
    min_items: int = 0


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Shape
    min_items: int = 0
    max_items: int | None = None


@dataclass(frozen=True, slots=True)
class OneOf:
    """Any of several shapes (a string shorthand or the full mapping, one or a list)."""

    choices: tuple[Shape, ...]


Shape: TypeAlias = Scalar | Ref | MapOf | ListOf | OneOf


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True, slots=True)
class Key:
    """One key of a mapping."""

    name: str
    shape: Shape
    doc: str  # one or two sentences: what it means, what it changes
    default: Any = NO_DEFAULT  # a literal default (JSON Schema "default", the docs' column)
    default_doc: str = ""  # a default that is not a literal ("the host's first NIC")
    required: bool = False
    roles: tuple[str, ...] = ()  # inventory keys: the host roles that may carry it

    @property
    def default_text(self) -> str:
        if self.default_doc:
            return self.default_doc
        if self.default is NO_DEFAULT:
            return ""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


@dataclass(frozen=True, slots=True)
class Section:
    """A mapping of the topology format with its fixed keys, in the order the docs list them."""

    id: str  # the JSON Schema definition name and the docs' anchor
    doc: str
    fields: tuple[Key, ...]
    # at least one of each group must be given (a host needs `address` or `nics`)
    one_of_required: tuple[tuple[str, ...], ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()  # at most one of each group

    def __post_init__(self) -> None:
        names = [k.name for k in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"section {self.id}: a key is declared twice")

    @property
    def keys(self) -> frozenset[str]:
        """The key set the parser passes to `Node.as_mapping`."""
        return frozenset(k.name for k in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """The required keys, in declared order (the order the parser checks them in)."""
        return tuple(k.name for k in self.fields if k.required)

    def key(self, name: str) -> Key:
        for k in self.fields:
            if k.name == name:
                return k
        raise KeyError(name)


def in_range(lo: float, hi: float) -> Scalar:
    """An integer (both bounds int) or a number within lo..hi, inclusive."""
    integer = isinstance(lo, int) and isinstance(hi, int)
    return Scalar("integer" if integer else "number", minimum=lo, maximum=hi)


def default_of(cls: type, name: str) -> Any:
    """The default of a dataclass field: the model's default, declared once."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            raise ValueError(f"{cls.__name__}.{name} has no plain default")
    raise KeyError(name)


def anycase(*words: str) -> str:
    """A pattern matching any of `words` in any letter case (JSON Schema has no /i flag)."""
    alts = []
    for w in words:
        alts.append("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _esc(c) for c in w))
    return "^(" + "|".join(alts) + ")$"


def _esc(c: str) -> str:
    return "\\" + c if c in r"\^$.|?*+()[]{}/" else c


STRING = Scalar("string")
BOOL = Scalar("boolean")
NUMBER = Scalar("number", minimum=0)
PORT = Scalar("integer", minimum=1, maximum=65535)
# what `_name` in the loader accepts: no whitespace, no '|'
NAME = Scalar("string", pattern=r"^[^\s|]+$", label="name")
ADDRESS = Scalar("string", formats=("ipv4", "ipv6"), label="IP address")
NETWORK = Scalar("string", pattern=r"^[0-9A-Fa-f.:]+/[0-9]{1,3}$", label="CIDR network")
