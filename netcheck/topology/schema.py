"""The JSON Schema of topology format v1, rendered from the loader's own declarations.

Every `Section` declared beside a parser (`loader`, `inventory`, `services`,
`bandwidth`) becomes a definition; the key sets the parsers accept are the
schema's properties, so the two cannot list different keys. Editors read the
shipped file through the `# yaml-language-server: $schema=...` comment of a
topology. Regenerate with
``python -m netcheck.topology.schema > netcheck/topology/topology.schema.json``;
a test compares the shipped file with this output. Pure.

Draft-07: the dialect yaml-language-server (VS Code's YAML extension) and
check-jsonschema both read fully.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import combinations
from types import ModuleType
from typing import Any

from netcheck.topology import bandwidth, inventory, loader, services
from netcheck.topology.declare import (
    NO_DEFAULT,
    Key,
    ListOf,
    MapOf,
    OneOf,
    Ref,
    Scalar,
    Section,
    Shape,
)

__all__ = ["ROOT", "SCHEMA_FILE", "render_schema", "sections", "topology_schema", "walk"]

ROOT = "topology"
SCHEMA_FILE = "topology.schema.json"  # beside this module, shipped as package data
_MODULES: tuple[ModuleType, ...] = (loader, inventory, services, bandwidth)


def sections() -> dict[str, Section]:
    """Every declared section, by id (found in the loader's modules, none listed by hand)."""
    found: dict[str, Section] = {}
    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, Section):
                if value.id in found and found[value.id] is not value:
                    raise ValueError(f"two sections are named {value.id!r}")
                found[value.id] = value
    return found


def walk(
    by_id: dict[str, Section] | None = None,
) -> Iterator[tuple[str, Section]]:
    """(dotted path, section) for every place a section appears, depth first from the root.

    Paths name the user's own keys in capitals: `hosts.NAME.agent`, `rules[].from`.
    """
    by_id = by_id if by_id is not None else sections()

    def shapes(path: str, shape: Shape) -> Iterator[tuple[str, Section]]:
        if isinstance(shape, Ref):
            yield from visit(path, by_id[shape.section])
        elif isinstance(shape, MapOf):
            yield from shapes(f"{path}.{shape.key_label}", shape.value)
        elif isinstance(shape, ListOf):
            yield from shapes(f"{path}[]", shape.item)
        elif isinstance(shape, OneOf):
            for choice in shape.choices:
                yield from shapes(path, choice)

    def visit(path: str, section: Section) -> Iterator[tuple[str, Section]]:
        yield path, section
        for key in section.fields:
            yield from shapes(f"{path}.{key.name}" if path else key.name, key.shape)

    yield from visit("", by_id[ROOT])


def _scalar(s: Scalar) -> dict[str, Any]:
    out: dict[str, Any] = {"type": s.type}
    if len(s.enum) == 1:
        out["const"] = s.enum[0]
    elif s.enum:
        out["enum"] = list(s.enum)
    if s.pattern is not None:
        out["pattern"] = s.pattern
    if s.minimum is not None:
        out["minimum"] = s.minimum
    if s.maximum is not None:
        out["maximum"] = s.maximum
    if s.formats:
        out["anyOf"] = [{"format": f} for f in s.formats]
    if s.examples:
        out["examples"] = list(s.examples)
    return out


def _shape(shape: Shape) -> dict[str, Any]:
    if isinstance(shape, Scalar):
        return _scalar(shape)
    if isinstance(shape, Ref):
        return {"$ref": f"#/definitions/{shape.section}"}
    if isinstance(shape, MapOf):
        out: dict[str, Any] = {"type": "object", "additionalProperties": _shape(shape.value)}
        if shape.key_pattern is not None:
            out["propertyNames"] = {"pattern": shape.key_pattern}
        if shape.min_items:
            out["minProperties"] = shape.min_items
        return out
    if isinstance(shape, ListOf):
        out = {"type": "array", "items": _shape(shape.item)}
        if shape.min_items:
            out["minItems"] = shape.min_items
        if shape.max_items is not None:
            out["maxItems"] = shape.max_items
        return out
    return {"anyOf": [_shape(c) for c in shape.choices]}


def _key(key: Key) -> dict[str, Any]:
    shape = _shape(key.shape)
    if "$ref" in shape:  # draft-07 ignores the siblings of a $ref: keep the description seen
        shape = {"allOf": [shape]}
    out = {"description": key.doc, **shape}
    if key.default is not NO_DEFAULT:
        out["default"] = key.default
    elif key.default_doc:
        out["description"] += f" Default: {key.default_doc}."
    if key.roles:
        out["description"] += f" Roles: {', '.join(key.roles)}."
    return out


def _role_conditions(section: Section) -> list[dict[str, Any]]:
    """For a host: an inventory key its roles do not allow is rejected (as the loader does)."""
    inv = section.key("inventory").shape
    assert isinstance(inv, Ref)
    by_roles: dict[tuple[str, ...], list[str]] = {}
    for key in sections()[inv.section].fields:
        if key.roles:
            by_roles.setdefault(key.roles, []).append(key.name)
    out = []
    for roles, names in by_roles.items():
        has_role = {
            "anyOf": [
                {"type": "string", "enum": list(roles)},
                {"type": "array", "contains": {"enum": list(roles)}},
            ]
        }
        out.append(
            {
                "if": {"not": {"properties": {"roles": has_role}}},
                "then": {"properties": {"inventory": {"propertyNames": {"not": {"enum": names}}}}},
            }
        )
    return out


def _section(section: Section) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "description": section.doc,
        "properties": {k.name: _key(k) for k in section.fields},
        "additionalProperties": False,
    }
    if section.required:
        out["required"] = list(section.required)
    all_of: list[dict[str, Any]] = []
    for group in section.one_of_required:
        all_of.append({"anyOf": [{"required": [k]} for k in group]})
    for group in section.exclusive:
        all_of += [{"not": {"required": list(pair)}} for pair in combinations(group, 2)]
    if "inventory" in section.keys and "roles" in section.keys:
        all_of += _role_conditions(section)
    if all_of:
        out["allOf"] = all_of
    return out


def topology_schema() -> dict[str, Any]:
    by_id = sections()
    root = _section(by_id[ROOT])
    reachable = list(dict.fromkeys(s.id for _, s in walk(by_id)))  # in the order of the walk
    unreachable = set(by_id) - set(reachable)
    if unreachable:
        raise ValueError(f"sections no key refers to: {', '.join(sorted(unreachable))}")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "netcheck topology (format version 1)",
        **root,
        "definitions": {sid: _section(by_id[sid]) for sid in reachable if sid != ROOT},
    }


def render_schema() -> str:
    return json.dumps(topology_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - the regeneration command
    print(render_schema(), end="")
