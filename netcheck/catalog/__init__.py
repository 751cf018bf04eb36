"""The documented ASR failback port matrix, shipped as package data and read into `Rule`s.

The catalog is data (asr_failback.yaml) so that a reviewer can check it against
the documentation line by line; this module only validates and types it, and
turns a topology's own rules into the same shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from importlib import resources

from netcheck.errors import ConfigError
from netcheck.topology.model import PortOverrides, Role, UserRule
from netcheck.yamlsource import Node, load_yaml_text

__all__ = [
    "AZURE_ENDPOINTS",
    "Catalog",
    "Evidence",
    "PortRef",
    "Rule",
    "Scope",
    "Target",
    "load_catalog",
]

AZURE_ENDPOINTS = "azure_endpoints"  # an external target, not a host role


class Evidence(enum.Enum):
    DOCUMENTED = "documented"
    INFERRED = "inferred"
    USER = "user"  # added by the topology's own rules


class Scope(enum.Enum):
    ANY = "any"
    SAME_SITE = "same_site"


class PortRef(enum.Enum):
    """Ports the documentation calls changeable; the topology may override them."""

    REPLICATION_DATA = "replication_data"
    VCENTER = "vcenter"


Target = Role | str  # a host role, or an external target such as AZURE_ENDPOINTS


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    flows: tuple[int, ...]
    sources: tuple[Role, ...]
    targets: tuple[Target, ...]
    proto: str
    port: int | PortRef
    phase: str
    evidence: Evidence
    doc: str
    hint: str
    errors: tuple[str, ...] = ()
    scope: Scope = Scope.ANY
    same_group: bool = False
    dest_os: str | None = None
    expect_reachable: bool = True
    source_host: str | None = None  # user rules may name hosts instead of roles
    dest_host: str | None = None

    def __post_init__(self) -> None:
        if self.proto not in ("tcp", "udp"):
            raise ValueError(f"rule {self.id}: proto {self.proto!r}")

    def port_for(self, ports: PortOverrides) -> tuple[int, int]:
        """(documented port after the topology's override, port actually probed)."""
        if self.port is PortRef.REPLICATION_DATA:
            documented = ports.replication_data
        elif self.port is PortRef.VCENTER:
            documented = ports.vcenter
        else:
            assert isinstance(self.port, int)
            documented = self.port
        return documented, ports.probed(documented)

    @classmethod
    def from_user(cls, rule: UserRule) -> Rule:
        return cls(
            id=rule.id,
            flows=(),
            sources=(rule.source_role,) if rule.source_role else (),
            targets=(rule.dest_role,) if rule.dest_role else (),
            proto=rule.proto,
            port=rule.port,
            phase=rule.phase,
            evidence=Evidence.USER,
            doc="topology rule",
            hint=rule.hint
            or (
                f"Allow {rule.proto.upper()} {rule.port} on this path."
                if rule.expect_reachable
                else f"Block {rule.proto.upper()} {rule.port} on this path: it must not be reachable."
            ),
            expect_reachable=rule.expect_reachable,
            source_host=rule.source_host,
            dest_host=rule.dest_host,
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    rules: tuple[Rule, ...]
    azure_endpoints: tuple[str, ...]
    azure_government_endpoints: tuple[str, ...]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


_ROLES = {r.value: r for r in Role}
_RULE_KEYS = frozenset(
    {
        "id",
        "flows",
        "from",
        "to",
        "proto",
        "port",
        "phase",
        "evidence",
        "doc",
        "hint",
        "errors",
        "scope",
        "when",
    }
)


def _targets(node: Node, allow_external: bool) -> tuple[Target, ...]:
    out: list[Target] = []
    for n in node.as_str_or_list():
        text = n.as_str()
        if text in _ROLES:
            out.append(_ROLES[text])
        elif allow_external and text == AZURE_ENDPOINTS:
            out.append(text)
        else:
            n.fail(f"unknown role {text!r}")
    return tuple(out)


def _parse_rule(node: Node) -> Rule:
    m = node.as_mapping(_RULE_KEYS)
    for key in ("id", "from", "to", "proto", "port", "phase", "evidence", "doc", "hint"):
        if key not in m:
            node.fail(f"a catalog rule needs {key!r}")
    port_node = m["port"]
    port: int | PortRef
    if isinstance(port_node.value, str):
        try:
            port = PortRef(port_node.value)
        except ValueError:
            port_node.fail("expected a port number, replication_data or vcenter")
    else:
        port = port_node.as_int(lo=1, hi=65535)
    same_group = False
    dest_os = None
    if "when" in m:
        when = m["when"]
        if when.value == "same_group":
            same_group = True
        else:
            wm = when.as_mapping({"dest_os", "same_group"})
            dest_os = wm["dest_os"].as_str() if "dest_os" in wm else None
            same_group = wm["same_group"].as_bool() if "same_group" in wm else False
    sources = _targets(m["from"], allow_external=False)
    return Rule(
        id=m["id"].as_str(),
        flows=tuple(f.as_int() for f in m["flows"].as_list()) if "flows" in m else (),
        sources=tuple(s for s in sources if isinstance(s, Role)),
        targets=_targets(m["to"], allow_external=True),
        proto=m["proto"].as_str(),
        port=port,
        phase=m["phase"].as_str(),
        evidence=Evidence(m["evidence"].as_str()),
        doc=m["doc"].as_str(),
        hint=" ".join(m["hint"].as_str().split()),
        errors=tuple(e.as_str() for e in m["errors"].as_list()) if "errors" in m else (),
        scope=Scope(m["scope"].as_str()) if "scope" in m else Scope.ANY,
        same_group=same_group,
        dest_os=dest_os,
    )


def parse_catalog(root: Node) -> Catalog:
    top = root.as_mapping({"version", "rules", "azure_endpoints"})
    rules = tuple(_parse_rule(n) for n in top["rules"].as_list())
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        root.fail(f"duplicate rule ids: {', '.join(sorted(dupes))}")
    endpoints = top["azure_endpoints"].as_mapping({"public", "government"})
    return Catalog(
        rules=rules,
        azure_endpoints=tuple(n.as_str() for n in endpoints["public"].as_list()),
        azure_government_endpoints=tuple(n.as_str() for n in endpoints["government"].as_list()),
    )


def load_catalog() -> Catalog:
    """The catalog shipped with this netcheck."""
    ref = resources.files("netcheck.catalog").joinpath("asr_failback.yaml")
    text = ref.read_text(encoding="utf-8")
    try:
        return parse_catalog(load_yaml_text(text, "netcheck/catalog/asr_failback.yaml"))
    except ConfigError as exc:  # a packaging bug, not user input
        raise RuntimeError(f"the shipped catalog is invalid: {exc}") from exc
