"""Topology format v1: YAML → validated, frozen `Topology`.

Every problem is reported with file:line:column, the dotted field, what was
found and what was expected. Problems that do not depend on each other are
collected, so a user fixes a file in one round, not ten.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path as FsPath
from typing import TypeVar

from netcheck_agent.bounds import CONCURRENCY, INTERVAL_MS, SAMPLES, TIMEOUT_MS
from netcheck_agent.bounds import SWEEP as SWEEP_BOUNDS

from netcheck.errors import ConfigError, ErrorCollector
from netcheck.peertext import has_control
from netcheck.topology.bandwidth import parse_bandwidth
from netcheck.topology.declare import (
    ADDRESS,
    BOOL,
    NAME,
    NETWORK,
    NUMBER,
    PORT,
    STRING,
    Key,
    ListOf,
    MapOf,
    OneOf,
    Ref,
    Scalar,
    Section,
    anycase,
    default_of,
    in_range,
)
from netcheck.topology.inventory import (
    FailbackSettings,
    HostInventory,
    parse_failback,
    parse_inventory,
    reference_errors,
)
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
    python_problem,
)
from netcheck.topology.services import AzureSettings, parse_azure, parse_dns_query, parse_tls_hint
from netcheck.yamlsource import Node, load_yaml_file, load_yaml_text

__all__ = ["load_topology", "load_topology_text", "parse_topology"]

T = TypeVar("T")

_ROLE_VALUES = tuple(r.value for r in Role)
_TOP = Section(
    "topology",
    "The document: what the site looks like and how to sweep it.",
    (
        Key(
            "version",
            Scalar("integer", enum=(1,)),
            "The format version; this netcheck reads 1.",
            required=True,
        ),
        Key(
            "name", NAME, "The topology's name, shown in reports and stored sweeps.", required=True
        ),
        Key("ports", Ref("ports"), "The catalog's changeable ports, and demo remaps."),
        Key(
            "sites",
            MapOf(Ref("site"), key_pattern=NAME.pattern),
            "The sites (on-premises, Azure) and their networks.",
            required=True,
        ),
        Key("paths", MapOf(Ref("path")), "The VPNs and ExpressRoute peerings between two sites."),
        Key(
            "hosts",
            MapOf(Ref("host"), key_pattern=NAME.pattern),
            "The machines, by name.",
            required=True,
        ),
        Key(
            "rules", ListOf(Ref("rule")), "Your own rules next to the catalog's, possibly negative."
        ),
        Key("disable_rules", ListOf(STRING), "Catalog rule ids not to check."),
        Key("defaults", Ref("defaults"), "Defaults every host inherits."),
        Key("sweep", Ref("sweep"), "How hard to probe each cell (command-line flags win)."),
        Key("demo", Ref("demo"), "Loopback demo devices."),
        Key(
            "failback",
            Ref("failback"),
            "Replication groups and the failback policy, for readiness.",
        ),
        Key("bandwidth", ListOf(Ref("bandwidth")), "Throughput tests between two hosts' agents."),
        Key(
            "azure",
            Ref("azure"),
            "The Azure side: cloud, storage account, proxy, resolver, NSG exports.",
        ),
    ),
)
_TOP_KEYS = _TOP.keys
_ROLE_NAMES = {r.value: r for r in Role}

# Port 20004 (multi-VM consistency) is probed between every two VMs of a replication
# group, a full mesh: the docs say the group's VMs talk to each other, and any pair
# that can't breaks the group's consistency. A group of N gives N*(N-1) cells; ASR
# groups hold a few dozen VMs at most, so a larger one is a mistake in the file,
# refused here before the plan grows quadratically (docs/robustness.md).
MAX_GROUP_MEMBERS = 64


def _address(node: Node) -> IPAddress:
    text = node.as_str() if not isinstance(node.value, int) else str(node.value)
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        node.fail(f"{text!r} is not an IP address; expected e.g. 198.18.2.10 or 2001:db8::10")
    # not one machine: a responder bound to 0.0.0.0 would listen on every interface
    if address.is_unspecified:
        node.fail(f"{address} is the unspecified address, not a host; give the host's own address")
    if address.is_multicast:
        node.fail(f"{address} is a multicast address, not a host")
    if address == ipaddress.IPv4Address("255.255.255.255"):
        node.fail(f"{address} is the broadcast address, not a host")
    return address


def _network(node: Node) -> IPNetwork:
    text = node.as_str()
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            net = ipaddress.ip_network(text.strip(), strict=False)
            node.fail(f"{text!r} has host bits set; did you mean {net}?")
        node.fail(f"{text!r} is not a network in CIDR form; expected e.g. 198.18.2.0/24")


def _port(node: Node) -> int:
    return node.as_int(lo=1, hi=65535)


def _name(node: Node, what: str) -> str:
    text = node.as_str()
    if not text or any(c.isspace() for c in text) or "|" in text or has_control(text):
        node.fail(f"{text!r} is not a valid {what} name (no spaces, control characters or '|')")
    return text


def _python(node: Node) -> str:
    """`agent.python`: an interpreter path or command name, never shell text."""
    text = node.as_str()
    problem = python_problem(text)
    if problem is not None:
        node.fail(
            f"{text!r} {problem}; expected the path of a Python 3.9+ interpreter or a command "
            "name, e.g. python3, /opt/py/bin/python3 or C:\\Python311\\python.exe"
        )
    return text


# --- sections --------------------------------------------------------------


_PORTS = Section(
    "ports",
    "The catalog's changeable ports, and remaps of documented ports for labs and demos.",
    (
        Key(
            "replication_data",
            PORT,
            "The process server's replication data port.",
            default=default_of(PortOverrides, "replication_data"),
        ),
        Key("vcenter", PORT, "vCenter's HTTPS port.", default=default_of(PortOverrides, "vcenter")),
        Key(
            "remap",
            MapOf(PORT, key_label="PORT", key_pattern=r"^[0-9]+$"),
            "Documented port → port actually probed (for labs and demos that cannot bind privileged ports); reports show both.",
        ),
    ),
)


def _parse_ports(node: Node) -> PortOverrides:
    m = node.as_mapping(_PORTS.keys)
    remap: list[tuple[int, int]] = []
    if "remap" in m:
        keys: dict[int, str] = {}
        targets: dict[int, int] = {}
        for key, val in m["remap"].items():
            try:
                documented = int(key)
            except ValueError:
                val.fail(f"remap key {key!r} is not a port number")
            if not 1 <= documented <= 65535:
                val.fail(f"remap key {documented} is out of range 1..65535")
            where = Node(key, val.key_location or val.location, val.field)
            if documented in keys:  # 443 and 0443 are one port
                where.fail(
                    f"remap key {key!r} is port {documented} again (as {keys[documented]!r})"
                )
            probed = _port(val)
            if probed in targets:
                val.fail(
                    f"ports {targets[probed]} and {documented} are both remapped to {probed}; "
                    "each documented port needs a port of its own"
                )
            keys[documented] = key
            targets[probed] = documented
            remap.append((documented, probed))
    return PortOverrides(
        replication_data=_port(m["replication_data"]) if "replication_data" in m else 9443,
        vcenter=_port(m["vcenter"]) if "vcenter" in m else 443,
        remap=tuple(remap),
    )


_SITE = Section(
    "site",
    "A place the machines live in: on-premises, an Azure VNet.",
    (
        Key(
            "networks",
            MapOf(NETWORK, min_items=1),
            "The site's networks, by name: `{lan: 198.18.2.0/24}`. Every NIC address of the site's hosts lies in one.",
            required=True,
        ),
    ),
)


def _parse_site(name: str, node: Node) -> Site:
    m = node.as_mapping(_SITE.keys)
    if "networks" not in m:
        node.fail("a site needs 'networks': {name: CIDR, ...}")
    nets = tuple((net_name, _network(net_node)) for net_name, net_node in m["networks"].items())
    if not nets:
        m["networks"].fail("a site needs at least one network")
    return Site(name=_name(node_with(node, name), "site"), networks=nets)


def node_with(node: Node, text: str) -> Node:
    return Node(text, node.location, node.field)


_EXPECT = Section(
    "expect",
    "What the path should deliver; the diagnostics flag a measurement that falls short.",
    (
        Key(
            "mtu",
            in_range(576, 9216),
            "The path MTU the tunnel should carry.",
            default_doc="not checked",
        ),
        Key("min_mbps", NUMBER, "The least throughput, in Mbit/s.", default_doc="not checked"),
        Key("max_rtt_ms", NUMBER, "The longest round-trip time, in ms.", default_doc="not checked"),
        Key("max_loss_pct", NUMBER, "The most packet loss, in percent.", default_doc="not checked"),
    ),
)


def _parse_expect(node: Node) -> PathExpect:
    m = node.as_mapping(_EXPECT.keys)
    return PathExpect(
        mtu=m["mtu"].as_int(lo=576, hi=9216) if "mtu" in m else None,
        min_mbps=m["min_mbps"].as_number(lo=0) if "min_mbps" in m else None,
        max_rtt_ms=m["max_rtt_ms"].as_number(lo=0) if "max_rtt_ms" in m else None,
        max_loss_pct=m["max_loss_pct"].as_number(lo=0) if "max_loss_pct" in m else None,
    )


_PATH = Section(
    "path",
    "A site-to-site VPN or an ExpressRoute private peering between two sites.",
    (
        Key(
            "kind",
            Scalar("string", enum=tuple(k.value for k in PathKind)),
            "What joins the sites.",
            required=True,
        ),
        Key(
            "sites",
            ListOf(STRING, min_items=2, max_items=2),
            "The two sites the path joins.",
            required=True,
        ),
        Key(
            "gateways",
            OneOf((ListOf(ADDRESS), MapOf(OneOf((ADDRESS, ListOf(ADDRESS)))))),
            "The routers along the path: a list of addresses, or name → address (or a list: a router answers a trace from the address facing the prober). Names show in the diagnostics.",
        ),
        Key("expect", Ref("expect"), "What the path should deliver."),
    ),
)


def _parse_path(name: str, node: Node, site_names: set[str]) -> Path:
    m = node.as_mapping(_PATH.keys)
    for key in _PATH.required:
        if key not in m:
            node.fail(f"a path needs {key!r}")
    kind_text = m["kind"].as_str()
    try:
        kind = PathKind(kind_text)
    except ValueError:
        m["kind"].fail(f"unknown path kind {kind_text!r}; expected vpn or expressroute")
    sites = m["sites"].as_list()
    if len(sites) != 2:
        m["sites"].fail(f"a path joins exactly two sites, found {len(sites)}")
    pair = []
    for s in sites:
        site = s.as_str()
        if site not in site_names:
            s.fail(f"unknown site {site!r}; declared sites: {', '.join(sorted(site_names))}")
        pair.append(site)
    if pair[0] == pair[1]:
        m["sites"].fail("a path joins two different sites")
    gateways: tuple[IPAddress, ...] = ()
    names: tuple[str, ...] = ()
    if "gateways" in m:
        # a list of addresses, or a mapping name -> address or list of addresses (a
        # router answers a trace from the address facing the prober: one per side);
        # the names show in the diagnostics
        if isinstance(m["gateways"].value, dict):
            addrs: list[IPAddress] = []
            labels: list[str] = []
            for gw_name, g in m["gateways"].items():
                for one in g.as_list() if isinstance(g.value, list) else [g]:
                    addrs.append(_address(one))
                    labels.append(gw_name)
            gateways, names = tuple(addrs), tuple(labels)
        else:
            gateways = tuple(_address(g) for g in m["gateways"].as_list())
    expect = _parse_expect(m["expect"]) if "expect" in m else PathExpect()
    return Path(
        name=name,
        kind=kind,
        sites=(pair[0], pair[1]),
        gateways=gateways,
        expect=expect,
        gateway_names=names,
    )


_AGENT = Section(
    "agent",
    "How the coordinator gets an agent onto the host. `agent: none` is short for `{transport: none}`.",
    (
        Key(
            "transport",
            Scalar("string", enum=tuple(t.value for t in Transport)),
            "`ssh`: over SSH; `local`: in-process on the coordinator's machine; `none`: a target only, nothing runs there.",
            default=Transport.SSH.value,
        ),
        Key(
            "user",
            STRING,
            "The SSH user.",
            default_doc="SSH's own default (your user, `~/.ssh/config`)",
        ),
        Key("port", PORT, "The SSH port.", default=default_of(AgentSpec, "port")),
        Key(
            "python",
            STRING,
            "The Python (3.9 or later) to run the agent with on the host.",
            default=default_of(AgentSpec, "python"),
        ),
        Key(
            "address",
            STRING,
            "The address or DNS name to SSH to.",
            default_doc="the host's first NIC",
        ),
        Key(
            "responders",
            BOOL,
            "May the agent open responders on the host's ports (to prove a cell where no real service listens)?",
            default=default_of(AgentSpec, "responders"),
        ),
        Key(
            "identity",
            STRING,
            "This host's SSH private key file, tried before `-i/--identity`.",
            default_doc="`-i`, then SSH's own keys",
        ),
    ),
)
_AGENT_KEYS = _AGENT.keys
_DEFAULTS = Section(
    "defaults",
    "Defaults every host inherits; a host's own `agent:` keys win.",
    (Key("agent", Ref("agent"), "Agent settings for every host."),),
)


def _parse_agent(node: Node | None, defaults: dict[str, Node]) -> AgentSpec:
    fields: dict[str, Node] = dict(defaults)
    if node is not None:
        if isinstance(node.value, str):
            fields = dict(defaults)
            fields["transport"] = node
        else:
            fields.update(node.as_mapping(_AGENT_KEYS))
    transport = Transport.SSH
    if "transport" in fields:
        t = fields["transport"].as_str()
        try:
            transport = Transport(t)
        except ValueError:
            fields["transport"].fail(f"unknown agent transport {t!r}; expected local, ssh or none")
    ssh_address: IPAddress | str | None = None
    if "address" in fields:
        text = fields["address"].as_str()
        try:
            ssh_address = ipaddress.ip_address(text)
        except ValueError:
            ssh_address = text  # a DNS name is fine for SSH
    return AgentSpec(
        transport=transport,
        user=fields["user"].as_str() if "user" in fields else None,
        port=_port(fields["port"]) if "port" in fields else 22,
        python=_python(fields["python"]) if "python" in fields else "python3",
        ssh_address=ssh_address,
        responders=fields["responders"].as_bool() if "responders" in fields else True,
        identity=fields["identity"].as_str() if "identity" in fields else None,
    )


_HOST = Section(
    "host",
    "A machine of the failback. Give it `address` (one NIC) or `nics`.",
    (
        Key("site", STRING, "The site it is in (a key of `sites`).", required=True),
        Key(
            "roles",
            OneOf(
                (Scalar("string", enum=_ROLE_VALUES), ListOf(Scalar("string", enum=_ROLE_VALUES)))
            ),
            "What it does in the failback: one role or a list. The catalog's rules are keyed by role.",
            required=True,
        ),
        Key(
            "nics",
            MapOf(Ref("nic"), min_items=1),
            "Its network interfaces, by name, when it has several.",
        ),
        Key("address", ADDRESS, "Its address, when it has one NIC (named `nic0`)."),
        Key(
            "agent",
            OneOf((Scalar("string", enum=tuple(t.value for t in Transport)), Ref("agent"))),
            "How an agent gets onto it (or just the transport).",
            default_doc="`defaults.agent`, else ssh",
        ),
        Key(
            "groups",
            OneOf((STRING, ListOf(STRING))),
            "Its replication (multi-VM consistency) groups.",
        ),
        Key(
            "os",
            Scalar("string", pattern=anycase("windows", "linux"), examples=("windows", "linux")),
            "`windows` or `linux`: picks the push-install ports.",
        ),
        Key(
            "inventory",
            Ref("inventory"),
            "Facts about the machine for the readiness checks; the keys allowed depend on its roles.",
        ),
        Key(
            "tls",
            OneOf((BOOL, Ref("tls"))),
            "Real HTTPS services run here: probe their ports with a TLS handshake. `true` probes 443, vCenter and the replication data port.",
            default=False,
        ),
        Key("dns", Ref("dns"), "The query the DNS probes ask this resolver (a dns_server host)."),
    ),
    one_of_required=(("address", "nics"),),
    exclusive=(("address", "nics"),),
)
_HOST_KEYS = _HOST.keys
_NIC = Section(
    "nic",
    "One network interface of a host.",
    (
        Key(
            "address",
            ADDRESS,
            "Its address; it lies in a network of the host's site.",
            required=True,
        ),
        Key(
            "faces",
            OneOf((STRING, ListOf(STRING))),
            "The sites this NIC serves (the NIC other hosts of those sites reach).",
            default_doc="the host's own site",
        ),
    ),
)


def _address_nodes(host: dict[str, Node]) -> list[Node]:
    """The YAML node of each NIC's address, in NIC order (for error positions)."""
    if "nics" not in host:
        return [host["address"]]
    return [n.as_mapping()["address"] for n in host["nics"].as_mapping().values()]


