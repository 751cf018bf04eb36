"""The topology as typed, frozen values: sites, networks, paths, hosts and their NICs.

Nothing here reads files or touches the network; `loader.py` builds these from
YAML and is the only place that reports positions.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field

from netcheck_agent.bounds import SWEEP as SWEEP_BOUNDS

from netcheck.peertext import has_control
from netcheck.topology.bandwidth import BandwidthCheck
from netcheck.topology.inventory import FailbackSettings, HostInventory
from netcheck.topology.services import AzureSettings, TlsHint

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = [
    "PYTHON_FORBIDDEN",
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
    "python_problem",
]


class Role(enum.Enum):
    """What a machine does in the ASR failback (the catalog's rules are keyed by role)."""

    CONFIG_SERVER = "config_server"
    PROCESS_SERVER = "process_server"
    MASTER_TARGET = "master_target"
    PROTECTED_VM = "protected_vm"
    SOURCE_MACHINE = "source_machine"
    VCENTER = "vcenter"
    ESXI = "esxi"
    DNS_SERVER = "dns_server"
    NTP_SERVER = "ntp_server"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.CONFIG_SERVER: "configuration server",
    Role.PROCESS_SERVER: "process server",
    Role.MASTER_TARGET: "master target",
    Role.PROTECTED_VM: "protected VM",
    Role.SOURCE_MACHINE: "source machine",
    Role.VCENTER: "vCenter",
    Role.ESXI: "ESXi host",
    Role.DNS_SERVER: "DNS server",
    Role.NTP_SERVER: "NTP server",
}


class PathKind(enum.Enum):
    VPN = "vpn"
    EXPRESSROUTE = "expressroute"


class Transport(enum.Enum):
    """How the coordinator gets an agent onto a host."""

    LOCAL = "local"  # in-process on the coordinator's machine
    SSH = "ssh"
    NONE = "none"  # a target only; nothing runs there


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    networks: tuple[tuple[str, IPNetwork], ...]

    def network_of(self, address: IPAddress) -> str | None:
        for name, net in self.networks:
            if address.version == net.version and address in net:
                return name
        return None


@dataclass(frozen=True, slots=True)
class PathExpect:
    mtu: int | None = None
    min_mbps: float | None = None
    max_rtt_ms: float | None = None
    max_loss_pct: float | None = None


@dataclass(frozen=True, slots=True)
class Path:
    """A site-to-site VPN or ExpressRoute private peering between two sites."""

    name: str
    kind: PathKind
    sites: tuple[str, str]
    gateways: tuple[IPAddress, ...] = ()
    expect: PathExpect = PathExpect()
    # parallel to gateways when they were given names; a router with an address per
    # side repeats its name
    gateway_names: tuple[str, ...] = ()

    def joins(self, a: str, b: str) -> bool:
        return {a, b} == set(self.sites)

    def gateway_name(self, index: int) -> str | None:
        return self.gateway_names[index] if index < len(self.gateway_names) else None


@dataclass(frozen=True, slots=True)
class Nic:
    """One network interface of a host; `faces` lists the sites it serves."""

    name: str
    address: IPAddress
    faces: tuple[str, ...] = ()


# characters no interpreter path or command name needs, and that some shell would
# act on (the SSH transport quotes anyway: netcheck.transports.remote_shell)
PYTHON_FORBIDDEN = frozenset("\"%!$`;&|<>*?'^\n\r\t")


def python_problem(python: str) -> str | None:
    """Why `python` is not an interpreter path or command name, or None if it is."""
    if not python.strip():
        return "is empty"
    if python != python.strip():
        return "has leading or trailing spaces"
    if python.startswith("-"):
        return "starts with '-'"
    if has_control(python):
        return "contains a control character"
    bad = sorted({c for c in python if c in PYTHON_FORBIDDEN})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        return f"contains {shown}, which a shell would interpret"
    return None


