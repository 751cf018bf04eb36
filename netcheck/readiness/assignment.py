"""Which master target receives which VM, and the checks that follow from it:
60 disks per master target, replication groups all-Windows or all-Linux on one
master target, and the master target's OS matching (same or newer) its VMs'.
"""

from __future__ import annotations

from collections.abc import Mapping

from netcheck.readiness.model import DOC_PREPARE, Fact, Finding, Source, Verdict
from netcheck.readiness.resolve import HostView, compare_versions
from netcheck.topology.model import Host, Role, Topology

__all__ = ["MAX_DISKS_PER_MT", "check_assignment", "master_target_of"]

MAX_DISKS_PER_MT = 60
DOC_MT = f"{DOC_PREPARE} (Reprotection/failback components: separate master target server)"


def master_target_of(vm: Host, topo: Topology) -> Fact:
    """The master target that receives `vm` on failback, and how that is known."""
    if vm.inventory.master_target is not None:
        return Fact("master_target", vm.inventory.master_target, Source.DECLARED, vm.name)
    for g in vm.groups:
        mt = topo.failback.master_target_of_group(g)
        if mt is not None:
            return Fact("master_target", mt, Source.DECLARED, vm.name)
    mts = topo.hosts_with(Role.MASTER_TARGET)
    if len(mts) == 1:  # one master target: it receives everything
        return Fact("master_target", mts[0].name, Source.DERIVED, vm.name)
    return Fact("master_target", None, Source.DECLARED, vm.name)


def _disks(mt: HostView, vms: list[Host]) -> Finding:
    name = mt.host.name
    check = "mt-disks"
    facts = [Fact("disks", vm.inventory.disks, Source.DECLARED, vm.name) for vm in vms]
    own = mt.inv.disks
    facts.append(Fact("disks", own, Source.DECLARED, name))
    known = sum(vm.inventory.disks or 0 for vm in vms)
    missing = [vm.name for vm in vms if vm.inventory.disks is None]
    total = Fact("disks_received", known, Source.DERIVED, name)
    facts.insert(0, total)
    hint = (
        f"Deploy another master target and split the VMs between them (at most "
        f"{MAX_DISKS_PER_MT} disks each; a replication group stays on one master target)."
    )
    if known > MAX_DISKS_PER_MT:
        msg = (
            f"{known} disks from {len(vms)} VM(s) fail back to {name}: more than "
            f"{MAX_DISKS_PER_MT} disks on one master target"
        )
        return Finding(check, name, Verdict.FAIL, msg, tuple(facts), hint, DOC_MT)
    if missing:
        msg = f"disk count not declared for {', '.join(missing)} (inventory.disks)"
        return Finding(check, name, Verdict.UNKNOWN, msg, tuple(facts), hint, DOC_MT)
    if not vms:
        return Finding(
            check,
            name,
            Verdict.PASS,
            "no protected VM fails back to this master target",
            tuple(facts),
            "",
            DOC_MT,
        )
    if own is not None and known + own > MAX_DISKS_PER_MT:
        msg = (
            f"{known} disks from the VMs plus {own} of its own = {known + own}, over "
            f"{MAX_DISKS_PER_MT} attached disks"
        )
        return Finding(check, name, Verdict.WARN, msg, tuple(facts), hint, DOC_MT)
    msg = f"{known} disks from {len(vms)} VM(s) (limit {MAX_DISKS_PER_MT})"
    return Finding(check, name, Verdict.PASS, msg, tuple(facts), "", DOC_MT)


def _os_match(mt: HostView, vms: list[Host]) -> Finding:
    name = mt.host.name
    check = "mt-os-match"
    fam = mt.os_family()
    ver = mt.os_version()
    facts: list[Fact] = [fam, ver]
    hint = (
        "Fail back to a master target of the VMs' OS family (Windows VMs to a Windows master "
        "target, Linux to Linux) whose version is the same or newer."
    )
    if not vms:
        return Finding(
            check, name, Verdict.PASS, "no protected VM fails back to it", tuple(facts), "", DOC_MT
        )
    bad: list[str] = []
    unknown: list[str] = []
    odd: list[str] = []
    for vm in vms:
        facts += [
            Fact("os", vm.os, Source.DECLARED, vm.name),
            Fact("os_version", vm.inventory.os_version, Source.DECLARED, vm.name),
        ]
        if vm.os is None or fam.value is None:
            unknown.append(f"{vm.name}: OS family unknown")
            continue
        if vm.os != fam.value:
            bad.append(f"{vm.name} is {vm.os}, {name} is {fam.value}")
            continue
        if vm.inventory.os_version is None or ver.value is None:
            unknown.append(f"{vm.name}: version unknown")
            continue
        sign, note = compare_versions(str(ver.value), vm.inventory.os_version)
        if sign is None:
            odd.append(f"{vm.name}: {note}")
        elif sign < 0:
            bad.append(f"{vm.name} runs {vm.inventory.os_version}, newer than {name}'s {ver.value}")
    if bad:
        return Finding(check, name, Verdict.FAIL, "; ".join(bad), tuple(facts), hint, DOC_MT)
    if odd:
        return Finding(check, name, Verdict.WARN, "; ".join(odd), tuple(facts), hint, DOC_MT)
    if unknown:
        return Finding(check, name, Verdict.UNKNOWN, "; ".join(unknown), tuple(facts), hint, DOC_MT)
    msg = f"{fam.value} {ver.value}: same or newer than its {len(vms)} VM(s)"
    return Finding(check, name, Verdict.PASS, msg, tuple(facts), "", DOC_MT)


