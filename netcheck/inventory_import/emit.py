"""Write the composed draft as a commented topology (format v1).

Every generated value ends with a comment saying where it came from. A host with
a `TODO:` is written commented out, under one `# TODO:` line per reason, so the
file still validates and nothing undecided is swept by accident. The hand-written
part is written back section by section (its comments are not kept: it stays the
file to edit).
"""

from __future__ import annotations

from typing import Any

import yaml

from netcheck.inventory_import.compose import Composed
from netcheck.inventory_import.model import HostDraft, SiteDraft, Sourced

__all__ = ["render_topology"]

# the order sections are written in; the part's own sections sit in between
_HEAD = ("ports", "defaults", "sweep", "paths")
_TAIL = ("rules", "disable_rules", "failback", "bandwidth", "azure")


def flow(value: object) -> str:
    """A value in YAML flow style, on one line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _line(indent: int, key: str, value: object | None, comment: str = "") -> str:
    body = f"{' ' * indent}{flow(key)}:" + (f" {flow(value)}" if value is not None else "")
    return f"{body}  # {comment}" if comment else body


def _section(key: str, value: Any, origin: str) -> list[str]:
    dumped = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=100)
    return [f"# {key}: from {origin}", *dumped.rstrip("\n").split("\n")]


def _site(site: SiteDraft) -> list[str]:
    lines = [_line(2, site.name, None, site.origin), "    networks:"]
    lines += [_line(6, n.name, n.cidr, n.origin) for n in site.networks]
    return lines


def _roles(roles: tuple[Sourced, ...]) -> str:
    return "; ".join(dict.fromkeys(r.origin for r in roles))


def _host(h: HostDraft) -> list[str]:
    lines = [_line(2, h.name, None, h.origin)]
    lines += [f"    # {note}" for note in h.notes]
    if h.site is not None:
        lines.append(_line(4, "site", h.site.value, h.site.origin))
    if h.roles:
        lines.append(_line(4, "roles", [r.value for r in h.roles], _roles(h.roles)))
    if h.replication:
        lines.append(_line(4, "groups", [g.value for g in h.replication], _roles(h.replication)))
    if h.os is not None:
        lines.append(_line(4, "os", h.os.value, h.os.origin))
    if len(h.nics) == 1 and h.nics[0].name == "nic0":
        lines.append(_line(4, "address", h.nics[0].address, h.nics[0].origin))
    elif h.nics:
        lines.append("    nics:")
        lines += [_line(6, n.name, {"address": n.address}, n.origin) for n in h.nics]
    if h.agent:
        lines.append("    agent:")
        lines += [_line(6, key, s.value, s.origin) for key, s in h.agent]
    if h.todos:
        return [f"  # TODO: {h.name}: {t}" for t in h.todos] + [f"  # {x[2:]}" for x in lines]
    return lines


def render_topology(c: Composed) -> str:
    part = c.part.doc if c.part else {}
    part_origin = f"the hand-written part {c.part.file}" if c.part else ""
    out = [
        "# netcheck topology written by `netcheck init` from:",
        *[f"#   {s}" for s in c.sources],
        "# Each generated value says where it came from. Check it, then:",
        "#   netcheck validate THIS-FILE && netcheck plan THIS-FILE",
    ]
    if c.todos:
        out.append(f"# {c.todos} TODO(s) below: hosts that could not be decided are commented out.")
    out += ["version: 1", _line(0, "name", c.name, part_origin if "name" in part else "")]
    for key in _HEAD:
        if key in part:
            out += _section(key, part[key], part_origin)
    out.append("sites:")
    for name, spec in (part.get("sites") or {}).items():
        out += ["  " + x for x in _section(name, spec, part_origin)]
    for site in c.sites:
        out += _site(site)
    out.append("hosts:")
    for name, spec in (part.get("hosts") or {}).items():
        out += ["  " + x for x in _section(name, spec, part_origin)]
    for h in c.hosts:
        out += _host(h)
    for key in _TAIL:
        if key in part:
            out += _section(key, part[key], part_origin)
    return "\n".join(out) + "\n"