@dataclass(frozen=True, slots=True)
class AgentSpec:
    transport: Transport
    user: str | None = None
    port: int = 22
    python: str = "python3"
    ssh_address: IPAddress | str | None = None  # default: the host's first NIC
    responders: bool = True  # may this agent open responders on the host's ports?
    identity: str | None = None  # this host's SSH private key, tried before -i/--identity

    @property
    def runs(self) -> bool:
        return self.transport is not Transport.NONE


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    site: str
    roles: tuple[Role, ...]
    nics: tuple[Nic, ...]
    agent: AgentSpec
    groups: tuple[str, ...] = ()  # replication (multi-VM consistency) groups
    os: str | None = None  # "windows" | "linux": picks push-install ports
    inventory: HostInventory = field(
        default_factory=HostInventory
    )  # declared facts for the readiness checks
    tls: TlsHint | None = None  # real HTTPS services: probe their ports with a TLS handshake
    dns_query: str | None = None  # a dns_server's `dns: {query: NAME}`

    def __post_init__(self) -> None:
        if not self.nics:
            raise ValueError(f"host {self.name} has no NIC")

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def nic_facing(self, site: str) -> Nic:
        """The NIC-selection rule of DESIGN.md: the NIC that faces `site`, else the first.

        A NIC with no `faces` faces its own host's site.
        """
        for nic in self.nics:
            faces = nic.faces or (self.site,)
            if site in faces:
                return nic
        return self.nics[0]

    def nic(self, name: str) -> Nic:
        for nic in self.nics:
            if nic.name == name:
                return nic
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class PortOverrides:
    """The catalog's changeable ports, and demo remaps of documented ports."""

    replication_data: int = 9443
    vcenter: int = 443
    # documented port -> port actually probed (for labs and demos that cannot bind
    # privileged ports); the report shows both.
    remap: tuple[tuple[int, int], ...] = ()

    def probed(self, documented: int) -> int:
        for src, dst in self.remap:
            if src == documented:
                return dst
        return documented


@dataclass(frozen=True, slots=True)
class UserRule:
    """A rule the user adds next to the catalog, possibly negative (must NOT reach)."""

    id: str
    source_role: Role | None
    source_host: str | None
    dest_role: Role | None
    dest_host: str | None
    proto: str
    port: int
    expect_reachable: bool
    hint: str
    phase: str = "user"


@dataclass(frozen=True, slots=True)
class SweepSettings:
    """How hard to probe each cell; the topology's `sweep:` section, CLI flags win."""

    samples: int = 3
    interval_ms: int = 200
    timeout_ms: int = 1500
    concurrency: int = 4096  # probe attempts in flight per agent, at most (see loader)

    def __post_init__(self) -> None:
        for bound in SWEEP_BOUNDS:  # the ranges the agent enforces on the wire too
            why = bound.problem(getattr(self, bound.name))
            if why is not None:
                raise ValueError(f"{bound.name}: {why}")


@dataclass(frozen=True, slots=True)
class Topology:
    version: int
    name: str
    source: str  # the file it was loaded from
    ports: PortOverrides
    sites: tuple[Site, ...]
    paths: tuple[Path, ...]
    hosts: tuple[Host, ...]
    rules: tuple[UserRule, ...] = ()
    disabled_rules: tuple[str, ...] = ()
    sweep: SweepSettings = SweepSettings()
    # demo only: loopback (address, port) pairs made silent (see netcheck.demo)
    demo_silent_ports: tuple[tuple[str, int], ...] = ()
    failback: FailbackSettings = field(
        default_factory=FailbackSettings
    )  # replication groups -> MT, policy
    bandwidth: tuple[BandwidthCheck, ...] = ()  # throughput tests a sweep runs after the probes
    azure: AzureSettings = field(
        default_factory=AzureSettings
    )  # endpoints, proxy, resolver for the Azure URL checks
    _host_index: dict[str, Host] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._host_index.update({h.name: h for h in self.hosts})

    def host(self, name: str) -> Host:
        return self._host_index[name]

    def find_host(self, name: str) -> Host | None:
        """The host called `name`, or None (a cell's destination may be an Azure endpoint)."""
        return self._host_index.get(name)

    def site(self, name: str) -> Site:
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)

    def hosts_with(self, role: Role) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if role in h.roles)

    def path_between(self, a: str, b: str) -> Path | None:
        """The declared path joining two sites (the first one declared wins)."""
        if a == b:
            return None
        for p in self.paths:
            if p.joins(a, b):
                return p
        return None