def _parse_host(
    name: str, node: Node, sites: dict[str, Site], agent_defaults: dict[str, Node]
) -> Host:
    m = node.as_mapping(_HOST_KEYS)
    if "site" not in m:
        node.fail("a host needs 'site'")
    site_name = m["site"].as_str()
    if site_name not in sites:
        m["site"].fail(f"unknown site {site_name!r}; declared sites: {', '.join(sorted(sites))}")
    site = sites[site_name]
    if "roles" not in m:
        node.fail(f"a host needs 'roles'; expected some of: {', '.join(_ROLE_NAMES)}")
    if m["roles"].value == []:
        m["roles"].fail(
            f"a host needs at least one role; expected some of: {', '.join(_ROLE_NAMES)}"
        )
    roles = []
    for r in m["roles"].as_str_or_list():
        text = r.as_str()
        if text not in _ROLE_NAMES:
            r.fail(f"unknown role {text!r}; expected one of: {', '.join(_ROLE_NAMES)}")
        roles.append(_ROLE_NAMES[text])
    if "nics" in m and "address" in m:
        m["address"].fail("give either 'address' (one NIC) or 'nics', not both")
    nics: list[Nic] = []
    if "address" in m:
        nics.append(Nic(name="nic0", address=_address(m["address"])))
    elif "nics" in m:
        for nic_name, nic_node in m["nics"].items():
            nm = nic_node.as_mapping(_NIC.keys)
            if "address" not in nm:
                nic_node.fail("a NIC needs 'address'")
            faces = []
            for f in nm["faces"].as_str_or_list() if "faces" in nm else []:
                face = f.as_str()
                if face not in sites:
                    f.fail(f"unknown site {face!r}; declared sites: {', '.join(sorted(sites))}")
                faces.append(face)
            nics.append(Nic(name=nic_name, address=_address(nm["address"]), faces=tuple(faces)))
        if not nics:
            m["nics"].fail("a host needs at least one NIC")
    else:
        node.fail("a host needs 'address' or 'nics'")
    seen: dict[IPAddress, str] = {}
    for nic, where in zip(nics, _address_nodes(m), strict=True):
        net_name = site.network_of(nic.address)
        if net_name is None:
            nets = ", ".join(f"{n} {c}" for n, c in site.networks)
            where.fail(f"{nic.address} is outside the networks of site {site_name!r} ({nets})")
        net = dict(site.networks)[net_name]
        if net.version == 4 and net.prefixlen < 31 and nic.address == net.broadcast_address:
            where.fail(f"{nic.address} is the broadcast address of {net_name} {net}, not a host")
        if nic.address in seen:
            where.fail(f"NICs {seen[nic.address]!r} and {nic.name!r} share address {nic.address}")
        seen[nic.address] = nic.name
    groups = tuple(g.as_str() for g in m["groups"].as_str_or_list()) if "groups" in m else ()
    os_name = None
    if "os" in m:
        os_name = m["os"].as_str().lower()
        if os_name not in ("windows", "linux"):
            m["os"].fail(f"unknown os {os_name!r}; expected windows or linux")
    inventory = HostInventory()
    if "inventory" in m:  # netcheck.topology.inventory: keys depend on the roles
        inventory = parse_inventory(m["inventory"], tuple(r.value for r in roles))
    if "dns" in m and Role.DNS_SERVER not in roles:
        m["dns"].fail("'dns:' names the query of a resolver; this host has no dns_server role")
    return Host(
        name=name,
        site=site_name,
        roles=tuple(roles),
        nics=tuple(nics),
        agent=_parse_agent(m.get("agent"), agent_defaults),
        groups=groups,
        os=os_name,
        inventory=inventory,
        tls=parse_tls_hint(m["tls"]) if "tls" in m else None,
        dns_query=parse_dns_query(m["dns"]) if "dns" in m else None,
    )


