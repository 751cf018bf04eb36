"""Merge the hand-written part, the Azure import and the Ansible hosts into one draft.

What is decided here: each host's site (a `--site` pattern, else the one site
whose networks hold its address), its roles (`--role` patterns, after the Azure
tag), and every reason it can't be written as is (a `TODO:`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from netcheck.errors import Location
from netcheck.inventory_import.jsondoc import InventoryError, read_text
from netcheck.inventory_import.model import (
    HostDraft,
    RoleRule,
    SiteDraft,
    Sourced,
    apply_replication_groups,
    apply_roles,
)

__all__ = ["Composed", "Part", "compose", "load_part"]

PART_KEYS = frozenset(
    {
        "name",
        "ports",
        "sites",
        "paths",
        "hosts",
        "rules",
        "disable_rules",
        "defaults",
        "sweep",
        "failback",
        "bandwidth",
        "azure",
    }
)


@dataclass(frozen=True, slots=True)
class Part:
    """The hand-written part (`--onprem FILE`): topology sections written as they are."""

    file: str
    doc: dict[str, Any]

    def networks(self) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for site, spec in (self.doc.get("sites") or {}).items():
            nets = (spec or {}).get("networks") or {}
            out[str(site)] = [(str(n), str(c)) for n, c in nets.items()]
        return out


def load_part(path: Path) -> Part:
    text = read_text(path, "hand-written topology part")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InventoryError(
            f"not YAML: {getattr(exc, 'problem', exc)}",
            location=Location(str(path), mark.line + 1, mark.column + 1) if mark else None,
        ) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InventoryError(
            "expected a mapping of topology sections (sites:, paths:, hosts:, ...)",
            location=Location(str(path)),
        )
    for key in doc:
        if key == "version":
            continue
        if key not in PART_KEYS:
            raise InventoryError(
                f"unknown section {key!r}; a hand-written part holds: {', '.join(sorted(PART_KEYS))}",
                location=Location(str(path)),
            )
    for key in ("sites", "hosts"):
        if key in doc and not isinstance(doc[key], dict | None):
            raise InventoryError(f"{key}: expected a mapping", location=Location(str(path)))
    return Part(str(path), doc)


@dataclass(frozen=True, slots=True)
class Composed:
    name: str
    part: Part | None
    sites: tuple[SiteDraft, ...]  # generated (Azure); the part's are written as they are
    hosts: tuple[HostDraft, ...]  # generated; the part's are written as they are
    sources: tuple[str, ...]  # the inputs, for the header

    @property
    def decided(self) -> list[HostDraft]:
        return [h for h in self.hosts if not h.todos]

    @property
    def todos(self) -> int:
        return sum(len(h.todos) for h in self.hosts)


def _site_networks(
    part: Part | None, sites: Sequence[SiteDraft]
) -> dict[str, list[tuple[str, str, str]]]:
    """site → [(network name, cidr, where it is declared)]."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    if part is not None:
        for site, nets in part.networks().items():
            out[site] = [(n, c, Path(part.file).name) for n, c in nets]
    for s in sites:
        out[s.name] = [(n.name, n.cidr, n.origin) for n in s.networks]
    return out


def _contains(cidr: str, address: str) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    return addr.version == net.version and addr in net


def _place(
    host: HostDraft, site_rules: Sequence[RoleRule], nets: dict[str, list[tuple[str, str, str]]]
) -> HostDraft:
    """Decide the site of a host that has none yet, then check every NIC is inside it."""
    if host.site is None and host.nics:
        chosen = [r for r in site_rules if r.pattern.matches(host)]
        if len({r.role for r in chosen}) > 1:
            return host.with_todo(f"--site patterns disagree: {', '.join(r.text for r in chosen)}")
        if chosen:
            host = replace(host, site=Sourced(chosen[0].role, f"--site {chosen[0].text}"))
        else:
            addr = host.nics[0].address
            hits = [
                (site, n, where)
                for site, lst in nets.items()
                for n, c, where in lst
                if _contains(c, addr)
            ]
            found = {h[0] for h in hits}
            if len(found) == 1:
                site, n, where = hits[0]
                host = replace(
                    host, site=Sourced(site, f"{addr} is in network {n} of site {site} ({where})")
                )
            elif not found:
                known = "; ".join(
                    f"{s}: {', '.join(c for _, c, _ in lst)}" for s, lst in nets.items()
                )
                return host.with_todo(
                    f"no site: {addr} is in no network of the sites ({known or 'none declared'}); "
                    "declare its network in the hand-written part, or give --site SITE=PATTERN"
                )
            else:
                return host.with_todo(
                    f"no site: {addr} is in networks of several sites ({', '.join(sorted(found))})"
                )
    if host.site is not None:
        site = str(host.site.value)
        if site not in nets:
            return host.with_todo(f"site {site!r} is not declared (sites: {', '.join(nets)})")
        for nic in host.nics:
            if not any(_contains(c, nic.address) for _, c, _ in nets[site]):
                host = host.with_todo(
                    f"NIC {nic.name} {nic.address} is outside the networks of site {site}"
                )
    return host


def compose(
    *,
    part: Part | None,
    sites: Sequence[SiteDraft] = (),
    hosts: Sequence[HostDraft] = (),
    role_rules: Sequence[RoleRule] = (),
    site_rules: Sequence[RoleRule] = (),
    group_rules: Sequence[RoleRule] = (),
    name: str | None = None,
    sources: Sequence[str] = (),
) -> Composed:
    """Roles, sites and TODOs for the generated hosts; clashes with the part are errors."""
    where: dict[str, str] = {}
    part_sites = set((part.doc.get("sites") or {}) if part else ())
    for s in sites:
        if s.name in part_sites:
            raise InventoryError(
                f"site {s.name!r} is both in the hand-written part and made from the Azure "
                "VNets; rename one (--azure-site NAME)",
                location=Location(part.file) if part else None,
            )
    if part is not None:
        for h in part.doc.get("hosts") or {}:
            where[str(h)] = f"the hand-written part {part.file}"
    nets = _site_networks(part, sites)
    out: list[HostDraft] = []
    for h in hosts:
        if h.name in where:
            raise InventoryError(
                f"host {h.name!r} is in {where[h.name]} and in {h.origin}; keep it in one"
            )
        where[h.name] = h.origin
        h = apply_replication_groups(apply_roles(h, role_rules), group_rules)
        h = _place(h, site_rules, nets)
        if not h.roles:
            h = h.with_todo(
                "no role: give it one with --role ROLE=PATTERN (a name glob or group:NAME)"
                " or an Azure tag (--role-tag)"
            )
        out.append(h)
    name = name or str((part.doc.get("name") if part else None) or "imported")
    return Composed(name, part, tuple(sites), tuple(out), tuple(sources))
