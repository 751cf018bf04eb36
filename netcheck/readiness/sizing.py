"""Sizing hints from declared churn and machine counts, against the capacity guide:
a process server handles up to 2 TB of changes a day, a VM may churn at most 54 MB/s at
peak, the configuration server's size bands, and 60 disks per master target.
"""

from __future__ import annotations

import math

from netcheck.readiness.assignment import MAX_DISKS_PER_MT
from netcheck.readiness.model import DOC_CAPACITY, Fact, Finding, Source, Verdict
from netcheck.topology.model import Role, Topology

__all__ = ["CS_BANDS", "PEAK_CHURN_MB_S", "PS_DAILY_GB", "check_sizing"]

PS_DAILY_GB = 2000.0  # "up to 2 TB" a day (the guide's TB is 1000 GB: 500 GB = 0.5 TB)
PEAK_CHURN_MB_S = 54.0
# (vCPUs, memory GB, daily churn up to GB, machines up to)
CS_BANDS = (
    (8, 16.0, 500.0, 100),
    (12, 18.0, 1000.0, 150),
    (16, 32.0, 2000.0, 200),
)


def _process_servers(topo: Topology, vm_sites: set[str]) -> list[str]:
    """Process servers that can serve the failed-over VMs (in their sites; any if none)."""
    pss = topo.hosts_with(Role.PROCESS_SERVER)
    near = [ps.name for ps in pss if ps.site in vm_sites]
    return near or [ps.name for ps in pss]


def check_sizing(topo: Topology) -> list[Finding]:
    vms = topo.hosts_with(Role.PROTECTED_VM)
    out: list[Finding] = []
    churn = [(vm.name, vm.inventory.churn_gb_per_day) for vm in vms]
    declared = [c for _, c in churn if c is not None]
    missing = [n for n, c in churn if c is None]
    total = sum(declared)
    pss = _process_servers(topo, {vm.site for vm in vms})
    facts = [
        Fact("churn_gb_per_day_total", round(total, 3), Source.DERIVED),
        Fact("process_servers", len(pss), Source.DERIVED),
        Fact("ps_daily_capacity_gb", PS_DAILY_GB, Source.DOCUMENTED),
    ]
    needed = max(1, math.ceil(total / PS_DAILY_GB)) if total else 1
    add_ps = (
        f"Deploy {needed - len(pss)} more process server(s) in Azure and spread the VMs "
        "(each handles up to 2 TB/day)."
    )
    if not vms:
        pass
    elif not declared:
        msg = "no churn declared (inventory.churn_gb_per_day on the protected VMs)"
        out.append(
            Finding(
                "sizing-process-server",
                "process servers",
                Verdict.UNKNOWN,
                msg,
                tuple(facts),
                "",
                DOC_CAPACITY,
            )
        )
    elif needed > len(pss):
        msg = (
            f"{total:g} GB/day of changes needs {needed} process server(s) at 2 TB/day each; "
            f"the topology has {len(pss)}"
        )
        out.append(
            Finding(
                "sizing-process-server",
                "process servers",
                Verdict.WARN,
                msg,
                tuple(facts),
                add_ps,
                DOC_CAPACITY,
            )
        )
    elif missing:
        msg = f"{total:g} GB/day declared, but not for {', '.join(missing)}"
        out.append(
            Finding(
                "sizing-process-server",
                "process servers",
                Verdict.UNKNOWN,
                msg,
                tuple(facts),
                "",
                DOC_CAPACITY,
            )
        )
    else:
        msg = f"{total:g} GB/day over {len(pss)} process server(s) (up to 2 TB/day each)"
        out.append(
            Finding(
                "sizing-process-server",
                "process servers",
                Verdict.PASS,
                msg,
                tuple(facts),
                "",
                DOC_CAPACITY,
            )
        )

    peaks = [(vm.name, vm.inventory.peak_churn_mb_s) for vm in vms]
    pfacts = tuple(Fact("peak_churn_mb_s", v, Source.DECLARED, n) for n, v in peaks)
    over = [f"{n} {v:g} MB/s" for n, v in peaks if v is not None and v > PEAK_CHURN_MB_S]
    if over:
        msg = f"peak churn above the supported {PEAK_CHURN_MB_S:g} MB/s per VM: {', '.join(over)}"
        hint = (
            "A VM churning faster than 54 MB/s at peak cannot keep its RPO; spread its "
            "writes or exclude busy scratch disks from replication."
        )
        out.append(
            Finding(
                "sizing-peak-churn", "protected VMs", Verdict.WARN, msg, pfacts, hint, DOC_CAPACITY
            )
        )
    elif vms and any(v is not None for _, v in peaks):
        verdict = Verdict.PASS if all(v is not None for _, v in peaks) else Verdict.UNKNOWN
        msg = f"every declared peak is within {PEAK_CHURN_MB_S:g} MB/s per VM"
        if verdict is Verdict.UNKNOWN:
            msg += "; not declared for " + ", ".join(n for n, v in peaks if v is None)
        out.append(
            Finding("sizing-peak-churn", "protected VMs", verdict, msg, pfacts, "", DOC_CAPACITY)
        )

    out += _cs_sizing(topo, len(vms), total if declared else None)

    disks = [vm.inventory.disks for vm in vms]
    mts = topo.hosts_with(Role.MASTER_TARGET)
    if vms and all(d is not None for d in disks):
        n = sum(d or 0 for d in disks)
        need = max(1, math.ceil(n / MAX_DISKS_PER_MT))
        dfacts = (
            Fact("disks_total", n, Source.DERIVED),
            Fact("master_targets", len(mts), Source.DERIVED),
        )
        on_cs = [mt.name for mt in mts if mt.has_role(Role.CONFIG_SERVER)]
        note = (
            f"; {', '.join(on_cs)} is the default master target on the configuration server: "
            "for large traffic volumes deploy a separate one"
            if on_cs and total > CS_BANDS[0][2]
            else ""
        )
        if need > len(mts):
            msg = (
                f"{n} disks need at least {need} master targets at 60 disks each; found {len(mts)}"
            )
            hint = "Deploy another master target (same OS as the VMs it receives)."
            out.append(
                Finding(
                    "sizing-master-targets",
                    "master targets",
                    Verdict.WARN,
                    msg + note,
                    dfacts,
                    hint,
                    DOC_CAPACITY,
                )
            )
        else:
            msg = f"{n} disks over {len(mts)} master target(s) (60 each){note}"
            out.append(
                Finding(
                    "sizing-master-targets",
                    "master targets",
                    Verdict.WARN if note else Verdict.PASS,
                    msg,
                    dfacts,
                    "Deploy a separate master target." if note else "",
                    DOC_CAPACITY,
                )
            )
    return out


