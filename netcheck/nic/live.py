"""Lookups over what one host's agent reported about its interfaces (pure)."""

from __future__ import annotations

import ipaddress

from netcheck_agent import protocol as p

__all__ = ["Live", "prefixes"]


def prefixes(itf: p.InterfaceFacts) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
    out = []
    for a in itf.addresses:
        try:
            out.append(ipaddress.ip_interface(a))
        except ValueError:
            continue
    return out


class Live:
    """Lookups over one host's NicFacts."""

    def __init__(self, facts: p.NicFacts) -> None:
        self.facts = facts
        self.routes = {r.dst: r for r in facts.routes}

    def holding(self, address: str) -> tuple[p.InterfaceFacts, str] | None:
        """(interface, its prefix "net/len") holding `address`.

        A loopback interface holds its whole prefix (Linux answers for 127.0.0.0/8 on lo).
        """
        addr = ipaddress.ip_address(address)
        for itf in self.facts.interfaces:
            for pref in prefixes(itf):
                if pref.ip == addr:
                    return itf, str(pref.network)
        for itf in self.facts.interfaces:
            if itf.kind == "loopback":
                for pref in prefixes(itf):
                    if pref.version == addr.version and addr in pref.network:
                        return itf, str(pref.network)
        return None

    def iface(self, name: str | None) -> p.InterfaceFacts | None:
        return next((i for i in self.facts.interfaces if i.name == name), None)

    def rp_filter(self, name: str | None) -> int | None:
        itf = self.iface(name)
        if itf is None or itf.rp_filter is None:
            return None
        if self.facts.rp_filter_all is None:
            return itf.rp_filter
        return max(itf.rp_filter, self.facts.rp_filter_all)
