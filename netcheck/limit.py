"""`--limit PATTERN`: narrow a plan to the cells whose source or destination matches.

The pattern language is `netcheck.hostpattern` (Ansible's); here it meets the
topology: `role:` is a host's roles, `site:` its site, `group:` its `groups:`
(the replication groups). The plan records the limit, so the reports, the store
and `diff` can tell a limited sweep from a complete one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from netcheck.errors import UsageError
from netcheck.hostpattern import HostPattern, parse_pattern
from netcheck.plan import Limit, Plan
from netcheck.topology.model import Host, Topology

__all__ = ["HostSubject", "limit_plan", "matching_hosts"]


@dataclass(frozen=True, slots=True)
class HostSubject:
    """A topology host as a pattern sees it."""

    host: Host

    @property
    def name(self) -> str:
        return self.host.name

    def values(self, key: str) -> Iterable[str]:
        if key == "role":
            return [r.value for r in self.host.roles]
        if key == "site":
            return [self.host.site]
        if key == "group":
            return list(self.host.groups)
        return []


def matching_hosts(topo: Topology, pattern: HostPattern) -> set[str]:
    """The hosts `pattern` selects; a pattern that selects none is a usage error."""
    names = set(pattern.select(HostSubject(h) for h in topo.hosts))
    if not names:
        raise UsageError(
            f"--limit {pattern.text!r} matches no host of {topo.source}; hosts: "
            f"{', '.join(h.name for h in topo.hosts)}"
        )
    return names


def limit_plan(plan: Plan, text: str) -> Plan:
    """The plan with only the cells whose source or destination host matches `text`.

    Bandwidth tests are kept when either end matches, like cells.
    """
    topo = plan.topology
    names = matching_hosts(topo, parse_pattern(text))
    specs = tuple(s for s in plan.specs if s.source_host in names or s.dest_host in names)
    bandwidth = tuple(b for b in topo.bandwidth if b.source in names or b.dest in names)
    return replace(
        plan,
        topology=replace(topo, bandwidth=bandwidth) if bandwidth != topo.bandwidth else topo,
        specs=specs,
        skipped=tuple(s for s in plan.skipped if s.source_host is None or s.source_host in names),
        limit=Limit(pattern=text.strip(), total_cells=len(plan.specs)),
    )