def _group_findings(group: str, members: list[Host], topo: Topology) -> list[Finding]:
    os_facts = tuple(Fact("os", vm.os, Source.DECLARED, vm.name) for vm in members)
    families = {vm.os for vm in members}
    hint_os = (
        "Split the group: a replication group must be all Windows or all Linux, because all "
        "its VMs fail back through one master target of their OS."
    )
    if len(families - {None}) > 1:
        by = ", ".join(f"{vm.name}={vm.os}" for vm in members if vm.os)
        os_f = Finding(
            "group-single-os",
            group,
            Verdict.FAIL,
            f"replication group {group!r} mixes Windows and Linux ({by})",
            os_facts,
            hint_os,
            DOC_MT,
        )
    elif None in families:
        missing = ", ".join(vm.name for vm in members if vm.os is None)
        os_f = Finding(
            "group-single-os",
            group,
            Verdict.UNKNOWN,
            f"OS not declared for {missing} (hosts.NAME.os)",
            os_facts,
            hint_os,
            DOC_MT,
        )
    else:
        os_f = Finding(
            "group-single-os",
            group,
            Verdict.PASS,
            f"all {len(members)} VM(s) run {families.pop()}",
            os_facts,
            "",
            DOC_MT,
        )
    mt_facts = tuple(master_target_of(vm, topo) for vm in members)
    targets = {f.value for f in mt_facts}
    hint_mt = (
        f"Name the master target of group {group!r} in failback.groups (every VM of a group "
        "uses the same master target)."
    )
    if len(targets - {None}) > 1:
        mt_f = Finding(
            "group-one-master-target",
            group,
            Verdict.FAIL,
            f"group {group!r} is spread over master targets "
            f"{', '.join(sorted(str(t) for t in targets - {None}))}",
            mt_facts,
            hint_mt,
            DOC_MT,
        )
    elif None in targets:
        mt_f = Finding(
            "group-one-master-target",
            group,
            Verdict.UNKNOWN,
            f"which master target serves group {group!r} is not declared (failback.groups)",
            mt_facts,
            hint_mt,
            DOC_MT,
        )
    else:
        mt_f = Finding(
            "group-one-master-target",
            group,
            Verdict.PASS,
            f"served by {targets.pop()}",
            mt_facts,
            "",
            DOC_MT,
        )
    return [os_f, mt_f]


def check_assignment(topo: Topology, views: Mapping[str, HostView]) -> list[Finding]:
    """Per master target: disks and OS; per VM with no master target: unknown; per group."""
    out: list[Finding] = []
    vms = topo.hosts_with(Role.PROTECTED_VM)
    received: dict[str, list[Host]] = {mt.name: [] for mt in topo.hosts_with(Role.MASTER_TARGET)}
    for vm in vms:
        mt = master_target_of(vm, topo)
        if mt.value is None:
            out.append(
                Finding(
                    "vm-master-target",
                    vm.name,
                    Verdict.UNKNOWN,
                    f"which master target receives {vm.name} on failback is not declared",
                    (mt,),
                    "Set hosts.NAME.inventory.master_target, or the group's master target in "
                    "failback.groups.",
                    DOC_MT,
                )
            )
        elif str(mt.value) in received:
            received[str(mt.value)].append(vm)
    for mt_name, its_vms in received.items():
        view = views[mt_name]
        out += [_disks(view, its_vms), _os_match(view, its_vms)]
    groups: dict[str, list[Host]] = {}
    for vm in vms:
        for g in vm.groups:
            groups.setdefault(g, []).append(vm)
    for group, members in groups.items():
        out += _group_findings(group, members, topo)
    return out
