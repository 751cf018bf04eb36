"""Plan expansion: topology × catalog → ProbeSpecs, without a packet sent."""

from __future__ import annotations

import pytest

from netcheck.appplan import AZURE_NOT_DECLARED
from netcheck.catalog import Evidence, load_catalog
from netcheck.errors import ConfigError, Location
from netcheck.plan import NO_MATCHING_HOSTS, Plan, ProbeSpec, Skipped, build_plan
from netcheck.topology import SweepSettings, load_topology_text

SITE = """\
version: 1
name: plan-site
sites:
  onprem: {networks: {lan: 198.18.2.0/24, failback: 198.18.3.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem]}
hosts:
  cs01:
    site: onprem
    roles: [config_server]
    nics:
      source: {address: 198.18.2.10}
      failback: {address: 198.18.3.10, faces: [azure]}
  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}
  vcenter: {site: onprem, roles: [vcenter], address: 198.18.2.30, agent: none}
  src-win: {site: onprem, roles: [source_machine], os: windows, address: 198.18.2.40}
  src-lnx: {site: onprem, roles: [source_machine], os: linux, address: 198.18.2.41}
  dns01: {site: onprem, roles: [dns_server, ntp_server], address: 198.18.2.53}
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
  vm1: {site: azure, roles: [protected_vm], groups: [app], address: 198.19.1.10}
  vm2: {site: azure, roles: [protected_vm], groups: [app, db], address: 198.19.1.11}
  vm3: {site: azure, roles: [protected_vm], groups: [other], address: 198.19.1.12}
"""