def _parse_endpoint(node: Node, what: str) -> tuple[Role | None, str | None]:
    """`from:`/`to:` of a user rule: a role name or `host:NAME`."""
    text = node.as_str()
    if text.startswith("host:"):
        return None, text[5:]
    if text not in _ROLE_NAMES:
        node.fail(
            f"{what} {text!r} is neither a role nor host:NAME; roles: {', '.join(_ROLE_NAMES)}"
        )
    return _ROLE_NAMES[text], None


_ENDPOINT = OneOf(
    (Scalar("string", enum=_ROLE_VALUES), Scalar("string", pattern="^host:", label="host:NAME"))
)
_RULE = Section(
    "rule",
    "A flow you add next to the catalog's, possibly one that must NOT get through.",
    (
        Key("id", NAME, "A unique id; reports name the rule by it.", required=True),
        Key("from", _ENDPOINT, "The source: a role, or `host:NAME`.", required=True),
        Key("to", _ENDPOINT, "The destination: a role, or `host:NAME`.", required=True),
        Key(
            "proto",
            Scalar("string", enum=("tcp",)),
            "The protocol (only tcp is probed yet).",
            default="tcp",
        ),
        Key("port", PORT, "The destination port.", required=True),
        Key(
            "expect",
            Scalar("string", enum=("reachable", "blocked")),
            "`blocked`: the cell passes when the port can NOT be reached.",
            default="reachable",
        ),
        Key("hint", STRING, "What to change when the cell fails; shown in reports.", default=""),
    ),
)


