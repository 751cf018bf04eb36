"""Checks of one master target's own settings and its retention volume.

Each check reads a HostView (live facts over declared ones) and returns one
Finding; a fact nobody declared or read makes it `unknown`, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable

from netcheck.readiness.model import DOC_PREPARE, Fact, Finding, Source, Verdict
from netcheck.readiness.resolve import DEFAULT_RETENTION, FAT_FILESYSTEMS, HostView
from netcheck.topology.inventory import DatastoreKind, ScsiController
from netcheck.topology.model import Topology

__all__ = ["MASTER_TARGET_CHECKS", "check_master_target"]

DOC_MT = f"{DOC_PREPARE} (Deploy a separate master target server)"
DOC_COMPONENTS = f"{DOC_PREPARE} (Reprotection/failback components)"


def _flag(
    view: HostView,
    check: str,
    fact: Fact,
    *,
    good: bool,
    ok: str,
    bad: str,
    missing: str,
    hint: str,
    doc: str = DOC_MT,
) -> Finding:
    name = view.host.name
    if fact.value is None:
        return Finding(check, name, Verdict.UNKNOWN, missing, (fact,), hint, doc)
    if fact.value is good:
        return Finding(check, name, Verdict.PASS, ok, (fact,), "", doc)
    return Finding(check, name, Verdict.FAIL, bad, (fact,), hint, doc)


def snapshots(view: HostView, topo: Topology) -> Finding:
    return _flag(
        view,
        "mt-snapshots",
        view.declared("snapshots", view.inv.snapshots),
        good=False,
        ok="no snapshots on the master target's disks",
        bad="the master target has snapshots: reprotect and failback will fail",
        missing="not declared whether the master target has snapshots (inventory.snapshots)",
        hint="Delete every snapshot of the master target VM (vSphere: Snapshots > Delete All) "
        "and take none while VMs are protected.",
        doc=DOC_COMPONENTS,
    )


def scsi_controller(view: HostView, topo: Topology) -> Finding:
    name = view.host.name
    c = view.inv.scsi_controller
    fact = view.declared("scsi_controller", c.value if c else None)
    hint = (
        "Change the master target VM's SCSI controller type to LSI Logic "
        "(vSphere: Edit Settings > SCSI controller > Change Type); Paravirtual is not supported."
    )
    if c is None:
        msg = "the master target's SCSI controller type is not declared (inventory.scsi_controller)"
        return Finding(
            "mt-scsi-controller", name, Verdict.UNKNOWN, msg, (fact,), hint, DOC_COMPONENTS
        )
    if c is ScsiController.LSI_LOGIC:
        return Finding(
            "mt-scsi-controller",
            name,
            Verdict.PASS,
            "LSI Logic SCSI controller",
            (fact,),
            "",
            DOC_COMPONENTS,
        )
    if c is ScsiController.LSI_LOGIC_SAS:
        msg = (
            "LSI Logic SAS controller: the documentation names only 'LSI Logic'; "
            "confirm reprotect accepts it or switch to LSI Logic (parallel)"
        )
        return Finding("mt-scsi-controller", name, Verdict.WARN, msg, (fact,), hint, DOC_COMPONENTS)
    what = "a Paravirtual" if c is ScsiController.PARAVIRTUAL else "a BusLogic"
    msg = f"{what} SCSI controller: only LSI Logic is supported, reprotect will fail"
    return Finding("mt-scsi-controller", name, Verdict.FAIL, msg, (fact,), hint, DOC_COMPONENTS)


def disk_uuid(view: HostView, topo: Topology) -> Finding:
    return _flag(
        view,
        "mt-disk-enable-uuid",
        view.declared("disk_enable_uuid", view.inv.disk_enable_uuid),
        good=True,
        ok="disk.EnableUUID=TRUE",
        bad="disk.EnableUUID is not TRUE: the VMDKs get no consistent UUID and may not mount",
        missing="disk.EnableUUID not declared (inventory.disk_enable_uuid)",
        hint="Power off the master target VM and add disk.EnableUUID = TRUE under VM Options > "
        "Advanced > Configuration Parameters (add the row if it is missing).",
    )


def vmware_tools(view: HostView, topo: Topology) -> Finding:
    fact = view.vmware_tools()
    f = _flag(
        view,
        "mt-vmware-tools",
        fact,
        good=True,
        ok="VMware Tools / open-vm-tools installed",
        bad="VMware Tools / open-vm-tools not installed: the datastores of the master "
        "target's ESXi host cannot be discovered",
        missing="not declared whether VMware Tools are installed (inventory.vmware_tools)"
        + (
            "" if view.live is None else f"; the agent could not tell: {view.vmware_tools_detail()}"
        ),
        hint="Install VMware Tools (Windows) or open-vm-tools (Linux: apt/yum install "
        "open-vm-tools) on the master target.",
    )
    detail = view.vmware_tools_detail()
    if fact.source is Source.LIVE and detail:
        return Finding(
            f.check, f.subject, f.verdict, f"{f.message} ({detail})", f.facts, f.hint, f.doc
        )
    return f


def storage_vmotion(view: HostView, topo: Topology) -> Finding:
    return _flag(
        view,
        "mt-storage-vmotion",
        view.declared("storage_vmotion_excluded", view.inv.storage_vmotion_excluded),
        good=True,
        ok="excluded from Storage vMotion",
        bad="not excluded from Storage vMotion: a migration after reprotect moves the protected "
        "disks and failback then fails to detach them",
        missing="not declared whether the master target is excluded from Storage vMotion "
        "(inventory.storage_vmotion_excluded)",
        hint="Exclude the master target VM from Storage vMotion / Storage DRS (set its "
        "Storage DRS automation level to Disabled).",
    )


def vmfs_datastore(view: HostView, topo: Topology) -> Finding:
    name = view.host.name
    check = "mt-vmfs-datastore"
    hint = (
        "Attach at least one VMFS datastore to the ESXi host the master target runs on "
        "(NFS datastores are not supported); otherwise the reprotect datastore list is empty."
    )
    esxi = view.inv.esxi_host
    esxi_fact = view.declared("esxi_host", esxi)
    if esxi is None:
        msg = "the ESXi host the master target runs on is not declared (inventory.esxi_host)"
        return Finding(check, name, Verdict.UNKNOWN, msg, (esxi_fact,), hint)
    stores = topo.host(esxi).inventory.datastores
    ds_fact = Fact(
        "datastores", ", ".join(f"{n}:{k.value}" for n, k in stores) or None, Source.DECLARED, esxi
    )
    facts = (esxi_fact, ds_fact)
    if not stores:
        msg = f"the datastores of ESXi host {esxi} are not declared (inventory.datastores)"
        return Finding(check, name, Verdict.UNKNOWN, msg, facts, hint)
    vmfs = [n for n, k in stores if k is DatastoreKind.VMFS]
    if vmfs:
        msg = f"ESXi host {esxi} has VMFS datastore(s): {', '.join(vmfs)}"
        return Finding(check, name, Verdict.PASS, msg, facts)
    kinds = sorted({k.value for _, k in stores})
    nfs = " (NFS is not supported)" if "nfs" in kinds else ""
    msg = f"ESXi host {esxi} has no VMFS datastore, only {', '.join(kinds)}{nfs}"
    return Finding(check, name, Verdict.FAIL, msg, facts, hint)


# --- the retention volume ------------------------------------------------------------

DOC_RETENTION = f"{DOC_PREPARE} (Deploy a separate master target server, step 4)"


def retention_path(view: HostView, topo: Topology) -> Finding:
    name = view.host.name
    check = "retention-path"
    path = view.retention_path()
    facts: list[Fact] = [path]
    family = view.os_family().value
    default = DEFAULT_RETENTION.get(str(family)) if family else None
    note = ""
    if path.value is not None and default is not None and path.value != default:
        note = f"; not the default {default}: pick it explicitly when you reprotect"
    elif path.value is not None and path.value == default:
        note = " (the documented default)"
    hint = (
        f"Add a new disk to the master target, format it (not FAT/FAT32) and mount it at "
        f"{path.value or 'the retention path'}; it appears in the portal within 15 minutes "
        "(refresh the configuration server otherwise)."
    )
    exists = view.retention_exists()
    if exists is not None:
        facts.append(exists)
        if exists.value:
            return Finding(
                check,
                name,
                Verdict.PASS,
                f"retention path {path.value} exists{note}",
                tuple(facts),
                "",
                DOC_RETENTION,
            )
        msg = f"retention path {path.value} does not exist on {name}"
        return Finding(check, name, Verdict.FAIL, msg, tuple(facts), hint, DOC_RETENTION)
    if path.value is None:
        msg = "no retention volume declared and the master target's OS is unknown"
        return Finding(check, name, Verdict.UNKNOWN, msg, tuple(facts), hint, DOC_RETENTION)
    if not view.retention_declared():
        msg = (
            f"no retention volume declared (inventory.retention); the default would be "
            f"{path.value} — run with --live to look on the host"
        )
        return Finding(check, name, Verdict.UNKNOWN, msg, tuple(facts), hint, DOC_RETENTION)
    msg = f"retention volume {path.value} declared{note}"
    return Finding(check, name, Verdict.PASS, msg, tuple(facts), "", DOC_RETENTION)


def _volume_missing(view: HostView) -> bool:
    exists = view.retention_exists()
    return exists is not None and exists.value is False


def retention_filesystem(view: HostView, topo: Topology) -> Finding:
    name = view.host.name
    check = "retention-filesystem"
    fs = view.retention_filesystem()
    hint = "Reformat the retention volume with NTFS/ReFS (Windows) or ext4/xfs (Linux)."
    if _volume_missing(view):
        msg = "the retention path does not exist (see retention-path): no filesystem to check"
        return Finding(check, name, Verdict.UNKNOWN, msg, (fs,), hint, DOC_RETENTION)
    if fs.value is None:
        msg = "the retention volume's filesystem is not declared (inventory.retention.filesystem)"
        return Finding(check, name, Verdict.UNKNOWN, msg, (fs,), hint, DOC_RETENTION)
    if str(fs.value).lower() in FAT_FILESYSTEMS:
        msg = f"the retention volume is FAT ({fs.value}): the master target will not offer it"
        return Finding(check, name, Verdict.FAIL, msg, (fs,), hint, DOC_RETENTION)
    return Finding(
        check,
        name,
        Verdict.PASS,
        f"filesystem {fs.value} (not FAT/FAT32)",
        (fs,),
        "",
        DOC_RETENTION,
    )


def retention_capacity(view: HostView, topo: Topology) -> Finding:
    name = view.host.name
    check = "retention-capacity"
    cap = view.retention_capacity_gb()
    facts = [cap]
    free = view.retention_free_gb()
    if free is not None:
        facts.append(free)
    hint = "Give the retention volume a disk with real capacity (a new, dedicated disk)."
    if _volume_missing(view):
        msg = "the retention path does not exist (see retention-path): no capacity to check"
        return Finding(check, name, Verdict.UNKNOWN, msg, tuple(facts), hint, DOC_RETENTION)
    if cap.value is None:
        msg = "the retention volume's capacity is not declared (inventory.retention.capacity_gb)"
        return Finding(check, name, Verdict.UNKNOWN, msg, tuple(facts), hint, DOC_RETENTION)
    if float(cap.value) <= 0:
        msg = "the retention volume's capacity is zero: the master target will not offer it"
        return Finding(check, name, Verdict.FAIL, msg, tuple(facts), hint, DOC_RETENTION)
    free_txt = f", {free.value} GB free" if free is not None else ""
    return Finding(
        check,
        name,
        Verdict.PASS,
        f"capacity {cap.value} GB{free_txt}",
        tuple(facts),
        "",
        DOC_RETENTION,
    )


def retention_not_cache(view: HostView, topo: Topology) -> Finding:
    ret = view.inv.retention
    fact = view.declared("retention.is_cache_volume", ret.is_cache_volume if ret else None)
    return _flag(
        view,
        "retention-not-cache",
        fact,
        good=False,
        ok="the retention volume is not the cache volume",
        bad="the retention volume is the cache volume (where the process server / master "
        "target software is installed): it is not eligible",
        missing="not declared whether the retention volume is the cache volume "
        "(inventory.retention.is_cache_volume)",
        hint="Use a separate new disk for retention, not the volume the master target "
        "software is installed on.",
        doc=DOC_RETENTION,
    )


def retention_dedicated(view: HostView, topo: Topology) -> Finding:
    name = view.host.name
    check = "retention-dedicated"
    ret = view.inv.retention
    other = view.declared("retention.used_for_other", ret.used_for_other if ret else None)
    locked = view.declared("retention.locked", ret.locked if ret else None)
    facts: list[Fact] = [other, locked]
    mount = view.retention_mount()
    if mount is not None:
        facts += list(mount)
    hint = (
        "Give retention its own new volume, used for nothing else (not a replication target) "
        "and not locked."
    )
    if other.value is True or locked.value is True:
        why = "used for something else (e.g. a replication target)" if other.value else "locked"
        msg = f"the retention volume is {why}: the master target will not offer it"
        return Finding(check, name, Verdict.FAIL, msg, tuple(facts), hint, DOC_RETENTION)
    if mount is not None and mount[0].value is False:
        msg = (
            f"the retention path is not a volume of its own: it lives on {mount[1].value} "
            f"({view.retention_filesystem().value}), shared with whatever else is there"
        )
        return Finding(check, name, Verdict.WARN, msg, tuple(facts), hint, DOC_RETENTION)
    if other.value is None:
        msg = (
            "not declared whether the retention volume is used for anything else "
            "(inventory.retention.used_for_other)"
        )
        return Finding(check, name, Verdict.UNKNOWN, msg, tuple(facts), hint, DOC_RETENTION)
    return Finding(
        check,
        name,
        Verdict.PASS,
        "the retention volume is used only for retention",
        tuple(facts),
        "",
        DOC_RETENTION,
    )


MASTER_TARGET_CHECKS: tuple[Callable[[HostView, Topology], Finding], ...] = (
    snapshots,
    scsi_controller,
    disk_uuid,
    vmware_tools,
    storage_vmotion,
    vmfs_datastore,
    retention_path,
    retention_filesystem,
    retention_capacity,
    retention_not_cache,
    retention_dedicated,
)


def check_master_target(view: HostView, topo: Topology) -> list[Finding]:
    return [check(view, topo) for check in MASTER_TARGET_CHECKS]
