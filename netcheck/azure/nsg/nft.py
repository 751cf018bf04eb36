"""An NSG export as nftables rules, so the namespace lab can enforce it. Pure: text out.

The lab's stand-in for Azure: a NIC's NSG becomes an `inet` table on the host that owns
the NIC's address (inbound rules in the input hook, outbound in the output hook); a
subnet's NSG becomes a `bridge` table on the subnet's switch, so it sees traffic within
the subnet as well as traffic to and from the gateway (outbound rules for frames from the
subnet, then inbound rules for frames to it). The packet meets them in Azure's order:
NIC out, subnet out, subnet in, NIC in.

Azure's NSGs are stateful; the stand-in judges the first packet of each TCP connection
(a SYN without ACK) and lets every later packet and every reply through. The lab's cells
are TCP, so that is the whole of what a sweep can observe.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from netcheck.azure.nsg.evaluate import AZURE_LOAD_BALANCER, TagScope
from netcheck.azure.nsg.model import Access, AddressTerm, AzureExport, Direction, SecurityRule

__all__ = ["NftTable", "nft_tables"]

_JUDGED = "tcp flags & (syn | ack) == syn"


@dataclass(frozen=True, slots=True)
class NftTable:
    kind: str  # "nic" | "subnet"
    owner: str  # the NIC's name, or the subnet's id
    addresses: tuple[str, ...]  # the NIC's addresses, or the subnet's prefixes
    family: str  # "inet" | "bridge"
    name: str
    script: str  # an `nft -f` script: (re)creates the table atomically

    @property
    def delete_script(self) -> str:
        return f"add table {self.family} {self.name}\ndelete table {self.family} {self.name}\n"


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)[:48]


def _set(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def _side(
    terms: tuple[AddressTerm, ...], export: AzureExport, scope: TagScope
) -> tuple[str, list[str]] | None:
    """("==" | "!=", prefixes) for a rule side, None for any; raises for what nft can't say."""
    prefixes: list[str] = []
    for t in terms:
        if t.any:
            return None
        if t.prefix is not None:
            if t.prefix.version == 4:
                prefixes.append(str(t.prefix))
        elif t.asg is not None:
            prefixes += [
                str(c.address)
                for n in export.nics or ()
                for c in n.ip_configs
                if t.asg in c.asg_ids and c.address is not None and c.address.version == 4
            ]
        elif t.tag == "VirtualNetwork":
            prefixes += [str(n) for n in scope.ranges if n.version == 4]
        elif t.tag == "AzureLoadBalancer":
            prefixes.append(str(AZURE_LOAD_BALANCER))
        elif t.tag == "Internet" and len(terms) == 1:
            return "!=", _collapse([str(n) for n in scope.ranges if n.version == 4])
        else:
            raise ValueError(f"the lab generator can't express {t} in nftables")
    return "==", _collapse(prefixes)


def _collapse(prefixes: list[str]) -> list[str]:
    """nft refuses overlapping intervals in one set: merge them first."""
    nets = [ipaddress.IPv4Network(p) for p in prefixes]
    return [str(n) for n in ipaddress.collapse_addresses(nets)]


def _rule(rule: SecurityRule, export: AzureExport, scope: TagScope) -> str | None:
    words: list[str] = []
    if rule.protocol not in ("*", "tcp"):
        return None  # only TCP connections are judged (see the module's docstring)
    for key, terms in (("saddr", rule.sources), ("daddr", rule.destinations)):
        side = _side(terms, export, scope)
        if side is None:
            continue
        op, prefixes = side
        if not prefixes:
            if op == "==":
                return None  # an ASG without members: the rule can match nothing
            continue  # "not in nothing": every address
        words.append(f"ip {key} {'!= ' if op == '!=' else ''}{_set(prefixes)}")
    if not all(p.is_any for p in rule.destination_ports):
        words.append(f"tcp dport {_set([str(p) for p in rule.destination_ports])}")
    if not all(p.is_any for p in rule.source_ports):
        words.append(f"tcp sport {_set([str(p) for p in rule.source_ports])}")
    verdict = "return" if rule.access is Access.ALLOW else "drop"
    comment = f'comment "{rule.nsg} {rule.name} {rule.priority}"'
    return " ".join([*words, "counter", verdict, comment])


def _chain(name: str, rules: tuple[SecurityRule, ...], export: AzureExport, scope: TagScope) -> str:
    lines = [f"  chain {name} {{"]
    for r in sorted(rules, key=lambda r: r.priority):
        text = _rule(r, export, scope)
        if text is not None:
            lines.append(f"    {text}")
    lines.append("  }")
    return "\n".join(lines)


def nft_tables(export: AzureExport, scope: TagScope) -> tuple[NftTable, ...]:
    """One table per NIC with an NSG, one per subnet with an NSG (IPv4 only: the lab's)."""
    out: list[NftTable] = []
    for nic in export.nics or ():
        nsg = export.nic_nsg(nic.id)
        if nsg is None:
            continue
        name = f"nsg_nic_{_ident(nic.name)}"
        table = f"inet {name}"
        script = "\n".join(
            [
                f"add table {table}",
                f"delete table {table}",
                f"table {table} {{",
                _chain("nsg_in", nsg.rules_for(Direction.INBOUND), export, scope),
                _chain("nsg_out", nsg.rules_for(Direction.OUTBOUND), export, scope),
                "  chain input {",
                "    type filter hook input priority filter; policy accept;",
                f'    iif != "lo" {_JUDGED} jump nsg_in',
                "  }",
                "  chain output {",
                "    type filter hook output priority filter; policy accept;",
                f'    oif != "lo" {_JUDGED} jump nsg_out',
                "  }",
                "}",
                "",
            ]
        )
        addrs = tuple(str(c.address) for c in nic.ip_configs if c.address is not None)
        out.append(NftTable("nic", nic.name, addrs, "inet", name, script))
    for vnet in export.vnets or ():
        for subnet in vnet.subnets:
            nsg = export.subnet_nsg(subnet.id)
            if nsg is None:
                continue
            prefixes = [str(p) for p in subnet.prefixes if p.version == 4]
            name = f"nsg_subnet_{_ident(subnet.name)}"
            table = f"bridge {name}"
            script = "\n".join(
                [
                    f"add table {table}",
                    f"delete table {table}",
                    f"table {table} {{",
                    _chain("nsg_out", nsg.rules_for(Direction.OUTBOUND), export, scope),
                    _chain("nsg_in", nsg.rules_for(Direction.INBOUND), export, scope),
                    "  chain forward {",
                    "    type filter hook forward priority filter; policy accept;",
                    f"    ip saddr {_set(prefixes)} {_JUDGED} jump nsg_out",
                    f"    ip daddr {_set(prefixes)} {_JUDGED} jump nsg_in",
                    "  }",
                    "}",
                    "",
                ]
            )
            out.append(NftTable("subnet", subnet.id, tuple(prefixes), "bridge", name, script))
    return tuple(out)
