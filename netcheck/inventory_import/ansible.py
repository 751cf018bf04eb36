"""Hosts from an Ansible inventory: `ansible-inventory --list` JSON, or any inventory
ansible-core parses (INI, YAML, scripts), through its own `ansible-inventory`.

The connection variables become the agent: `ansible_host` (the address),
`ansible_user`, `ansible_port`, `ansible_python_interpreter`,
`ansible_ssh_private_key_file`. `ansible_connection: local` on localhost runs the
agent in process; on any other host it means Ansible drives that host from the
controller (vCenter, say): a destination with no agent. Groups (with their parents: groups of groups) are what `--role` and
`--site` patterns match as `group:NAME`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcheck.errors import Location
from netcheck.inventory_import.jsondoc import InventoryError, J, read_text
from netcheck.inventory_import.model import HostDraft, NicDraft, Sourced

__all__ = ["AnsibleInventory", "hosts_from_inventory", "load_ansible"]

LIST_CMD = "ansible-inventory -i INV --list"
_TIMEOUT_S = 120
# the older names Ansible still reads
_ALIASES = {
    "ansible_host": ("ansible_host", "ansible_ssh_host"),
    "ansible_user": ("ansible_user", "ansible_ssh_user", "ansible_remote_user"),
    "ansible_port": ("ansible_port", "ansible_ssh_port"),
    "ansible_ssh_private_key_file": ("ansible_ssh_private_key_file", "ansible_private_key_file"),
}


@dataclass(frozen=True, slots=True)
class AnsibleInventory:
    """`ansible-inventory --list` output, as read."""

    doc: J
    source: str  # the inventory it came from, for the comments


def _ansible_inventory() -> str | None:
    found = shutil.which("ansible-inventory")
    if found:
        return found
    beside = Path(sys.executable).parent / "ansible-inventory"  # a venv not on PATH
    return str(beside) if beside.exists() else None


def _looks_listed(text: str) -> Any:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and ("_meta" in doc or "all" in doc) else None


def load_ansible(path: Path) -> AnsibleInventory:
    """Read `ansible-inventory --list` JSON, or have ansible-core parse the inventory."""
    if path.is_file():
        text = read_text(path, "Ansible inventory")
        listed = _looks_listed(text)
        if listed is not None:
            return AnsibleInventory(J(listed, str(path)), path.name)
    elif not path.exists():
        raise InventoryError("Ansible inventory not found", location=Location(str(path)))
    exe = _ansible_inventory()
    if exe is None:
        raise InventoryError(
            "not `ansible-inventory --list` JSON, and ansible-core is not installed to parse "
            "it; install it (pip install 'netcheck[ansible]') or pass the output of "
            f"`{LIST_CMD}`",
            location=Location(str(path)),
        )
    env = dict(os.environ)
    # an inventory ansible can't parse is an error, not a warning and an empty inventory
    env.update(ANSIBLE_INVENTORY_UNPARSED_FAILED="1", ANSIBLE_NOCOLOR="1")
    try:
        proc = subprocess.run(
            [exe, "-i", str(path), "--list"],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InventoryError(f"`{exe} -i {path} --list` failed: {exc}") from None
    if proc.returncode != 0:
        raise InventoryError(
            f"ansible-inventory could not parse it:\n{proc.stderr.strip()[-2000:]}",
            location=Location(str(path)),
        )
    listed = _looks_listed(proc.stdout)
    if listed is None:
        raise InventoryError(
            f"ansible-inventory printed no inventory JSON: {proc.stdout[:200]!r}",
            location=Location(str(path)),
        )
    return AnsibleInventory(J(listed, f"{path} (ansible-inventory --list)"), path.name)


def _groups(doc: J) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, J]]:
    """host → its direct groups, group → its parents, group → its vars."""
    direct: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    gvars: dict[str, J] = {}
    for name, group in doc.items():
        if name == "_meta":
            continue
        for h in group.elements_of("hosts"):
            direct.setdefault(h.text(), []).append(name)
        for child in group.elements_of("children"):
            parents.setdefault(child.text(), []).append(name)
        if group.has("vars"):
            gvars[name] = group.key("vars")
    return direct, parents, gvars


def _ancestry(groups: list[str], parents: dict[str, list[str]]) -> list[str]:
    """The groups and every ancestor, most general first (Ansible's precedence order)."""
    depth: dict[str, int] = {}

    def walk(g: str, d: int, seen: frozenset[str]) -> None:
        if g in seen:
            return  # a cycle: ansible refuses it, a hand-written JSON might not
        depth[g] = max(depth.get(g, 0), d)
        for p in parents.get(g, []):
            walk(p, d + 1, seen | {g})

    for g in groups:
        walk(g, 0, frozenset())
    return sorted(depth, key=lambda g: (-depth[g], g))


def _var(hostvars: dict[str, tuple[Any, str]], key: str) -> tuple[Any, str] | None:
    for alias in _ALIASES.get(key, (key,)):
        if alias in hostvars and hostvars[alias][0] is not None:
            return hostvars[alias]
    return None


def _draft(
    name: str, hostvars: dict[str, tuple[Any, str]], groups: list[str], source: str
) -> HostDraft:
    todos: list[str] = []
    agent: list[tuple[str, Sourced]] = []
    got = _var(hostvars, "ansible_host")
    address_text, address_origin = (
        (str(got[0]), f"ansible_host ({got[1]})") if got else (name, "the host name")
    )
    try:
        address = str(ipaddress.ip_address(address_text))
    except ValueError:
        address = ""
        todos.append(
            f"{address_origin} is {address_text!r}, not an IP address: netcheck needs the "
            "NIC's address; set ansible_host to it"
        )
    connection = _var(hostvars, "ansible_connection")
    conn = str(connection[0]) if connection else "ssh"
    if conn == "local" and (name == "localhost" or address.startswith("127.")):
        agent.append(("transport", Sourced("local", f"ansible_connection=local on {name}")))
    elif conn == "local":
        # Ansible drives it from the controller (an API target such as vCenter): the
        # host is a destination, no agent runs on it
        agent.append(
            ("transport", Sourced("none", "ansible_connection=local: managed from the controller"))
        )
    elif conn in ("ssh", "paramiko", "smart"):
        said = f"ansible_connection={conn}" if connection else "Ansible's default connection"
        agent.append(("transport", Sourced("ssh", f"{said} (SSH)")))
    else:
        todos.append(
            f"ansible_connection={conn}: netcheck's agent runs over SSH (or local); "
            "enable OpenSSH on the host, or write agent: none for a target only"
        )
    for key, field, kind in (
        ("ansible_user", "user", str),
        ("ansible_port", "port", int),
        ("ansible_python_interpreter", "python", str),
        ("ansible_ssh_private_key_file", "identity", str),
    ):
        got = _var(hostvars, key)
        if got is None or conn == "local":  # no SSH to it
            continue
        value, origin = got
        if key == "ansible_python_interpreter" and str(value).startswith("auto"):
            continue  # interpreter discovery: the agent finds python3 itself
        try:
            typed = kind(value)
        except (TypeError, ValueError):
            todos.append(f"{key}={value!r} ({origin}) is not a {kind.__name__}")
            continue
        agent.append((field, Sourced(typed, f"{key} ({origin})")))
    nics = (NicDraft("nic0", address, address_origin),) if address else ()
    shown = [g for g in groups if g not in ("all", "ungrouped")]
    return HostDraft(
        name=name,
        origin=f"Ansible inventory {source}"
        + (f", groups {', '.join(shown)}" if shown else ", no group"),
        nics=nics,
        agent=tuple(agent),
        todos=tuple(todos),
        groups=tuple(shown),
    )


def hosts_from_inventory(inv: AnsibleInventory) -> list[HostDraft]:
    """One draft per inventory host, in the inventory's order; roles and sites come later."""
    doc = inv.doc
    doc.mapping()
    direct, parents, gvars = _groups(doc)
    meta = doc.opt("_meta")
    hostvars_doc = meta.opt("hostvars") if meta is not None else None
    names: dict[str, None] = dict.fromkeys(direct)
    if hostvars_doc is not None:
        names.update(dict.fromkeys(k for k, _ in hostvars_doc.items()))
    drafts = []
    for name in names:
        groups = _ancestry(direct.get(name, []), parents)
        merged: dict[str, tuple[Any, str]] = {}
        for g in ["all", *[g for g in groups if g != "all"]]:  # general → specific
            if g in gvars:
                for k, v in gvars[g].items():
                    merged[k] = (v.value, f"group {g} vars")
        if hostvars_doc is not None and hostvars_doc.has(name):
            for k, v in hostvars_doc.key(name).items():
                merged[k] = (v.value, f"hostvars of {name}")
        drafts.append(_draft(name, merged, groups, inv.source))
    if not drafts:
        doc.fail(f"no host in the inventory; expected the output of `{LIST_CMD}`")
    return drafts
