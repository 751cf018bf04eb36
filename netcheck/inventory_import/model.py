"""What `netcheck init` gathers before it writes: drafts of sites and hosts.

Every value carries `origin`, the text of the comment that says where it came
from (a file and JSON path, a tag, a `--role` pattern). A draft that could not be
decided carries `todos`: it is written commented out, with a `TODO:` line per
reason, and `init` exits 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from netcheck.errors import UsageError
from netcheck.hostpattern import HostPattern, parse_pattern
from netcheck.topology.model import Role

__all__ = [
    "AgentField",
    "HostDraft",
    "NetworkDraft",
    "NicDraft",
    "RoleRule",
    "SiteDraft",
    "Sourced",
    "apply_replication_groups",
    "apply_roles",
    "parse_role_rule",
]

ROLE_NAMES = tuple(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class Sourced:
    """A value and where it came from."""

    value: object
    origin: str


@dataclass(frozen=True, slots=True)
class NetworkDraft:
    name: str
    cidr: str
    origin: str


@dataclass(frozen=True, slots=True)
class SiteDraft:
    name: str
    networks: tuple[NetworkDraft, ...]
    origin: str


@dataclass(frozen=True, slots=True)
class NicDraft:
    name: str
    address: str
    origin: str
    site: str | None = None  # the site its subnet belongs to (Azure); None: by address


AgentField = tuple[str, Sourced]


@dataclass(frozen=True, slots=True)
class HostDraft:
    name: str
    origin: str
    nics: tuple[NicDraft, ...]
    site: Sourced | None = None
    roles: tuple[Sourced, ...] = ()  # each value a role name
    os: Sourced | None = None
    agent: tuple[AgentField, ...] = ()  # ("user", Sourced("azureuser", "...")), ...
    notes: tuple[str, ...] = ()  # comments written above the host
    todos: tuple[str, ...] = ()
    # what `--role`/`--site` patterns match as group:NAME: Ansible groups, Azure resource group
    groups: tuple[str, ...] = ()
    replication: tuple[Sourced, ...] = ()  # the topology's `groups:` (replication groups)

    def values(self, key: str) -> Iterable[str]:
        if key == "group":
            return self.groups
        if key == "role":
            return [str(r.value) for r in self.roles]
        if key == "site":
            return [str(self.site.value)] if self.site else []
        return []

    def with_todo(self, reason: str) -> HostDraft:
        return replace(self, todos=(*self.todos, reason))


@dataclass(frozen=True, slots=True)
class RoleRule:
    """`--role ROLE=PATTERN`: hosts matching the pattern get the role."""

    role: str
    pattern: HostPattern
    text: str = field(default="")


def parse_role_rule(text: str, option: str = "--role") -> RoleRule:
    role, sep, pattern = text.partition("=")
    role = role.strip()
    if not sep or not pattern.strip():
        raise UsageError(f"{option} {text!r}: expected ROLE=PATTERN, e.g. process_server='ps-*'")
    if not role or any(c.isspace() for c in role):
        raise UsageError(f"{option} {text!r}: {role!r} is not a name")
    if option == "--role" and role not in ROLE_NAMES:
        raise UsageError(
            f"{option} {text!r}: unknown role {role!r}; roles: {', '.join(ROLE_NAMES)}"
        )
    return RoleRule(role, parse_pattern(pattern), text)


def apply_replication_groups(host: HostDraft, rules: Sequence[RoleRule]) -> HostDraft:
    """`--replication-group NAME=PATTERN`: matching hosts join replication group NAME."""
    have = [str(g.value) for g in host.replication]
    added = list(host.replication)
    for rule in rules:
        if rule.role not in have and rule.pattern.matches(host):
            added.append(Sourced(rule.role, f"--replication-group {rule.role}={rule.pattern.text}"))
            have.append(rule.role)
    return replace(host, replication=tuple(added))


def apply_roles(host: HostDraft, rules: Sequence[RoleRule]) -> HostDraft:
    """Add the roles of every matching rule (a host may carry several)."""
    have = {str(r.value) for r in host.roles}
    added = list(host.roles)
    for rule in rules:
        if rule.role not in have and rule.pattern.matches(host):
            added.append(Sourced(rule.role, f"--role {rule.role}={rule.pattern.text}"))
            have.add(rule.role)
    return replace(host, roles=tuple(added))