def plan_of(text: str, **kw: object) -> Plan:
    return build_plan(load_topology_text(text, "plan.yaml"), **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site_plan() -> Plan:
    return plan_of(SITE)


def cells(plan: Plan, src: str, dst: str) -> dict[int, ProbeSpec]:
    return {s.port: s for s in plan.specs if s.source_host == src and s.dest_host == dst}


def cell(plan: Plan, src: str, dst: str, port: int) -> ProbeSpec:
    return cells(plan, src, dst)[port]


def skipped(plan: Plan) -> dict[tuple[str, str | None], str]:
    return {(s.rule_id, s.source_host): s.reason for s in plan.skipped}


# --- NIC selection (DESIGN.md: the one rule that makes the dual-NIC CS testable) --------


def test_azure_side_targets_the_failback_nic(site_plan: Plan) -> None:
    for src in ("vm1", "vm2", "vm3", "ps-azure"):
        s = cell(site_plan, src, "cs01", 443)
        assert (s.dest_nic, s.dest_address) == ("failback", "198.18.3.10"), src


def test_on_premises_side_targets_the_source_nic(site_plan: Plan) -> None:
    s = cell(site_plan, "mt01", "cs01", 443)
    assert (s.dest_nic, s.dest_address) == ("source", "198.18.2.10")


def test_multi_nic_source_binds_to_the_nic_facing_the_destination() -> None:
    plan = plan_of(
        SITE + "rules:\n  - {id: cs-to-ps, from: 'host:cs01', to: process_server, port: 9443}\n"
    )
    to_azure = cell(plan, "cs01", "ps-azure", 9443)
    assert (to_azure.source_nic, to_azure.source_address) == ("failback", "198.18.3.10")
    on_prem = cell(plan, "cs01", "vcenter", 443)
    assert (on_prem.source_nic, on_prem.source_address) == ("source", "198.18.2.10")
    assert to_azure.cell_id == "cs01/failback>ps-azure/nic0:tcp/9443"


def test_single_nic_hosts_use_nic0(site_plan: Plan) -> None:
    s = cell(site_plan, "ps-azure", "mt01", 9443)
    assert (s.source_nic, s.source_address, s.dest_nic, s.dest_address) == (
        "nic0",
        "198.19.1.4",
        "nic0",
        "198.18.2.20",
    )


# --- the matrix the catalog asks for -----------------------------------------------------


def test_cells_of_the_site(site_plan: Plan) -> None:
    got = {(s.source_host, s.dest_host, s.port) for s in site_plan.specs}
    vms = ("vm1", "vm2", "vm3")
    expected = (
        {(vm, "cs01", 443) for vm in vms}  # vm-to-cs-https
        | {(vm, "ps-azure", 9443) for vm in vms}  # vm-to-ps-data
        | {("vm1", "vm2", 20004), ("vm2", "vm1", 20004)}  # vm-to-vm-consistency (group app)
        | {("cs01", "vcenter", 443)}  # cs-to-vcenter
        | {("cs01", "src-win", 445), ("cs01", "src-win", 135), ("cs01", "src-lnx", 22)}
        | {("ps-azure", "cs01", 443), ("ps-azure", "mt01", 9443), ("mt01", "cs01", 443)}
        | {("mt01", "vcenter", 443)}  # mt-to-vcenter
        | {("cs01", "dns01", 53), ("ps-azure", "dns01", 53)}  # dns-udp and dns-tcp
        | {("cs01", "dns01", 123), ("ps-azure", "dns01", 123)}  # ntp
    )
    assert got == expected
    # one spec per cell, no duplicates: DNS is one UDP and one TCP cell per resolver
    assert len(site_plan.specs) == len(expected) + 2


def test_cell_fields(site_plan: Plan) -> None:
    s = cell(site_plan, "ps-azure", "mt01", 9443)
    assert s.cell_id == "ps-azure/nic0>mt01/nic0:tcp/9443"
    assert (s.proto, s.port, s.documented_port, s.kind) == ("tcp", 9443, 9443, "tcp_connect")
    assert s.rule_ids == ("ps-to-mt-data",) and s.rule_id == "ps-to-mt-data"
    assert s.evidence is Evidence.INFERRED
    assert s.expect_reachable
    assert s.column == "mt01:9443"
    assert s.row == "ps-azure (nic0 198.19.1.4)"


def test_same_group_rule(site_plan: Plan) -> None:
    assert 20004 in cells(site_plan, "vm1", "vm2")
    assert 20004 in cells(site_plan, "vm2", "vm1")
    for a, b in (("vm1", "vm3"), ("vm3", "vm1"), ("vm2", "vm3"), ("vm3", "vm2")):
        assert 20004 not in cells(site_plan, a, b), (a, b)


def test_dest_os_rule(site_plan: Plan) -> None:
    assert set(cells(site_plan, "cs01", "src-win")) == {445, 135}
    assert set(cells(site_plan, "cs01", "src-lnx")) == {22}


def test_source_machine_without_os_gets_every_push_install_port() -> None:
    plan = plan_of(SITE.replace("os: linux, ", ""))
    assert set(cells(plan, "cs01", "src-lnx")) == {445, 135, 22}


def test_same_site_scope(site_plan: Plan) -> None:
    # the Azure PS does not push-install on-premises machines, nor discover vCenter
    for dst in ("src-win", "src-lnx", "vcenter"):
        assert cells(site_plan, "ps-azure", dst) == {}, dst


def test_same_site_scope_applies_for_an_on_premises_ps() -> None:
    plan = plan_of(
        SITE + "  ps-onprem: {site: onprem, roles: [process_server], address: 198.18.2.50}\n"
    )
    assert set(cells(plan, "ps-onprem", "vcenter")) == {443}
    assert set(cells(plan, "ps-onprem", "src-win")) == {445, 135}


def test_port_override_moves_the_replication_cells() -> None:
    plan = plan_of(SITE.replace("name: plan-site\n", "name: p\nports: {replication_data: 9444}\n"))
    for src, dst in (("ps-azure", "mt01"), ("vm1", "ps-azure")):
        s = cell(plan, src, dst, 9444)
        assert (s.port, s.documented_port) == (9444, 9444)
        assert 9443 not in cells(plan, src, dst)
    # a fixed port does not move
    assert 443 in cells(plan, "vm1", "cs01")


def test_vcenter_override_and_remap() -> None:
    text = SITE.replace(
        "name: plan-site\n", "name: p\nports: {vcenter: 8443, remap: {8443: 18443, 443: 10443}}\n"
    )
    plan = plan_of(text)
    s = cell(plan, "cs01", "vcenter", 18443)
    assert (s.port, s.documented_port) == (18443, 8443)
    assert s.cell_id.endswith(":tcp/18443")  # the cell is named by the port probed
    https = cell(plan, "vm1", "cs01", 10443)
    assert https.documented_port == 443


def test_self_flows_are_skipped() -> None:
    # the default master target runs on the configuration server: no MT → CS probe to itself
    text = SITE.replace("roles: [config_server]", "roles: [config_server, master_target]").replace(
        "  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}\n", ""
    )
    plan = plan_of(text)
    assert all(s.source_host != s.dest_host for s in plan.specs)
    assert cells(plan, "cs01", "cs01") == {}
    # only a self-flow for mt-to-cs-https: nothing to probe, and the plan says so
    assert skipped(plan)[("mt-to-cs-https", None)] == NO_MATCHING_HOSTS
    # PS → MT now lands on the CS host's failback NIC
    s = cell(plan, "ps-azure", "cs01", 9443)
    assert (s.dest_nic, s.rule_ids) == ("failback", ("ps-to-mt-data",))


def test_sources_without_agent_are_listed_as_skipped() -> None:
    plan = plan_of(
        SITE.replace(
            "groups: [other], address: 198.19.1.12}",
            "groups: [other], address: 198.19.1.12, agent: none}",
        )
    )
    assert all(s.source_host != "vm3" for s in plan.specs)
    sk = skipped(plan)
    for rid in ("vm-to-cs-https", "vm-to-ps-data"):
        assert sk[(rid, "vm3")] == "no agent on vm3 (agent: none)"
    # the other VMs still probe from their own agents
    assert 443 in cells(plan, "vm1", "cs01") and 443 in cells(plan, "vm2", "cs01")
    # one entry per (rule, host), however many destinations
    assert len([s for s in plan.skipped if s.source_host == "vm3"]) == 2


def test_merged_cells_carry_every_rule() -> None:
    # a host that is both CS and PS: cs-to-vcenter and ps-to-vcenter ask for the same cell
    plan = plan_of(SITE.replace("roles: [config_server]", "roles: [config_server, process_server]"))
    (s,) = [x for x in plan.specs if x.source_host == "cs01" and x.dest_host == "vcenter"]
    assert s.rule_ids == ("cs-to-vcenter", "ps-to-vcenter")
    assert s.evidence is Evidence.DOCUMENTED


def test_user_rule_merging_into_a_catalog_cell() -> None:
    plan = plan_of(
        SITE + "rules:\n  - {id: extra, from: process_server, to: master_target, port: 9443}\n"
    )
    s = cell(plan, "ps-azure", "mt01", 9443)
    assert s.rule_ids == ("ps-to-mt-data", "extra")
    assert s.evidence is Evidence.INFERRED  # a user rule does not promote the evidence
    # and a documented rule does
    plan = plan_of(
        SITE + "rules:\n  - {id: extra, from: protected_vm, to: config_server, port: 443}\n"
    )
    s = cell(plan, "vm1", "cs01", 443)
    assert (s.rule_ids, s.evidence) == (("vm-to-cs-https", "extra"), Evidence.DOCUMENTED)


def test_contradicting_rules_are_a_config_error() -> None:
    text = (
        SITE
        + "rules:\n  - {id: no-https, from: protected_vm, to: config_server, port: 443, expect: blocked}\n"
    )
    topo = load_topology_text(text, "plan.yaml")  # valid on its own: the clash is in the plan
    with pytest.raises(ConfigError) as ei:
        build_plan(topo)
    msg = ei.value.message
    assert "'vm-to-cs-https' and 'no-https' contradict each other" in msg
    assert "vm1 → cs01:443" in msg


def test_negative_user_rule() -> None:
    plan = plan_of(
        SITE
        + "rules:\n  - {id: no-rdp, from: protected_vm, to: 'host:ps-azure', port: 3389, expect: blocked}\n"
    )
    negs = [s for s in plan.specs if not s.expect_reachable]
    assert {(s.source_host, s.dest_host, s.port) for s in negs} == {
        ("vm1", "ps-azure", 3389),
        ("vm2", "ps-azure", 3389),
        ("vm3", "ps-azure", 3389),
    }
    assert all(s.evidence is Evidence.USER and s.rule_ids == ("no-rdp",) for s in negs)
    assert plan.rule("no-rdp").hint == "Block TCP 3389 on this path: it must not be reachable."


def test_user_rule_between_named_hosts() -> None:
    plan = plan_of(SITE + "rules:\n  - {id: mgmt, from: 'host:mt01', to: 'host:vm1', port: 22}\n")
    s = cell(plan, "mt01", "vm1", 22)
    assert (s.rule_ids, s.path) == (("mgmt",), "s2s-vpn")
    assert [x for x in plan.specs if "mgmt" in x.rule_ids] == [s]


def test_disable_rules() -> None:
    plan = plan_of(SITE + "disable_rules: [vm-to-vm-consistency, dns-tcp]\n")
    assert all(s.port != 20004 and (s.proto, s.port) != ("tcp", 53) for s in plan.specs)
    assert not {"vm-to-vm-consistency", "dns-tcp"} & {r for s in plan.specs for r in s.rule_ids}
    # disabled is not "skipped": the user chose it
    assert not {"vm-to-vm-consistency", "dns-tcp"} & {s.rule_id for s in plan.skipped}


def test_disable_rules_with_an_unknown_id() -> None:
    topo = load_topology_text(SITE + "disable_rules: [ntp, no-such-rule]\n", "plan.yaml")
    with pytest.raises(ConfigError) as ei:
        build_plan(topo)
    err = ei.value
    assert err.message.startswith("unknown rule id 'no-such-rule'; known: ")
    assert "vm-to-cs-https" in err.message  # the message lists what would have been valid
    assert (err.field, err.location) == ("disable_rules", Location("plan.yaml"))


def test_only_rules(site_plan: Plan) -> None:
    plan = build_plan(site_plan.topology, only_rules=["ps-to-mt-data", "mt-to-cs-https"])
    assert {(s.source_host, s.dest_host, s.port) for s in plan.specs} == {
        ("ps-azure", "mt01", 9443),
        ("mt01", "cs01", 443),
    }
    assert plan.skipped == ()  # rules left out by only_rules are not reported as skipped
    with pytest.raises(ConfigError, match="unknown rule id 'nope'"):
        build_plan(site_plan.topology, only_rules=["nope"])


def test_path_assignment(site_plan: Plan) -> None:
    for s in site_plan.specs:
        src, dst = (site_plan.topology.host(s.source_host), site_plan.topology.host(s.dest_host))
        if src.site == dst.site:
            assert s.path is None, s.cell_id
        else:
            assert s.path == "s2s-vpn", s.cell_id
    assert cell(site_plan, "vm1", "cs01", 443).path == "s2s-vpn"
    assert cell(site_plan, "mt01", "cs01", 443).path is None


def test_no_declared_path_leaves_cross_site_cells_without_one() -> None:
    plan = plan_of(SITE.replace("paths:\n  s2s-vpn: {kind: vpn, sites: [azure, onprem]}\n", ""))
    assert cell(plan, "vm1", "cs01", 443).path is None


def test_first_declared_path_wins() -> None:
    text = SITE.replace(
        "  s2s-vpn: {kind: vpn, sites: [azure, onprem]}\n",
        "  er: {kind: expressroute, sites: [onprem, azure]}\n  s2s-vpn: {kind: vpn, sites: [azure, onprem]}\n",
    )
    assert cell(plan_of(text), "vm1", "cs01", 443).path == "er"


def test_udp_rules_are_probed_and_azure_endpoints_need_an_azure_section(site_plan: Plan) -> None:
    sk = skipped(site_plan)
    assert ("ntp", None) not in sk and ("dns-udp", None) not in sk
    assert sk[("cs-to-azure-https", None)] == AZURE_NOT_DECLARED
    assert sk[("ps-to-azure-storage", None)] == AZURE_NOT_DECLARED
    kinds = {(s.rule_id, s.proto, s.kind) for s in site_plan.specs if s.dest_host == "dns01"}
    assert kinds == {("ntp", "udp", "ntp"), ("dns-udp", "udp", "dns"), ("dns-tcp", "tcp", "dns")}


def test_rules_without_hosts_are_skipped_with_a_reason() -> None:
    text = SITE.replace(
        "  dns01: {site: onprem, roles: [dns_server, ntp_server], address: 198.18.2.53}\n", ""
    )
    plan = plan_of(text)
    assert skipped(plan)[("dns-tcp", None)] == NO_MATCHING_HOSTS
    assert skipped(plan)[("ntp", None)] == NO_MATCHING_HOSTS


def test_every_catalog_rule_is_either_planned_or_skipped(site_plan: Plan) -> None:
    planned = {r for s in site_plan.specs for r in s.rule_ids}
    skipped_ids = {s.rule_id for s in site_plan.skipped}
    assert planned | skipped_ids == {r.id for r in load_catalog().rules}
    assert not planned & skipped_ids  # in this site no rule is half planned


def test_settings(site_plan: Plan) -> None:
    assert site_plan.settings == SweepSettings()
    mine = SweepSettings(samples=7, timeout_ms=100)
    assert build_plan(site_plan.topology, settings=mine).settings is mine
    plan = plan_of(SITE.replace("name: plan-site\n", "name: p\nsweep: {samples: 9}\n"))
    assert plan.settings.samples == 9


def test_by_source_and_listeners(site_plan: Plan) -> None:
    by = site_plan.by_source()
    assert set(by) == {"vm1", "vm2", "vm3", "ps-azure", "mt01", "cs01"}
    assert "vcenter" not in by  # agent: none, and it is never a source in the catalog
    assert {s.dest_host for s in by["mt01"]} == {"cs01", "vcenter"}
    lst = site_plan.listeners()
    # cs01 is probed on both NICs, each on 443
    assert sorted(lst["cs01"]) == [("198.18.2.10", 443), ("198.18.3.10", 443)]
    assert lst["ps-azure"] == [("198.19.1.4", 9443)]  # three sources, one listener
    assert sorted(lst["src-win"]) == [("198.18.2.40", 135), ("198.18.2.40", 445)]


def test_plan_rule_lookup(site_plan: Plan) -> None:
    assert site_plan.rule("ps-to-mt-data").flows == (12,)
    with pytest.raises(KeyError):
        site_plan.rule("no-such-rule")


def test_probe_spec_validates() -> None:
    base = dict(
        cell_id="c",
        source_host="a",
        source_nic="n",
        source_address="127.0.0.1",
        dest_host="b",
        dest_nic="n",
        dest_address="127.0.0.2",
        proto="tcp",
        port=1,
        documented_port=1,
        rule_ids=("r",),
        evidence=Evidence.USER,
        expect_reachable=True,
        path=None,
        kind="tcp_connect",
    )
    ProbeSpec(**base)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port 0"):
        ProbeSpec(**{**base, "port": 0})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no rule"):
        ProbeSpec(**{**base, "rule_ids": ()})  # type: ignore[arg-type]


def test_skipped_entries_are_deduplicated() -> None:
    # three protected VMs without agents, two rules each: one entry per (rule, host)
    text = SITE
    for vm in ("vm1", "vm2", "vm3"):
        text = text.replace(f"  {vm}: {{site: azure,", f"  {vm}: {{agent: none, site: azure,")
    plan = plan_of(text)
    entries = [s for s in plan.skipped if s.source_host in ("vm1", "vm2", "vm3")]
    assert len(entries) == len(set(entries))
    assert Skipped("vm-to-vm-consistency", "no agent on vm1 (agent: none)", "vm1") in entries
