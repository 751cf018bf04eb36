"""Lab file → validated `Lab`. Pure: reads one file, creates nothing.

Errors carry file:line:column and the dotted field. Independent problems are
collected and reported together. Addresses, routes and fault matches must lie
in 198.18.0.0/15: the lab may never name an address the machine could reach.

`params:` gives named defaults that any value written exactly as `${name}`
takes; `load_lab(path, params={...})` overrides them (e.g. the VPN rate).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import TypeVar, cast

from netcheck.errors import ConfigError, ErrorCollector, Location
from netcheck.lab.model import (
    DEFAULT_ROUTE,
    DEV_RE,
    FAULT_ACTIONS,
    FAULT_NAME_RE,
    IFNAMSIZ,
    LAB_RANGE,
    NAME_RE,
    NFT_ACTIONS,
    Fault,
    FaultAction,
    Lab,
    Link,
    LinkEnd,
    Match,
    Namespace,
    NsKind,
    Proto,
    Route,
    Shaping,
    in_lab_range,
)
from netcheck.yamlsource import Node, load_yaml_file, load_yaml_text

__all__ = ["ParamValue", "load_lab", "load_lab_text", "parse_lab"]

ParamValue = str | int | float | bool
T = TypeVar("T")

_TOP_KEYS = frozenset(
    {"version", "name", "prefix", "description", "params", "namespaces", "links", "faults"}
)
_NS_KEYS = frozenset({"kind", "sshd", "sysctls", "routes", "description"})
_LINK_KEYS = frozenset({"name", "mtu", "ends", "description"})
_END_KEYS = frozenset({"ns", "dev", "address", "shape"})
_SHAPE_KEYS = frozenset({"rate", "burst", "latency_ms"})
_ROUTE_KEYS = frozenset({"to", "via", "dev"})
_FAULT_KEYS = frozenset({"action", "description", "at", "match", "routes", "addresses"})
_FAULT_ADDR_KEYS = frozenset({"dev", "address"})
_MATCH_KEYS = frozenset({"src", "dst", "proto", "port", "ports"})
_KINDS: tuple[NsKind, ...] = ("host", "router", "switch")
_PROTOS: tuple[Proto, ...] = ("tcp", "udp", "icmp")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,4}-$")
_PARAM_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Only per-namespace sysctls: anything outside net.ipv4/net.ipv6 could be global.
_SYSCTL_RE = re.compile(r"^net\.ipv[46]\.[A-Za-z0-9_.-]+$")
_RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)$", re.IGNORECASE)
_RATE_UNIT = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}


def load_lab(path: str | Path, params: Mapping[str, ParamValue] | None = None) -> Lab:
    """Read and validate a lab file; `params` override its `params:` defaults."""
    return parse_lab(load_yaml_file(path), params)


def load_lab_text(
    text: str, file: str = "<string>", params: Mapping[str, ParamValue] | None = None
) -> Lab:
    return parse_lab(load_yaml_text(text, file), params)


def parse_lab(root: Node, params: Mapping[str, ParamValue] | None = None) -> Lab:
    top = root.as_mapping(_TOP_KEYS)
    file = root.location.file
    version = _required(root, top, "version")
    if version.as_int() != 1:
        version.fail("unsupported lab file version; this netcheck reads version 1")
    name = _name(_required(root, top, "name"))
    prefix = top["prefix"].as_str() if "prefix" in top else "nc-"
    if not _PREFIX_RE.match(prefix):
        top["prefix"].fail(f"{prefix!r}: expected 1-5 lowercase letters/digits and a '-', e.g. nc-")
    values = _params(top.get("params"), params or {}, file)
    root = _substitute(root, values)
    top = root.as_mapping()

    errors = ErrorCollector()
    namespaces: list[Namespace] = []
    ns_nodes = _required(root, top, "namespaces")
    for ns_name, node in ns_nodes.items():
        ns = errors.run(partial(_namespace, ns_name, node, prefix))
        if ns is not None:
            namespaces.append(ns)
    links: list[Link] = []
    for node in _required(root, top, "links").as_list():
        link = errors.run(partial(_link, node))
        if link is not None:
            links.append(link)
    faults: list[Fault] = []
    if "faults" in top:
        for fault_name, node in top["faults"].items():
            fault = errors.run(partial(_fault, fault_name, node))
            if fault is not None:
                faults.append(fault)
    errors.raise_if_any()

    _cross_check(root, namespaces, links, faults, errors)
    errors.raise_if_any()
    return Lab(
        name=name,
        prefix=prefix,
        namespaces=tuple(namespaces),
        links=tuple(links),
        faults=tuple(faults),
        source=file,
    )


# --- params ---------------------------------------------------------------
def _params(
    node: Node | None, overrides: Mapping[str, ParamValue], file: str
) -> dict[str, ParamValue]:
    values: dict[str, ParamValue] = {}
    if node is not None:
        for key, child in node.items():
            if isinstance(child.value, (dict, list)) or child.value is None:
                child.fail("a param is a single value (text, number or true/false)")
            values[key] = cast(ParamValue, child.value)
    for key, value in overrides.items():
        if key not in values:
            known = ", ".join(sorted(values)) or "none"
            raise ConfigError(
                f"unknown param {key!r} given as an override; the file declares: {known}",
                location=Location(file),
                field="params",
            )
        values[key] = value
    return values


def _substitute(node: Node, values: Mapping[str, ParamValue]) -> Node:
    v = node.value
    if isinstance(v, dict):
        return Node({k: _substitute(c, values) for k, c in v.items()}, node.location, node.field)
    if isinstance(v, list):
        return Node([_substitute(c, values) for c in v], node.location, node.field)
    if isinstance(v, str) and (m := _PARAM_REF.match(v)) and node.field.split(".")[0] != "params":
        if m.group(1) not in values:
            node.fail(f"{v} names no param; declare it under params:")
        return Node(values[m.group(1)], node.location, node.field)
    return node


# --- pieces -----------------------------------------------------------------
def _required(parent: Node, mapping: dict[str, Node], key: str) -> Node:
    if key not in mapping:
        field = f"{parent.field}.{key}" if parent.field else key
        raise ConfigError("is required", location=parent.location, field=field)
    return mapping[key]


def _name(node: Node) -> str:
    text = node.as_str()
    if not NAME_RE.match(text):
        node.fail(f"{text!r}: expected lowercase letters, digits and '-', starting with a letter")
    return text


def _namespace(name: str, node: Node, prefix: str) -> Namespace:
    body = node.as_mapping(_NS_KEYS)
    if not NAME_RE.match(name):
        node.fail(f"namespace name {name!r}: expected lowercase letters, digits and '-'")
    if len(prefix + name) > IFNAMSIZ:
        node.fail(
            f"namespace {prefix + name!r} is longer than {IFNAMSIZ} characters; "
            "it also names interfaces, so shorten it"
        )
    kind_node = _required(node, body, "kind")
    kind = kind_node.as_str()
    if kind not in _KINDS:
        kind_node.fail(f"{kind!r}: expected one of {', '.join(_KINDS)}")
    sshd = body["sshd"].as_bool() if "sshd" in body else False
    if sshd and kind != "host":
        body["sshd"].fail("only a host namespace runs sshd")
    sysctls: list[tuple[str, str]] = []
    if "sysctls" in body:
        for key, value in body["sysctls"].items():
            if not _SYSCTL_RE.match(key):
                value.fail(
                    f"{key!r}: only per-namespace net.ipv4.* / net.ipv6.* sysctls are allowed"
                )
            if isinstance(value.value, (dict, list)) or value.value is None:
                value.fail("expected a single value")
            sysctls.append(
                (key, str(int(value.value) if isinstance(value.value, bool) else value.value))
            )
    routes: list[Route] = []
    if "routes" in body:
        if kind == "switch":
            body["routes"].fail("a switch has no routes")
        for item in body["routes"].as_list():
            routes.append(_route(item))
        _no_duplicate_routes(routes, body["routes"])
    return Namespace(
        name=name,
        kind=kind,
        sshd=sshd,
        sysctls=tuple(sysctls),
        routes=tuple(routes),
    )


def _no_duplicate_routes(routes: list[Route], node: Node) -> None:
    seen: set[IPv4Network] = set()
    for route, item in zip(routes, node.as_list()):
        if route.to in seen:
            item.fail(f"a second route to {route.to}; a namespace has one route per prefix")
        seen.add(route.to)


def _network(node: Node) -> IPv4Network:
    text = node.as_str()
    try:
        net = IPv4Network(text, strict=True)
    except ValueError as exc:
        node.fail(f"{text!r} is not an IPv4 network ({exc}); expected e.g. 198.18.2.0/24")
    if not in_lab_range(net):
        node.fail(f"{net} is outside the lab range {LAB_RANGE}")
    return net


def _address(node: Node) -> IPv4Address:
    text = node.as_str()
    try:
        addr = IPv4Address(text)
    except ValueError:
        node.fail(f"{text!r} is not an IPv4 address; expected e.g. 198.18.2.1")
    if not in_lab_range(addr):
        node.fail(f"{addr} is outside the lab range {LAB_RANGE}")
    return addr


def _interface(node: Node) -> IPv4Interface:
    text = node.as_str()
    if "/" not in text:
        node.fail(f"{text!r}: give the prefix length too, e.g. 198.18.2.10/24")
    try:
        iface = IPv4Interface(text)
    except ValueError:
        node.fail(f"{text!r} is not an IPv4 address with prefix, e.g. 198.18.2.10/24")
    if not in_lab_range(iface):
        node.fail(f"{iface} is outside the lab range {LAB_RANGE}")
    if iface.network.prefixlen < 31 and iface.ip in (
        iface.network.network_address,
        iface.network.broadcast_address,
    ):
        node.fail(f"{iface.ip} is the network or broadcast address of {iface.network}")
    return iface


def _route(node: Node) -> Route:
    body = node.as_mapping(_ROUTE_KEYS)
    to_node = _required(node, body, "to")
    to = DEFAULT_ROUTE if to_node.value == "default" else _network(to_node)
    via = _address(_required(node, body, "via"))
    dev = _dev(body["dev"]) if "dev" in body else None
    return Route(to=to, via=via, dev=dev)


def _dev(node: Node) -> str:
    text = node.as_str()
    if len(text) > IFNAMSIZ or not DEV_RE.match(text):
        node.fail(f"{text!r}: an interface name is 1-{IFNAMSIZ} letters, digits, '_', '.', '-'")
    return text


def _shape(node: Node) -> Shaping:
    body = node.as_mapping(_SHAPE_KEYS)
    rate_node = _required(node, body, "rate")
    m = _RATE_RE.match(str(rate_node.value).strip())
    if not m:
        rate_node.fail(f"{rate_node.value!r}: expected a rate like 100mbit, 512kbit, 1gbit")
    rate_bit = int(float(m.group(1)) * _RATE_UNIT[m.group(2).lower()])
    if rate_bit < 8000:
        rate_node.fail("a rate below 8kbit cannot carry one full-size packet per 1.5 s")
    # Default bucket: 10 ms at full rate, never less than 16 KiB, so the kernel
    # timer granularity does not eat into the configured rate.
    burst = body["burst"].as_int(lo=1600) if "burst" in body else max(rate_bit // 800, 16384)
    latency = body["latency_ms"].as_int(lo=1, hi=10_000) if "latency_ms" in body else 50
    return Shaping(rate_bit=rate_bit, burst_bytes=burst, latency_ms=latency)


def _link(node: Node) -> Link:
    body = node.as_mapping(_LINK_KEYS)
    ends_node = _required(node, body, "ends")
    items = ends_node.as_list()
    if len(items) != 2:
        ends_node.fail(f"a link (veth pair) has exactly two ends, found {len(items)}")
    raw = [item.as_mapping(_END_KEYS) for item in items]
    ns_names = [_required(item, b, "ns").as_str() for item, b in zip(items, raw)]
    ends: list[LinkEnd] = []
    for i, b in enumerate(raw):
        peer = ns_names[1 - i]
        # An interface is named after the namespace it leads to unless told.
        dev = _dev(b["dev"]) if "dev" in b else peer[:IFNAMSIZ]
        ends.append(
            LinkEnd(
                ns=ns_names[i],
                dev=dev,
                address=_interface(b["address"]) if "address" in b else None,
                shape=_shape(b["shape"]) if "shape" in b else None,
            )
        )
    a, b_end = ends
    if a.address and b_end.address and a.address.network != b_end.address.network:
        ends_node.fail(f"the ends are on different subnets ({a.address} and {b_end.address})")
    mtu = body["mtu"].as_int(lo=576, hi=9000) if "mtu" in body else 1500
    name = body["name"].as_str() if "name" in body else f"{a.ns}--{b_end.ns}"
    return Link(name=name, a=a, b=b_end, mtu=mtu)


def _fault(name: str, node: Node) -> Fault:
    body = node.as_mapping(_FAULT_KEYS)
    if not FAULT_NAME_RE.match(name):
        node.fail(f"fault name {name!r}: expected lowercase letters, digits and '_' (max 40)")
    action_node = _required(node, body, "action")
    action = action_node.as_str()
    if action not in FAULT_ACTIONS:
        action_node.fail(f"{action!r}: expected one of {', '.join(FAULT_ACTIONS)}")
    description = body["description"].as_str() if "description" in body else ""
    if action in ("reroute", "add_route"):
        for key in ("at", "match", "addresses"):
            if key in body:
                body[key].fail(f"a {action} fault takes only routes:")
        routes_node = _required(node, body, "routes")
        routes = tuple(
            (ns, _route(item)) for ns, lst in routes_node.items() for item in lst.as_list()
        )
        if not routes:
            routes_node.fail(f"a {action} fault needs at least one route")
        return Fault(
            name=name, action=cast(FaultAction, action), description=description, routes=routes
        )
    if action == "address":
        for key in ("at", "match", "routes"):
            if key in body:
                body[key].fail("an address fault takes only addresses:")
        addr_node = _required(node, body, "addresses")
        addresses = []
        for ns_name, lst in addr_node.items():
            for item in lst.as_list():
                ab = item.as_mapping(_FAULT_ADDR_KEYS)
                dev = _dev(_required(item, ab, "dev"))
                addresses.append((ns_name, dev, _interface(_required(item, ab, "address"))))
        if not addresses:
            addr_node.fail("an address fault needs at least one address")
        return Fault(
            name=name, action="address", description=description, addresses=tuple(addresses)
        )
    if "addresses" in body:
        body["addresses"].fail(f"a {action} fault takes at: and match:, not addresses:")
    if "routes" in body:
        body["routes"].fail(f"a {action} fault takes at: and match:, not routes:")
    at = tuple(n.as_str() for n in _required(node, body, "at").as_str_or_list())
    match = _match(body["match"], action) if "match" in body else _match(None, action)
    return Fault(
        name=name, action=cast(FaultAction, action), description=description, at=at, match=match
    )


def _match(node: Node | None, action: str) -> Match:
    body = node.as_mapping(_MATCH_KEYS) if node is not None else {}
    src = _network_or_host(body["src"]) if "src" in body else None
    dst = _network_or_host(body["dst"]) if "dst" in body else None
    proto: str | None = None
    if "proto" in body:
        proto = body["proto"].as_str()
        if proto not in _PROTOS:
            body["proto"].fail(f"{proto!r}: expected one of {', '.join(_PROTOS)}")
    if action == "reject_tcp_reset":
        if proto not in (None, "tcp"):
            body["proto"].fail("a TCP reset answers TCP only; use proto: tcp")
        proto = "tcp"
    if "port" in body and "ports" in body:
        body["ports"].fail("give port or ports, not both")
    port_nodes = (
        [body["port"]] if "port" in body else body["ports"].as_list() if "ports" in body else []
    )
    ports = tuple(p.as_int(lo=1, hi=65535) for p in port_nodes)
    if ports and proto not in ("tcp", "udp"):
        where = body.get("port") or body.get("ports")
        assert where is not None
        where.fail("ports need proto: tcp or proto: udp")
    return Match(src=src, dst=dst, proto=cast(Proto | None, proto), ports=ports)


def _network_or_host(node: Node) -> IPv4Network:
    text = node.as_str()
    return _network(node) if "/" in text else IPv4Network(_address(node))


# --- references between parts -------------------------------------------
def _cross_check(
    root: Node,
    namespaces: list[Namespace],
    links: list[Link],
    faults: list[Fault],
    errors: ErrorCollector,
) -> None:
    top = root.as_mapping()
    ns_nodes = top["namespaces"].as_mapping()
    link_nodes = top["links"].as_list()
    by_name = {ns.name: ns for ns in namespaces}

    def fail(node: Node, message: str) -> None:
        errors.errors.append(node.error(message))

    devs: dict[str, set[str]] = {ns.name: set() for ns in namespaces}
    seen_addr: dict[IPv4Address, str] = {}
    for link, lnode in zip(links, link_nodes):
        ends_node = lnode.as_mapping()["ends"]
        for end, enode in zip(link.ends, ends_node.as_list()):
            ns = by_name.get(end.ns)
            if ns is None:
                fail(enode, f"namespace {end.ns!r} is not declared under namespaces:")
                continue
            if end.dev in devs[ns.name]:
                fail(enode, f"{ns.name} already has an interface {end.dev!r}; set dev:")
            devs[ns.name].add(end.dev)
            if ns.kind == "switch" and end.address is not None:
                fail(enode, "an end in a switch joins its bridge and takes no address")
            if ns.kind != "switch" and end.address is None:
                fail(enode, f"{ns.kind} {ns.name} needs an address on this end")
            if end.address is not None:
                if end.address.ip in seen_addr:
                    fail(enode, f"{end.address.ip} is already used by {seen_addr[end.address.ip]}")
                seen_addr[end.address.ip] = ns.name

    lab_for_lookup = {ns.name: _connected(ns.name, links) for ns in namespaces}

    def check_route(ns_name: str, route: Route, node: Node) -> None:
        nets = lab_for_lookup.get(ns_name, ())
        if not any(route.via in net for net in nets):
            fail(node, f"next hop {route.via} is on no subnet of {ns_name} ({_fmt(nets)})")
        if route.dev is not None and route.dev not in devs.get(ns_name, set()):
            fail(node, f"{ns_name} has no interface {route.dev!r}")

    for ns in namespaces:
        if ns.routes:
            route_nodes = ns_nodes[ns.name].as_mapping()["routes"].as_list()
            for route, rnode in zip(ns.routes, route_nodes):
                check_route(ns.name, route, rnode)
        if ns.kind == "host" and ns.sshd and not lab_for_lookup[ns.name]:
            fail(ns_nodes[ns.name], "sshd needs at least one address to listen on")

    fault_nodes = top["faults"].as_mapping() if "faults" in top else {}
    for fault in faults:
        fnode = fault_nodes[fault.name]
        body = fnode.as_mapping()
        if fault.action == "address":
            for ns_name, anodes in body["addresses"].as_mapping().items():
                ns = by_name.get(ns_name)
                if ns is None or ns.kind == "switch":
                    fail(anodes, f"{ns_name!r} is not a router or host namespace of this lab")
                    continue
                for (_, dev, _a), anode in zip(
                    (x for x in fault.addresses if x[0] == ns_name), anodes.as_list()
                ):
                    if dev not in devs.get(ns_name, set()):
                        fail(anode, f"{ns_name} has no interface {dev!r}")
        elif fault.action in NFT_ACTIONS:
            for target in fault.at:
                ns = by_name.get(target)
                if ns is None or ns.kind == "switch":
                    fail(body["at"], f"{target!r} is not a router or host namespace of this lab")
        else:
            per_ns = body["routes"].as_mapping()
            for ns_name, rnodes in per_ns.items():
                ns = by_name.get(ns_name)
                if ns is None or ns.kind == "switch":
                    fail(rnodes, f"{ns_name!r} is not a router or host namespace of this lab")
                    continue
                base = {r.to for r in ns.routes}
                for route, rnode in zip(
                    (r for n, r in fault.routes if n == ns_name), rnodes.as_list()
                ):
                    check_route(ns_name, route, rnode)
                    if fault.action == "reroute" and route.to not in base:
                        fail(
                            rnode,
                            f"{ns_name} has no route to {route.to} of its own to restore "
                            "when the fault is switched off; declare one under its routes:",
                        )


def _connected(ns: str, links: list[Link]) -> tuple[IPv4Network, ...]:
    return tuple(
        end.address.network
        for link in links
        for end in link.ends
        if end.ns == ns and end.address is not None
    )


def _fmt(nets: tuple[IPv4Network, ...]) -> str:
    return ", ".join(str(n) for n in nets) or "none"