def _parse_rule(node: Node, host_names: set[str]) -> UserRule:
    m = node.as_mapping(_RULE.keys)
    for key in _RULE.required:
        if key not in m:
            node.fail(f"a rule needs {key!r}")
    src_role, src_host = _parse_endpoint(m["from"], "from")
    dst_role, dst_host = _parse_endpoint(m["to"], "to")
    for h, n in ((src_host, m["from"]), (dst_host, m["to"])):
        if h is not None and h not in host_names:
            n.fail(f"unknown host {h!r}")
    proto = m["proto"].as_str() if "proto" in m else "tcp"
    if proto != "tcp":
        m["proto"].fail(f"protocol {proto!r} is not probed yet; expected tcp")
    expect = m["expect"].as_str() if "expect" in m else "reachable"
    if expect not in ("reachable", "blocked"):
        m["expect"].fail(f"expect {expect!r}; expected reachable or blocked")
    return UserRule(
        id=_name(m["id"], "rule"),
        source_role=src_role,
        source_host=src_host,
        dest_role=dst_role,
        dest_host=dst_host,
        proto=proto,
        port=_port(m["port"]),
        expect_reachable=expect == "reachable",
        hint=m["hint"].as_str() if "hint" in m else "",
    )


# --- the document ------------------------------------------------------------


