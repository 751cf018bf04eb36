"""Switching a lab's named faults on and off, and reading back which are on.

An nft fault is one table of its own per namespace (`inet fault_<name>`), so
switching it is one atomic `nft -f` transaction and never disturbs another
fault; on a router the rule sits in the forward hook (traffic passing
through), on a host in the input hook (traffic to it). A reroute fault
replaces routes; switching it off puts back the namespace's own routes.
"""

from __future__ import annotations

import json

from netcheck.errors import LabError
from netcheck.lab.commands import in_netns, run
from netcheck.lab.model import ROUTE_ACTIONS, Fault, Lab, Match, Route

__all__ = ["fault_is_on", "nft_rule", "nft_ruleset", "set_fault"]

_VERDICT = {
    "drop": "drop",
    "reject_tcp_reset": "reject with tcp reset",
    # icmpx: the inet family's protocol-neutral codes; for IPv4 this is
    # ICMP type 3 code 13, which Linux reports to connect() as EHOSTUNREACH.
    "reject_admin_prohibited": "reject with icmpx type admin-prohibited",
}


def _table(fault: Fault) -> str:
    return f"fault_{fault.name}"


def nft_rule(match: Match, action: str) -> str:
    """One nft rule for `match`; `counter` so a test can see it was hit."""
    words: list[str] = []
    if match.src is not None:
        words += ["ip saddr", str(match.src)]
    if match.dst is not None:
        words += ["ip daddr", str(match.dst)]
    if match.proto is not None:
        if match.ports:
            ports = ", ".join(str(p) for p in match.ports)
            words += [f"{match.proto} dport", f"{{ {ports} }}"]
        else:
            words += ["meta l4proto", match.proto]
    words += ["counter", _VERDICT[action]]
    return " ".join(words)


def nft_ruleset(fault: Fault, hook: str, on: bool) -> str:
    """An nft script that (re)creates or removes the fault's table atomically.

    `add` then `delete` makes both directions idempotent: the table is
    replaced if present and removed without error if absent.
    """
    table = f"inet {_table(fault)}"
    script = f"add table {table}\ndelete table {table}\n"
    if on:
        script += (
            f"table {table} {{\n"
            f"  chain filter {{\n"
            f"    type filter hook {hook} priority filter; policy accept;\n"
            f"    {nft_rule(fault.match, fault.action)}\n"
            f"  }}\n"
            f"}}\n"
        )
    return script


def _hook(lab: Lab, ns: str) -> str:
    return "forward" if lab.namespace(ns).kind == "router" else "input"


def _base_route(lab: Lab, ns: str, route: Route) -> Route:
    for base in lab.namespace(ns).routes:
        if base.to == route.to:
            return base
    raise LabError(f"{ns} has no route to {route.to} to restore")  # the loader prevents this


def _has_address(lab: Lab, ns: str, dev: str, address: str) -> bool:
    out = run(["ip", "-j", "-n", lab.netns(ns), "addr", "show", "dev", dev]).stdout
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info") or ():
            if f"{a.get('local')}/{a.get('prefixlen')}" == address:
                return True
    return False


def set_fault(lab: Lab, fault: Fault, on: bool) -> None:
    if fault.action == "address":
        # one more address on an interface: `replace` and a checked `del` keep both idempotent
        for ns, dev, addr in fault.addresses:
            if on:
                run(["ip", "-n", lab.netns(ns), "addr", "replace", str(addr), "dev", dev])
            elif _has_address(lab, ns, dev, str(addr)):
                run(["ip", "-n", lab.netns(ns), "addr", "del", str(addr), "dev", dev])
        return
    if fault.action not in ROUTE_ACTIONS:
        for ns in fault.at:
            script = nft_ruleset(fault, _hook(lab, ns), on)
            run(in_netns(lab.netns(ns), ["nft", "-f", "-"]), input=script)
        return
    for ns, route in fault.routes:
        if not on and fault.action == "add_route":
            if _route_points(lab, ns, route):
                run(["ip", "-n", lab.netns(ns), "route", "del", route.ip_args()[0]])
            continue
        chosen = route if on else _base_route(lab, ns, route)
        run(["ip", "-n", lab.netns(ns), "route", "replace", *chosen.ip_args()])
    # Hosts remember a path MTU per destination for minutes; learnt on the
    # old path it would now be wrong, so forget it everywhere.
    for space in lab.namespaces:
        if space.kind != "switch":
            run(["ip", "-n", lab.netns(space.name), "route", "flush", "cache"])


def fault_is_on(lab: Lab, fault: Fault) -> bool:
    """Read from the kernel: the nft table exists, or the routes point the fault's way."""
    if fault.action == "address":
        return all(_has_address(lab, ns, dev, str(addr)) for ns, dev, addr in fault.addresses)
    if fault.action not in ROUTE_ACTIONS:
        for ns in fault.at:
            out = run(in_netns(lab.netns(ns), ["nft", "list", "tables"])).stdout
            if f"table inet {_table(fault)}" not in out.splitlines():
                return False
        return True
    return all(_route_points(lab, ns, route) for ns, route in fault.routes)


def _route_points(lab: Lab, ns: str, route: Route) -> bool:
    """The namespace routes `route.to` via `route.via`."""
    out = run(["ip", "-j", "-n", lab.netns(ns), "route", "show", route.ip_args()[0]]).stdout
    return any(e.get("gateway") == str(route.via) for e in json.loads(out or "[]"))
