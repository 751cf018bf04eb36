"""`netcheck init`: write a commented topology from Azure CLI JSON, an Ansible inventory
and a small hand-written part. Reads files only; never calls Azure."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.common import EXIT_GO, EXIT_NO_GO, deliver, open_output
from netcheck.errors import ConfigError, UsageError
from netcheck.inventory_import import (
    InventoryError,
    J,
    compose,
    hosts_from_inventory,
    import_azure,
    load_ansible,
    load_part,
    parse_role_rule,
    render_topology,
)
from netcheck.inventory_import.model import HostDraft, SiteDraft
from netcheck.topology import load_topology_text

_EPILOG = """\
examples:
  az vm list -d -o json > vms.json; az network nic list -o json > nics.json
  az network vnet list -o json > vnets.json
  netcheck init --azure-vms vms.json --azure-nics nics.json --azure-vnets vnets.json \\
      --onprem onprem.yaml --role-tag asr-role --role process_server='ps-*' -o site.yaml
  netcheck init --ansible inventory.ini --onprem onprem.yaml \\
      --role config_server=group:asr_cs --role master_target='mt*' -o site.yaml

exit codes: 0 written, 1 written with TODOs (undecided hosts are commented out),
2 usage or input error"""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init",
        description=textwrap.fill(
            "Build a commented topology from the inventories you have: the JSON of "
            "`az vm list -d`, `az network nic list` and `az network vnet list` (saved to "
            "files; netcheck never calls Azure), an Ansible inventory, and a small "
            "hand-written part (the on-premises sites, paths, defaults). Every generated "
            "value carries a comment saying where it came from; a host that can't be decided "
            "(no role, no site) is written commented out under a TODO and the command exits 1.",
            80,
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("Azure (files saved from the Azure CLI)")
    g.add_argument("--azure-vms", type=Path, metavar="FILE", help="az vm list -d -o json")
    g.add_argument("--azure-nics", type=Path, metavar="FILE", help="az network nic list -o json")
    g.add_argument("--azure-vnets", type=Path, metavar="FILE", help="az network vnet list -o json")
    g.add_argument(
        "--azure-site",
        default="azure",
        metavar="NAME",
        help="name of the site the peered VNets make (default azure)",
    )
    g.add_argument(
        "--role-tag",
        metavar="TAG",
        help="VM tag whose value names the roles, e.g. asr-role=process_server",
    )
    g = p.add_argument_group("on premises")
    g.add_argument(
        "--onprem",
        type=Path,
        metavar="FILE",
        help="hand-written topology part: sites, paths, defaults, hosts (written back as is)",
    )
    g.add_argument(
        "--ansible",
        type=Path,
        action="append",
        default=[],
        metavar="INV",
        help="Ansible inventory: `ansible-inventory --list` JSON, or INI/YAML parsed by "
        "ansible-core (pip install 'netcheck[ansible]'); repeatable",
    )
    g = p.add_argument_group("deciding roles and sites")
    g.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE=PATTERN",
        help="hosts matching PATTERN get ROLE (repeatable): name globs, group:G (Ansible "
        "groups with their parents; an Azure VM's resource group), ~regex, !x, &x",
    )
    g.add_argument(
        "--site",
        action="append",
        default=[],
        metavar="SITE=PATTERN",
        help="hosts matching PATTERN are in SITE (default: the site whose networks hold "
        "the host's address)",
    )
    g.add_argument(
        "--replication-group",
        action="append",
        default=[],
        metavar="NAME=PATTERN",
        help="hosts matching PATTERN join replication group NAME (the topology's groups:, "
        "for multi-VM consistency and the readiness checks)",
    )
    p.add_argument("--name", help="topology name (default: the part's name, else 'imported')")
    p.add_argument("-o", "--output", type=Path, help="write the topology here (default stdout)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    azure_files = (args.azure_vms, args.azure_nics, args.azure_vnets)
    if any(azure_files) and not all(azure_files):
        raise UsageError(
            "the Azure import needs all three: --azure-vms, --azure-nics, --azure-vnets"
        )
    if not any(azure_files) and not args.ansible and args.onprem is None:
        raise UsageError(
            "nothing to import: give --azure-vms/--azure-nics/--azure-vnets, "
            "--ansible INV and/or --onprem FILE"
        )
    role_rules = [parse_role_rule(t) for t in args.role]
    site_rules = [parse_role_rule(t, "--site") for t in args.site]
    group_rules = [parse_role_rule(t, "--replication-group") for t in args.replication_group]
    part = load_part(args.onprem) if args.onprem else None
    sources: list[str] = [f"{args.onprem} (hand-written part)"] if args.onprem else []
    sites: tuple[SiteDraft, ...] = ()
    hosts: list[HostDraft] = []
    if args.azure_vms:
        azure = import_azure(
            J.load(args.azure_vms, "az vm list -d -o json"),
            J.load(args.azure_nics, "az network nic list -o json"),
            J.load(args.azure_vnets, "az network vnet list -o json"),
            site_name=args.azure_site,
            role_tag=args.role_tag,
        )
        sites, hosts = azure.sites, list(azure.hosts)
        sources.append(f"Azure CLI JSON: {args.azure_vms}, {args.azure_nics}, {args.azure_vnets}")
    for inv in args.ansible:
        hosts += hosts_from_inventory(load_ansible(inv))
        sources.append(f"Ansible inventory {inv}")
    decisions = [
        *(f"--role {r}" for r in args.role),
        *(f"--site {s}" for s in args.site),
        *(f"--replication-group {g}" for g in args.replication_group),
    ]
    if decisions:
        sources.append(" ".join(decisions))
    composed = compose(
        part=part,
        sites=sites,
        hosts=hosts,
        role_rules=role_rules,
        site_rules=site_rules,
        group_rules=group_rules,
        name=args.name,
        sources=sources,
    )
    if not composed.decided and not (part and part.doc.get("hosts")):
        raise InventoryError(
            "no host could be decided, so there is no topology to write:\n"
            + "\n".join(f"TODO: {h.name}: {t}" for h in composed.hosts for t in h.todos)
        )
    text = render_topology(composed)
    where = str(args.output) if args.output else "<init output>"
    try:
        topo = load_topology_text(text, where)
    except ConfigError as exc:
        raise ConfigError(
            f"the topology init composed does not validate (fix the inputs, most likely the "
            f"hand-written part):\n{exc}\n--- the composed topology ---\n{text}"
        ) from None
    deliver(text, open_output(args.output), args.output, out)
    todos = composed.todos
    summary = f"{where}: {len(topo.hosts)} hosts in {len(topo.sites)} sites" + (
        f"; {todos} TODO(s): undecided hosts are commented out" if todos else ""
    )
    sys.stderr.write(f"netcheck init: {summary}\n")
    return EXIT_NO_GO if todos else EXIT_GO