def _cs_sizing(topo: Topology, machines: int, daily_gb: float | None) -> list[Finding]:
    out = []
    for cs in topo.hosts_with(Role.CONFIG_SERVER):
        band = next((b for b in CS_BANDS if machines <= b[3] and (daily_gb or 0) <= b[2]), None)
        facts = [
            Fact("protected_machines", machines, Source.DERIVED),
            Fact("churn_gb_per_day_total", daily_gb, Source.DERIVED),
            Fact("vcpus", cs.inventory.vcpus, Source.DECLARED, cs.name),
            Fact("memory_gb", cs.inventory.memory_gb, Source.DECLARED, cs.name),
        ]
        check = "sizing-configuration-server"
        if band is None:
            msg = (
                f"{machines} machines / {daily_gb or 0:g} GB/day is beyond one configuration "
                "server's largest band (16 vCPU / 32 GB: 2 TB/day, 200 machines)"
            )
            hint = "Add scale-out process servers, or split the protected machines over vaults."
            out.append(Finding(check, cs.name, Verdict.WARN, msg, tuple(facts), hint, DOC_CAPACITY))
            continue
        want = f"{band[0]} vCPU / {band[1]:g} GB"
        basis = f"{machines} machines" + (f", {daily_gb:g} GB/day" if daily_gb is not None else "")
        vcpus, mem = cs.inventory.vcpus, cs.inventory.memory_gb
        if vcpus is None or mem is None:
            msg = f"{basis}: the guide sizes it at {want}; its size is not declared"
            out.append(
                Finding(check, cs.name, Verdict.UNKNOWN, msg, tuple(facts), "", DOC_CAPACITY)
            )
        elif vcpus < band[0] or mem < band[1]:
            msg = f"{basis}: the guide sizes it at {want}; it has {vcpus} vCPU / {mem:g} GB"
            out.append(
                Finding(
                    check,
                    cs.name,
                    Verdict.WARN,
                    msg,
                    tuple(facts),
                    f"Resize the configuration server to at least {want}.",
                    DOC_CAPACITY,
                )
            )
        else:
            note = "" if daily_gb is not None else " (no churn declared: sized by machine count)"
            msg = f"{basis}: {vcpus} vCPU / {mem:g} GB meets the guide's {want}{note}"
            out.append(Finding(check, cs.name, Verdict.PASS, msg, tuple(facts), "", DOC_CAPACITY))
    return out
