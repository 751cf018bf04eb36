"""YAML read with positions, so every validation error can name file, line and column.

Step one of the two-step config: parse with PyYAML's safe composer (no object
construction, no tags), keep each scalar, mapping and sequence as a `Node` that
knows its file position and its dotted field path. Step two (the validators in
`netcheck.topology.loader` and friends) turns nodes into typed values.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from netcheck.errors import ConfigError, Location, unknown_key

__all__ = ["Node", "load_yaml_file", "load_yaml_text"]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(frozen=True, slots=True)
class Node:
    """One YAML value with where it came from.

    `value` is a dict[str, Node], a list[Node], or a plain scalar
    (str, int, float, bool, None).
    """

    value: Any
    location: Location
    field: str
    key_location: Location | None = None  # where a mapping entry's key is written

    # --- errors -----------------------------------------------------------
    def fail(self, message: str) -> NoReturn:
        raise ConfigError(message, location=self.location, field=self.field or None)

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, location=self.location, field=self.field or None)

    # --- shape checks -------------------------------------------------------
    @property
    def kind(self) -> str:
        v = self.value
        if isinstance(v, dict):
            return "mapping"
        if isinstance(v, list):
            return "list"
        if v is None:
            return "null"
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "number"
        return "string"

    def describe(self) -> str:
        if self.kind in ("mapping", "list", "null"):
            return f"a {self.kind}"
        return f"{self.kind} {self.value!r}"

    def as_mapping(self, allowed: frozenset[str] | set[str] | None = None) -> dict[str, Node]:
        if not isinstance(self.value, dict):
            self.fail(f"expected a mapping, found {self.describe()}")
        if allowed is not None:
            for key, child in self.value.items():
                if key not in allowed:
                    raise ConfigError(
                        unknown_key(key, allowed),
                        location=child.key_location or child.location,
                        field=child.field,
                    )
        return dict(self.value)

    def items(self) -> Iterator[tuple[str, Node]]:
        return iter(self.as_mapping().items())

    def as_list(self) -> list[Node]:
        if not isinstance(self.value, list):
            self.fail(f"expected a list, found {self.describe()}")
        return list(self.value)

    def as_str(self) -> str:
        if not isinstance(self.value, str):
            self.fail(f"expected a string, found {self.describe()}")
        return self.value

    def as_int(self, *, lo: int | None = None, hi: int | None = None) -> int:
        v = self.value
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"expected an integer, found {self.describe()}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.fail(f"{v} is out of range; expected {lo}..{hi}")
        return v

    def as_number(self, *, lo: float | None = None) -> float:
        v = self.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(f"expected a number, found {self.describe()}")
        if not math.isfinite(v):  # .nan/.inf would silently disable a threshold
            self.fail(f"expected a finite number, found {self.describe()}")
        if lo is not None and v < lo:
            self.fail(f"{v} is too small; expected at least {lo}")
        return float(v)

    def as_bool(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail(f"expected true or false, found {self.describe()}")
        return self.value

    def as_str_or_list(self) -> list[Node]:
        """Accept `x` or `[x, y]` where a list of strings is meant."""
        if isinstance(self.value, list):
            return list(self.value)
        return [self]


_CONSTRUCTOR = yaml.constructor.SafeConstructor()
# libyaml's composer when PyYAML was built with it (10x faster on large topologies);
# both keep line and column marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _location(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


# A topology of thousands of hosts has some 10^5 nodes; aliases can multiply a tiny
# file into billions ("billion laughs"), so expansion has a budget.
MAX_NODES = 500_000
# 10,000 hosts with NICs, agents and inventories are a few MB; anything much larger
# is the wrong file (or /dev/zero), refused before it is read into memory
MAX_FILE_BYTES = 16 * 1024 * 1024
# below this size a text cannot hold MAX_NODES values (it is composed in well under
# a second); above it, the values are counted while parsing, before composing
_COUNT_FIRST_BYTES = 256 * 1024


class _Budget:
    def __init__(self, file: str) -> None:
        self.left = MAX_NODES
        self.file = file
        self.seen: set[int] = set()  # collections visited: one seen twice came via an alias
        self.aliased = False

    def spend(self, loc: Location) -> None:
        self.left -= 1
        if self.left < 0:
            how = " through YAML aliases" if self.aliased else ""
            raise ConfigError(
                f"the document expands to more than {MAX_NODES:,} values{how}; "
                "a topology of 10,000 hosts has far fewer",
                location=loc,
            )

    def visit(self, node: yaml.Node) -> None:
        if id(node) in self.seen:
            self.aliased = True
        self.seen.add(id(node))


def _count_values(text: str, file: str) -> None:
    """Refuse a text with more than MAX_NODES values while parsing it: composing
    first would cost seconds and hundreds of MB before the budget could say no."""
    count = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            count += 1
            if count > MAX_NODES:
                raise ConfigError(
                    f"the document has more than {MAX_NODES:,} values; a topology of 10,000 "
                    "hosts has far fewer (is this the right file?)",
                    location=_location(file, event.start_mark),
                )


def _convert(
    node: yaml.Node,
    file: str,
    field: str,
    active: frozenset[int] = frozenset(),
    budget: _Budget | None = None,
    key_loc: Location | None = None,
) -> Node:
    loc = _location(file, node.start_mark)
    budget = budget or _Budget(file)
    budget.spend(loc)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in active:  # `&a [*a]`: an alias inside its own anchor
            raise ConfigError("recursive YAML alias", location=loc, field=field or None)
        active = active | {id(node)}
        budget.visit(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(
                    "mapping keys must be plain strings",
                    location=_location(file, key_node.start_mark),
                )
            key = str(key_node.value)
            child_field = f"{field}.{key}" if field else key
            if key in out:
                first = out[key].key_location or out[key].location  # the key, not its value
                raise ConfigError(
                    f"duplicate key {key!r} (first given at line {first.line})",
                    location=_location(file, key_node.start_mark),
                    field=child_field,
                )
            out[key] = _convert(
                value_node,
                file,
                child_field,
                active,
                budget,
                _location(file, key_node.start_mark),
            )
        return Node(out, loc, field, key_loc)
    if isinstance(node, yaml.SequenceNode):
        items = [
            _convert(v, file, f"{field}[{i}]", active, budget) for i, v in enumerate(node.value)
        ]
        return Node(items, loc, field, key_loc)
    if node.tag not in _SCALAR_TAGS:
        raise ConfigError(
            f"YAML tag {node.tag!r} is not allowed", location=loc, field=field or None
        )
    try:
        value = _CONSTRUCTOR.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. 2001-13-45 matches the timestamp pattern
        raise ConfigError(
            f"invalid {node.tag.rsplit(':', 1)[-1]} {node.value!r}: {exc}",
            location=loc,
            field=field or None,
        ) from None
    if not isinstance(value, (str, int, float, bool, type(None))):
        # timestamps and the like: keep the text the user wrote
        value = str(node.value)
    return Node(value, loc, field, key_loc)


def load_yaml_text(text: str, file: str = "<string>") -> Node:
    """Parse YAML text into a positioned Node tree (one document)."""
    try:
        if len(text) > _COUNT_FIRST_BYTES:
            _count_values(text, file)
        root = yaml.compose(text, Loader=_LOADER)
        converted = None if root is None else _convert(root, file, "")
    except RecursionError:
        raise ConfigError("the YAML is nested too deeply", location=Location(file)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = _location(file, mark) if mark is not None else Location(file)
        problem = exc.problem or "malformed YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigError(f"malformed YAML: {problem}{context}", location=loc) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML: {exc}", location=Location(file)) from None
    finally:
        # the shared constructor caches every node it built: drop them, or each load leaks
        _CONSTRUCTOR.constructed_objects.clear()
        _CONSTRUCTOR.recursive_objects.clear()
    if converted is None:
        raise ConfigError("the file is empty; expected a mapping", location=Location(file))
    return converted


def load_yaml_file(path: str | Path) -> Node:
    """Read and parse a YAML file; a missing or unreadable file is a ConfigError."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(
                f"larger than {MAX_FILE_BYTES // 2**20} MiB; a topology of 10,000 hosts is a "
                "few MB (is this the right file?)",
                location=Location(str(p)),
            )
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", location=Location(str(p))) from None
    except IsADirectoryError:
        raise ConfigError(
            "is a directory, expected a YAML file", location=Location(str(p))
        ) from None
    except PermissionError:
        raise ConfigError("permission denied", location=Location(str(p))) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", location=Location(str(p))) from None
    return load_yaml_text(text, str(p))