_SWEEP = Section(
    "sweep",
    "How hard to probe each cell. The command line's flags win over these.",
    (
        Key(
            "samples",
            in_range(SAMPLES.lo, SAMPLES.hi),
            "Probe attempts per cell.",
            default=default_of(SweepSettings, "samples"),
        ),
        Key(
            "interval_ms",
            in_range(INTERVAL_MS.lo, INTERVAL_MS.hi),
            "The pause between two attempts of a cell, in ms.",
            default=default_of(SweepSettings, "interval_ms"),
        ),
        Key(
            "timeout_ms",
            in_range(TIMEOUT_MS.lo, TIMEOUT_MS.hi),
            "How long one attempt may take, in ms.",
            default=default_of(SweepSettings, "timeout_ms"),
        ),
        Key(
            "concurrency",
            in_range(CONCURRENCY.lo, CONCURRENCY.hi),
            "Probe attempts in flight per agent, at most: every cell of a batch starts "
            "at once up to this many, so filtered cells' timeouts overlap instead of queuing. "
            "The agent also keeps within its file-descriptor limit (raised toward the hard "
            "limit); the report says when either limit made attempts wait.",
            default=default_of(SweepSettings, "concurrency"),
        ),
    ),
)


def _parse_sweep(node: Node) -> SweepSettings:
    m = node.as_mapping(_SWEEP.keys)
    given: dict[str, int] = {}
    for bound in SWEEP_BOUNDS:  # the same ranges (and words) as the flags and the wire
        if bound.name in m:
            why = bound.problem(m[bound.name].value)
            if why is not None:
                m[bound.name].fail(why)
            given[bound.name] = m[bound.name].value
    return SweepSettings(**given)


