"""Topology format v1: the user's description of the failback site."""

from __future__ import annotations

from netcheck.topology.loader import load_topology, load_topology_text, parse_topology
from netcheck.topology.model import (
    AgentSpec,
    Host,
    IPAddress,
    IPNetwork,
    Nic,
    Path,
    PathExpect,
    PathKind,
    PortOverrides,
    Role,
    Site,
    SweepSettings,
    Topology,
    Transport,
    UserRule,
)

__all__ = [
    "AgentSpec",
    "Host",
    "IPAddress",
    "IPNetwork",
    "Nic",
    "Path",
    "PathExpect",
    "PathKind",
    "PortOverrides",
    "Role",
    "Site",
    "SweepSettings",
    "Topology",
    "Transport",
    "UserRule",
    "load_topology",
    "load_topology_text",
    "parse_topology",
]
