"""`netcheck init`: a commented topology from the inventories a team already has.

Pure conversions (no network, no Azure call): `azure` reads the Azure CLI's JSON,
`ansible` reads an Ansible inventory (through ansible-core's own parser when it is
not `--list` JSON yet), `compose` merges them with a hand-written part and decides
sites and roles, `emit` writes the topology with a comment per generated value.
"""

from __future__ import annotations

from netcheck.inventory_import.ansible import AnsibleInventory, hosts_from_inventory, load_ansible
from netcheck.inventory_import.azure import AzureImport, import_azure
from netcheck.inventory_import.compose import Composed, Part, compose, load_part
from netcheck.inventory_import.emit import render_topology
from netcheck.inventory_import.jsondoc import InventoryError, J
from netcheck.inventory_import.model import HostDraft, RoleRule, parse_role_rule

__all__ = [
    "AnsibleInventory",
    "AzureImport",
    "Composed",
    "HostDraft",
    "InventoryError",
    "J",
    "Part",
    "RoleRule",
    "compose",
    "hosts_from_inventory",
    "import_azure",
    "load_ansible",
    "load_part",
    "parse_role_rule",
    "render_topology",
]