_DEMO = Section(
    "demo",
    "Devices of the loopback demos (netcheck.demo); not for real sites.",
    (
        Key(
            "silent_ports",
            ListOf(Scalar("string", pattern=r"^.+:[0-9]+$", label="HOST:PORT")),
            "`HOST:PORT` of a loopback host where a silent listener accepts nothing: a planted timeout.",
        ),
    ),
)


def _parse_demo(node: Node, hosts: list[Host]) -> tuple[tuple[str, int], ...]:
    """`demo: {silent_ports: ["host:port", ...]}` — loopback demos only (netcheck.demo)."""
    m = node.as_mapping(_DEMO.keys)
    by_name = {h.name: h for h in hosts}
    out = []
    for item in m["silent_ports"].as_list() if "silent_ports" in m else []:
        text = item.as_str()
        name, _, port_text = text.rpartition(":")
        if name not in by_name or not (port_text.isascii() and port_text.isdigit()):
            item.fail(f"{text!r}: expected HOST:PORT with a host of this topology")
        address = by_name[name].nics[0].address
        if not address.is_loopback:
            item.fail(
                f"{text!r}: silent ports are a loopback demo device; {address} is not loopback"
            )
        port = int(port_text)
        if not 1 <= port <= 65535:
            item.fail(f"port {port} out of range 1..65535")
        out.append((str(address), port))
    return tuple(out)


