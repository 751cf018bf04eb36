"""The failback inventory: what the readiness checks need to know about the machines.

Two optional parts of topology format v1 (see docs/readiness.md):

- `hosts.NAME.inventory:` — facts about one machine. Which keys a host may carry
  depends on its roles (a master target's SCSI controller, a protected VM's disk
  count, an ESXi host's datastores, the configuration server's NIC history); a key
  that makes no sense for the host's roles is rejected like an unknown key.
- top-level `failback:` — which master target serves which replication group, and
  the failback policy as the user believes it is set.

Every key is optional: a fact nobody declared is simply absent, and the check that
needs it says `unknown` (never a silent pass). Like the rest of the loader, every
error names file:line:column and the field.

This module imports nothing of `netcheck.topology.model` (the model imports it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netcheck.errors import ConfigError, unknown_key
from netcheck.topology.declare import (
    BOOL,
    NUMBER,
    STRING,
    Key,
    MapOf,
    OneOf,
    Ref,
    Scalar,
    Section,
    anycase,
)
from netcheck.yamlsource import Node

__all__ = [
    "DatastoreKind",
    "FailbackPolicy",
    "FailbackSettings",
    "HostInventory",
    "RetentionVolume",
    "ScsiController",
    "inventory_keys_for",
    "parse_failback",
    "parse_inventory",
    "reference_errors",
]


class ScsiController(enum.Enum):
    """The SCSI controller type of a VMware VM (vSphere's names in brackets)."""

    LSI_LOGIC = "lsilogic"  # LSI Logic Parallel (lsilogic)
    LSI_LOGIC_SAS = "lsilogic_sas"  # LSI Logic SAS (lsisas1068)
    PARAVIRTUAL = "paravirtual"  # VMware Paravirtual (pvscsi)
    BUSLOGIC = "buslogic"  # BusLogic Parallel


_SCSI_ALIASES = {
    "lsilogic": ScsiController.LSI_LOGIC,
    "lsi_logic": ScsiController.LSI_LOGIC,
    "lsi logic": ScsiController.LSI_LOGIC,
    "lsilogic_sas": ScsiController.LSI_LOGIC_SAS,
    "lsilogicsas": ScsiController.LSI_LOGIC_SAS,
    "lsi_logic_sas": ScsiController.LSI_LOGIC_SAS,
    "lsi logic sas": ScsiController.LSI_LOGIC_SAS,
    "lsisas1068": ScsiController.LSI_LOGIC_SAS,
    "paravirtual": ScsiController.PARAVIRTUAL,
    "pvscsi": ScsiController.PARAVIRTUAL,
    "vmware paravirtual": ScsiController.PARAVIRTUAL,
    "buslogic": ScsiController.BUSLOGIC,
}


class DatastoreKind(enum.Enum):
    VMFS = "vmfs"
    NFS = "nfs"
    VSAN = "vsan"
    VVOL = "vvol"


@dataclass(frozen=True, slots=True)
class RetentionVolume:
    """The master target's retention volume (drive letter on Windows, a path on Linux)."""

    path: str | None = None  # None: the documented default for the MT's OS (R: / /mnt/retention)
    filesystem: str | None = None  # as the OS names it: ntfs, refs, ext4, xfs, vfat, fat32, ...
    capacity_gb: float | None = None
    is_cache_volume: bool | None = None  # the volume the PS/MT software is installed on
    used_for_other: bool | None = None  # e.g. a replication target
    locked: bool | None = None  # BitLocker-locked / read-only


@dataclass(frozen=True, slots=True)
class HostInventory:
    """Declared facts about one host; every field optional (absent = not declared)."""

    # master target and protected VMs
    os_version: str | None = None
    disks: int | None = None  # a VM's disks; for a master target, disks of its own
    # master target
    snapshots: bool | None = None
    scsi_controller: ScsiController | None = None
    disk_enable_uuid: bool | None = None
    vmware_tools: bool | None = None
    storage_vmotion_excluded: bool | None = None
    esxi_host: str | None = None
    retention: RetentionVolume | None = None
    # protected VM
    master_target: str | None = None
    churn_gb_per_day: float | None = None
    peak_churn_mb_s: float | None = None
    # ESXi host
    datastores: tuple[tuple[str, DatastoreKind], ...] = ()
    # configuration server
    nics_added_before_registration: bool | None = None
    vcpus: int | None = None
    memory_gb: float | None = None
    declared: bool = False  # an `inventory:` section was given


@dataclass(frozen=True, slots=True)
class FailbackPolicy:
    """The failback replication policy as declared; ASR fixes it at 15 min / 24 h / 60 min."""

    rpo_threshold_min: float | None = None
    retention_hours: float | None = None
    app_consistent_min: float | None = None


@dataclass(frozen=True, slots=True)
class FailbackSettings:
    """The topology's `failback:` section."""

    groups: tuple[tuple[str, str], ...] = ()  # replication group -> master target host
    policy: FailbackPolicy | None = None
    declared: bool = False

    def master_target_of_group(self, group: str) -> str | None:
        for g, mt in self.groups:
            if g == group:
                return mt
        return None


_MT, _VM, _ESXI, _CS = "master_target", "protected_vm", "esxi", "config_server"
_INVENTORY = Section(
    "inventory",
    "Declared facts about one machine, for the readiness checks. Which keys a host may "
    "carry depends on its roles; a fact nobody declared makes its check `unknown`.",
    (
        Key(
            "os_version",
            OneOf((STRING, Scalar("integer"))),
            "The OS version, as a string: '2019', '8.10', '20.04' (a YAML number loses trailing zeros).",
            roles=(_MT, _VM),
        ),
        Key(
            "disks",
            Scalar("integer", minimum=0, maximum=4096),
            "A VM's disks; for a master target, the disks of its own.",
            roles=(_MT, _VM),
        ),
        Key("snapshots", BOOL, "The VM has snapshots (a master target must not).", roles=(_MT,)),
        Key(
            "scsi_controller",
            Scalar(
                "string",
                pattern=anycase(*_SCSI_ALIASES),
                examples=tuple(c.value for c in ScsiController),
            ),
            "The SCSI controller type (vSphere's names are accepted too: lsisas1068, pvscsi).",
            roles=(_MT,),
        ),
        Key("disk_enable_uuid", BOOL, "The VM's `disk.EnableUUID` is true.", roles=(_MT,)),
        Key("vmware_tools", BOOL, "VMware Tools / open-vm-tools run on it.", roles=(_MT,)),
        Key(
            "storage_vmotion_excluded",
            BOOL,
            "The VM is excluded from Storage vMotion.",
            roles=(_MT,),
        ),
        Key("esxi_host", STRING, "The esxi host (of this topology) it runs on.", roles=(_MT,)),
        Key(
            "retention",
            OneOf((STRING, Ref("retention"))),
            "The retention volume: its path (`R:`, `/mnt/retention`) or its facts.",
            roles=(_MT,),
        ),
        Key(
            "master_target",
            STRING,
            "The master_target host (of this topology) the VM fails back to.",
            roles=(_VM,),
        ),
        Key("churn_gb_per_day", NUMBER, "The VM's data change rate, in GB a day.", roles=(_VM,)),
        Key("peak_churn_mb_s", NUMBER, "The VM's peak data change rate, in MB/s.", roles=(_VM,)),
        Key(
            "datastores",
            MapOf(
                Scalar(
                    "string",
                    pattern=anycase(*(k.value for k in DatastoreKind)),
                    examples=tuple(k.value for k in DatastoreKind),
                )
            ),
            "The ESXi host's datastores: name → type (vmfs, nfs, vsan, vvol).",
            roles=(_ESXI,),
        ),
        Key(
            "nics_added_before_registration",
            BOOL,
            "The configuration server's NICs were all added before it was registered.",
            roles=(_CS,),
        ),
        Key(
            "vcpus",
            Scalar("integer", minimum=1, maximum=1024),
            "The configuration server's vCPUs.",
            roles=(_CS,),
        ),
        Key("memory_gb", NUMBER, "The configuration server's memory, in GB.", roles=(_CS,)),
    ),
)
# role value -> the inventory keys it allows (a host gets the union over its roles)
_KEYS_BY_ROLE: dict[str, frozenset[str]] = {
    role: frozenset(k.name for k in _INVENTORY.fields if role in k.roles)
    for role in (_MT, _VM, _ESXI, _CS)
}
_RETENTION = Section(
    "retention",
    "The master target's retention volume.",
    (
        Key(
            "path",
            STRING,
            "A drive letter (Windows) or a directory (Linux).",
            default_doc="`R:` (Windows), `/mnt/retention` (Linux)",
        ),
        Key("filesystem", STRING, "As the OS names it: ntfs, refs, ext4, xfs, vfat, fat32, ..."),
        Key("capacity_gb", NUMBER, "Its capacity, in GB."),
        Key("is_cache_volume", BOOL, "It is the volume the PS/MT software is installed on."),
        Key("used_for_other", BOOL, "It is used for something else (e.g. a replication target)."),
        Key("locked", BOOL, "It is BitLocker-locked or read-only."),
    ),
)
_RETENTION_KEYS = _RETENTION.keys


def inventory_keys_for(roles: tuple[str, ...] | list[str]) -> frozenset[str]:
    keys: set[str] = set()
    for r in roles:
        keys |= _KEYS_BY_ROLE.get(r, frozenset())
    return frozenset(keys)


def _version(node: Node) -> str:
    v = node.value
    if isinstance(v, bool):
        node.fail(f"expected a version such as '2019' or '20.04', found {node.describe()}")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        node.fail(
            f"write the version as a string, e.g. '{v}' in quotes "
            "(a YAML number loses trailing zeros: 8.10 becomes 8.1)"
        )
    text = node.as_str().strip()
    if not text:
        node.fail("the version is empty")
    return text


def _scsi(node: Node) -> ScsiController:
    text = node.as_str().strip().lower()
    if text not in _SCSI_ALIASES:
        node.fail(
            f"unknown SCSI controller {text!r}; expected one of: "
            + ", ".join(c.value for c in ScsiController)
        )
    return _SCSI_ALIASES[text]


def _retention(node: Node) -> RetentionVolume:
    if isinstance(node.value, str):  # shorthand: `retention: R:` or `retention: /mnt/retention`
        return RetentionVolume(path=node.as_str().strip() or node.fail("the path is empty"))
    m = node.as_mapping(_RETENTION_KEYS)
    path = None
    if "path" in m:
        path = m["path"].as_str().strip()
        if not path:
            m["path"].fail("the path is empty; give a drive letter (R:) or a directory")
    return RetentionVolume(
        path=path,
        filesystem=m["filesystem"].as_str().strip().lower() if "filesystem" in m else None,
        capacity_gb=m["capacity_gb"].as_number(lo=0) if "capacity_gb" in m else None,
        is_cache_volume=m["is_cache_volume"].as_bool() if "is_cache_volume" in m else None,
        used_for_other=m["used_for_other"].as_bool() if "used_for_other" in m else None,
        locked=m["locked"].as_bool() if "locked" in m else None,
    )


def _datastores(node: Node) -> tuple[tuple[str, DatastoreKind], ...]:
    out = []
    for name, kind_node in node.as_mapping().items():
        text = kind_node.as_str().strip().lower()
        try:
            kind = DatastoreKind(text)
        except ValueError:
            kind_node.fail(
                f"unknown datastore type {text!r}; expected one of: "
                + ", ".join(k.value for k in DatastoreKind)
            )
        out.append((name, kind))
    return tuple(out)


def parse_inventory(node: Node, roles: tuple[str, ...]) -> HostInventory:
    """`hosts.NAME.inventory:` → HostInventory; keys allowed by the host's roles only."""
    allowed = inventory_keys_for(roles)
    if not isinstance(node.value, dict):
        node.fail(f"expected a mapping, found {node.describe()}")
    for key, child in node.value.items():
        if key not in allowed:
            owners = sorted(r for r, keys in _KEYS_BY_ROLE.items() if key in keys)
            if owners:
                msg = f"{key!r} is an inventory key of role {' / '.join(owners)}, "
                msg += f"and this host's roles are {', '.join(roles)}"
            else:
                every = sorted(set().union(*_KEYS_BY_ROLE.values()))
                msg = unknown_key(key, allowed or every)
            raise ConfigError(msg, location=child.key_location or child.location, field=child.field)
    m = node.as_mapping(allowed)

    def num(key: str) -> float | None:
        return m[key].as_number(lo=0) if key in m else None

    def flag(key: str) -> bool | None:
        return m[key].as_bool() if key in m else None

    def name(key: str) -> str | None:
        return m[key].as_str().strip() if key in m else None

    return HostInventory(
        os_version=_version(m["os_version"]) if "os_version" in m else None,
        disks=m["disks"].as_int(lo=0, hi=4096) if "disks" in m else None,
        snapshots=flag("snapshots"),
        scsi_controller=_scsi(m["scsi_controller"]) if "scsi_controller" in m else None,
        disk_enable_uuid=flag("disk_enable_uuid"),
        vmware_tools=flag("vmware_tools"),
        storage_vmotion_excluded=flag("storage_vmotion_excluded"),
        esxi_host=name("esxi_host"),
        retention=_retention(m["retention"]) if "retention" in m else None,
        master_target=name("master_target"),
        churn_gb_per_day=num("churn_gb_per_day"),
        peak_churn_mb_s=num("peak_churn_mb_s"),
        datastores=_datastores(m["datastores"]) if "datastores" in m else (),
        nics_added_before_registration=flag("nics_added_before_registration"),
        vcpus=m["vcpus"].as_int(lo=1, hi=1024) if "vcpus" in m else None,
        memory_gb=num("memory_gb"),
        declared=True,
    )


_POLICY = Section(
    "policy",
    "The failback replication policy as you believe it is set (ASR fixes it at 15 min / 24 h / 60 min).",
    (
        Key("rpo_threshold_min", NUMBER, "The RPO threshold, in minutes."),
        Key("retention_hours", NUMBER, "How long recovery points are kept, in hours."),
        Key("app_consistent_min", NUMBER, "The app-consistent snapshot frequency, in minutes."),
    ),
)
_FAILBACK = Section(
    "failback",
    "Which master target serves which replication group, and the failback policy.",
    (
        Key(
            "groups",
            MapOf(STRING, key_label="GROUP"),
            "Replication group → the master_target host that serves it.",
        ),
        Key("policy", Ref("policy"), "The failback policy as declared."),
    ),
)


def _policy(node: Node) -> FailbackPolicy:
    m = node.as_mapping(_POLICY.keys)
    return FailbackPolicy(
        rpo_threshold_min=m["rpo_threshold_min"].as_number(lo=0)
        if "rpo_threshold_min" in m
        else None,
        retention_hours=m["retention_hours"].as_number(lo=0) if "retention_hours" in m else None,
        app_consistent_min=m["app_consistent_min"].as_number(lo=0)
        if "app_consistent_min" in m
        else None,
    )


def parse_failback(node: Node) -> FailbackSettings:
    """Top-level `failback: {groups: {GROUP: MT}, policy: {...}}`."""
    m = node.as_mapping(_FAILBACK.keys)
    groups = (
        tuple((group, mt_node.as_str().strip()) for group, mt_node in m["groups"].items())
        if "groups" in m
        else ()
    )
    return FailbackSettings(
        groups=groups,
        policy=_policy(m["policy"]) if "policy" in m else None,
        declared=True,
    )


def reference_errors(
    inventory_nodes: dict[str, Node],
    failback_node: Node | None,
    host_roles: dict[str, tuple[str, ...]],
    host_groups: dict[str, tuple[str, ...]],
) -> list[ConfigError]:
    """Check the names an inventory refers to: esxi_host, master_target, failback.groups."""
    errors: list[ConfigError] = []

    def want(node: Node, role: str, what: str) -> str:
        name = node.as_str().strip()
        if name not in host_roles:
            errors.append(
                node.error(f"unknown host {name!r}; {what} names a host of this topology")
            )
        elif role not in host_roles[name]:
            errors.append(
                node.error(f"host {name!r} does not have role {role}; {what} must name one")
            )
        return name

    group_mt: dict[str, str] = {}
    if failback_node is not None and isinstance(failback_node.value, dict):
        groups_node = failback_node.value.get("groups")
        if groups_node is not None and isinstance(groups_node.value, dict):
            known_groups = {g for gs in host_groups.values() for g in gs}
            for group, mt_node in groups_node.value.items():
                if group not in known_groups:
                    errors.append(
                        mt_node.error(
                            f"no host is in replication group {group!r}; groups in use: "
                            + (", ".join(sorted(known_groups)) or "none")
                        )
                    )
                group_mt[group] = want(mt_node, "master_target", "a replication group")
    for host, node in inventory_nodes.items():
        if not isinstance(node.value, dict):
            continue
        if "esxi_host" in node.value:
            want(node.value["esxi_host"], "esxi", "esxi_host")
        if "master_target" in node.value:
            mt_node = node.value["master_target"]
            mt = want(mt_node, "master_target", "master_target")
            for g in host_groups.get(host, ()):
                if g in group_mt and group_mt[g] != mt:
                    errors.append(
                        mt_node.error(
                            f"{host} is in replication group {g!r}, which failback.groups gives "
                            f"to {group_mt[g]!r}: every VM of a group must use the same master "
                            "target"
                        )
                    )
    return errors
