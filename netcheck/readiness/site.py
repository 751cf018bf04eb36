"""Site-wide checks: the process server's network, the configuration server's NICs and
the failback policy (fixed by ASR)."""

from __future__ import annotations

from netcheck.readiness.model import DOC_PREPARE, Fact, Finding, Source, Verdict
from netcheck.topology.model import Host, PathKind, Role, Topology

__all__ = ["FIXED_POLICY", "check_cs_nics", "check_policy", "check_process_server_network"]

DOC_COMPONENTS = f"{DOC_PREPARE} (Reprotection/failback components)"

# name, documented value, unit, the FailbackPolicy field
FIXED_POLICY = (
    ("rpo_threshold_min", 15.0, "min", "RPO threshold"),
    ("retention_hours", 24.0, "h", "recovery-point retention"),
    ("app_consistent_min", 60.0, "min", "app-consistent snapshot frequency"),
)


def check_policy(topo: Topology) -> list[Finding]:
    declared = topo.failback.policy
    facts: list[Fact] = []
    differs: list[str] = []
    for key, fixed, unit, label in FIXED_POLICY:
        facts.append(Fact(key, fixed, Source.DOCUMENTED))
        value = getattr(declared, key) if declared is not None else None
        if value is not None:
            facts.append(Fact(key, value, Source.DECLARED))
            if value != fixed:
                differs.append(f"{label} {value:g} {unit} (ASR uses {fixed:g} {unit})")
    fixed_text = "RPO threshold 15 min, retention 24 h, app-consistent snapshots every 60 min"
    if differs:
        msg = (
            "the failback policy cannot be edited; the declared "
            + "; ".join(differs)
            + f" does not apply: {fixed_text}"
        )
        hint = "Plan with the fixed values; remove the differing values from failback.policy."
        return [
            Finding(
                "failback-policy", "policy", Verdict.WARN, msg, tuple(facts), hint, DOC_COMPONENTS
            )
        ]
    msg = f"fixed by ASR (created with the replication policy, not editable): {fixed_text}"
    return [
        Finding("failback-policy", "policy", Verdict.PASS, msg, tuple(facts), "", DOC_COMPONENTS)
    ]


def _network_of(host: Host, topo: Topology) -> str | None:
    site = topo.site(host.site)
    for nic in host.nics:
        net = site.network_of(nic.address)
        if net is not None:
            return net
    return None


def check_process_server_network(topo: Topology) -> list[Finding]:
    """PS in the failed-over VMs' Azure network (same site and network), per VM network."""
    pss = topo.hosts_with(Role.PROCESS_SERVER)
    where: dict[tuple[str, str | None], list[str]] = {}
    for vm in topo.hosts_with(Role.PROTECTED_VM):
        where.setdefault((vm.site, _network_of(vm, topo)), []).append(vm.name)
    out: list[Finding] = []
    hint = (
        "Deploy the process server in Azure, in the Azure network of the failed-over VMs "
        "(low latency to them), able to reach the configuration server and the master target."
    )
    for (site, net), vms in where.items():
        subject = f"{site}/{net}" if net else site
        facts = [Fact("network", f"{site}/{net}", Source.DERIVED, vm) for vm in vms]
        same_site = [ps for ps in pss if ps.site == site]
        facts += [
            Fact("network", f"{ps.site}/{_network_of(ps, topo)}", Source.DERIVED, ps.name)
            for ps in pss
        ]
        same_net = [ps.name for ps in same_site if _network_of(ps, topo) == net]
        if same_net:
            msg = f"process server {', '.join(same_net)} is in the VMs' network {subject}"
            out.append(
                Finding(
                    "ps-in-vm-network", subject, Verdict.PASS, msg, tuple(facts), "", DOC_COMPONENTS
                )
            )
        elif same_site:
            names = ", ".join(ps.name for ps in same_site)
            msg = (
                f"process server {names} is in site {site} but not in the VMs' network "
                f"{net}: the docs ask for the failed-over VMs' Azure network"
            )
            out.append(
                Finding(
                    "ps-in-vm-network",
                    subject,
                    Verdict.WARN,
                    msg,
                    tuple(facts),
                    hint,
                    DOC_COMPONENTS,
                )
            )
        elif not pss:
            msg = f"no process server in the topology; failback from {site} needs one"
            out.append(
                Finding(
                    "ps-in-vm-network",
                    subject,
                    Verdict.FAIL,
                    msg,
                    tuple(facts),
                    hint,
                    DOC_COMPONENTS,
                )
            )
        else:
            er = [
                ps.name
                for ps in pss
                if (path := topo.path_between(site, ps.site)) is not None
                and path.kind is PathKind.EXPRESSROUTE
            ]
            if er:
                msg = (
                    f"process server {', '.join(er)} is on-premises, reached over ExpressRoute: "
                    "the docs allow this for a proof of concept only"
                )
                verdict = Verdict.WARN
            else:
                others = ", ".join(f"{ps.name} ({ps.site})" for ps in pss)
                msg = f"no process server in site {site} of the failed-over VMs; found {others}"
                verdict = Verdict.FAIL
            out.append(
                Finding(
                    "ps-in-vm-network", subject, verdict, msg, tuple(facts), hint, DOC_COMPONENTS
                )
            )
    return out


def check_cs_nics(topo: Topology) -> list[Finding]:
    out = []
    for cs in topo.hosts_with(Role.CONFIG_SERVER):
        nics = Fact("nics", len(cs.nics), Source.DECLARED, cs.name)
        flag = Fact(
            "nics_added_before_registration",
            cs.inventory.nics_added_before_registration,
            Source.DECLARED,
            cs.name,
        )
        hint = (
            "NICs cannot be added to a registered configuration server: add the failback NIC, "
            "then register (or re-deploy the configuration server with both NICs)."
        )
        check = "cs-nics-before-registration"
        if len(cs.nics) < 2:
            msg = (
                "one NIC: fine unless IP addresses were retained at failover "
                "(then the configuration server needs a second, failback NIC)"
            )
            out.append(Finding(check, cs.name, Verdict.PASS, msg, (nics,), "", DOC_COMPONENTS))
        elif flag.value is True:
            msg = f"{len(cs.nics)} NICs, added before registration"
            out.append(Finding(check, cs.name, Verdict.PASS, msg, (nics, flag), "", DOC_COMPONENTS))
        elif flag.value is False:
            msg = (
                f"{len(cs.nics)} NICs, but a NIC was added after registration: "
                "ASR does not use NICs added later"
            )
            out.append(
                Finding(check, cs.name, Verdict.FAIL, msg, (nics, flag), hint, DOC_COMPONENTS)
            )
        else:
            msg = (
                f"{len(cs.nics)} NICs; not declared whether they were added before "
                "registration (inventory.nics_added_before_registration)"
            )
            out.append(
                Finding(check, cs.name, Verdict.UNKNOWN, msg, (nics, flag), hint, DOC_COMPONENTS)
            )
    return out