def _group_size_errors(hosts: list[Host], hosts_node: Node) -> list[ConfigError]:
    """One error per replication group past MAX_GROUP_MEMBERS, at its first extra member."""
    members: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for h in hosts:
        for g in h.groups:
            sizes[g] = sizes.get(g, 0) + 1
    out = []
    for h in hosts:
        for g in h.groups:
            members[g] = members.get(g, 0) + 1
            if members[g] == MAX_GROUP_MEMBERS + 1:
                where = hosts_node.as_mapping()[h.name].as_mapping().get("groups", hosts_node)
                n = sizes[g]
                out.append(
                    where.error(
                        f"replication group {g!r} has {n} members, more than {MAX_GROUP_MEMBERS}: "
                        f"port 20004 is probed between every two VMs of a group ({n * (n - 1):,} "
                        "cells); a multi-VM consistency group holds a few dozen VMs at most, so "
                        "split it into the groups ASR really has"
                    )
                )
    return out


def parse_topology(root: Node) -> Topology:
    """Validate a parsed document into a Topology."""
    top = root.as_mapping(_TOP_KEYS)
    for key in _TOP.required:
        if key not in top:
            root.fail(f"missing required key {key!r}")
    version = top["version"].as_int()
    if version != 1:
        top["version"].fail(
            f"unsupported topology version {version}; this netcheck reads version 1"
        )
    errors = ErrorCollector()
    name = errors.run(lambda: _name(top["name"], "topology")) or "?"
    ports = errors.run(lambda: _parse_ports(top["ports"])) if "ports" in top else PortOverrides()

    sites: dict[str, Site] = {}
    for site_name, site_node in top["sites"].items():
        site = errors.run(lambda n=site_name, s=site_node: _parse_site(n, s))  # type: ignore[misc]
        if site is not None:
            sites[site_name] = site
    errors.raise_if_any()  # hosts and paths refer to sites

    paths: list[Path] = []
    for path_name, path_node in top["paths"].items() if "paths" in top else []:
        p = errors.run(lambda n=path_name, s=path_node: _parse_path(n, s, set(sites)))  # type: ignore[misc]
        if p is not None:
            paths.append(p)

    agent_defaults: dict[str, Node] = {}
    if "defaults" in top:
        d = top["defaults"].as_mapping(_DEFAULTS.keys)
        if "agent" in d:
            agent_defaults = d["agent"].as_mapping(_AGENT_KEYS)
            # checked once here: a bad default is one error, not one per host
            if errors.run(lambda: _parse_agent(None, agent_defaults)) is None:
                agent_defaults = {}

    hosts: list[Host] = []
    owner: dict[IPAddress, tuple[str, Node]] = {}
    for host_name, host_node in top["hosts"].items():
        host = errors.run(
            lambda n=host_name, s=host_node: _parse_host(  # type: ignore[misc]
                _name(node_with(s, n), "host"), s, sites, agent_defaults
            )
        )
        if host is None:
            continue
        for nic, where in zip(host.nics, _address_nodes(host_node.as_mapping()), strict=True):
            if nic.address in owner:
                other = owner[nic.address]
                errors.add(
                    where.error(
                        f"address {nic.address} of {host.name}/{nic.name} is already used by "
                        f"{other[0]} (line {other[1].location.line})"
                    )
                )
            owner[nic.address] = (f"{host.name}/{nic.name}", where)
        hosts.append(host)
    if not hosts and not errors.errors:
        top["hosts"].fail("a topology needs at least one host")
    for exc in _group_size_errors(hosts, top["hosts"]):
        errors.add(exc)

    host_names = {h.name for h in hosts}
    rules: list[UserRule] = []
    seen_ids: set[str] = set()
    for rule_node in top["rules"].as_list() if "rules" in top else []:
        r = errors.run(lambda n=rule_node: _parse_rule(n, host_names))  # type: ignore[misc]
        if r is None:
            continue
        if r.id in seen_ids:  # checked here, with its own node: a failed rule shifts no index
            errors.add(rule_node.error(f"duplicate rule id {r.id!r}"))
        seen_ids.add(r.id)
        rules.append(r)
    disabled = (
        tuple(n.as_str() for n in top["disable_rules"].as_list()) if "disable_rules" in top else ()
    )
    sweep = errors.run(lambda: _parse_sweep(top["sweep"])) if "sweep" in top else None
    silent = errors.run(lambda: _parse_demo(top["demo"], hosts)) if "demo" in top else None
    failback = errors.run(lambda: parse_failback(top["failback"])) if "failback" in top else None
    resolvers = {h.name for h in hosts if Role.DNS_SERVER in h.roles}
    azure = errors.run(lambda: parse_azure(top["azure"], resolvers)) if "azure" in top else None
    agents = {h.name: (h.agent.runs, h.agent.transport.value) for h in hosts}
    bandwidth = (
        errors.run(lambda: parse_bandwidth(top["bandwidth"], agents)) if "bandwidth" in top else ()
    )
    errors.raise_if_any()
    for exc in reference_errors(  # names the inventory refers to, now that every host is known
        {
            h.name: top["hosts"].as_mapping()[h.name].as_mapping()["inventory"]
            for h in hosts
            if h.inventory.declared
        },
        top.get("failback"),
        {h.name: tuple(r.value for r in h.roles) for h in hosts},
        {h.name: h.groups for h in hosts},
    ):
        errors.add(exc)
    errors.raise_if_any()
    topo = Topology(
        version=version,
        name=name,
        source=root.location.file,
        ports=ports or PortOverrides(),
        sites=tuple(sites.values()),
        paths=tuple(paths),
        hosts=tuple(hosts),
        rules=tuple(rules),
        disabled_rules=disabled,
        sweep=sweep or SweepSettings(),
        demo_silent_ports=silent or (),
        failback=failback or FailbackSettings(),
        bandwidth=bandwidth or (),
        azure=azure or AzureSettings(),
    )
    return topo


def load_topology(path: str | FsPath) -> Topology:
    """Load and validate a topology file. Raises ConfigError with positions."""
    return parse_topology(load_yaml_file(path))


def load_topology_text(text: str, file: str = "<string>") -> Topology:
    return parse_topology(load_yaml_text(text, file))
