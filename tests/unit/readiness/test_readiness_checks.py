"""The readiness checks, pure: one topology that passes every check, then one mutation per
rule that breaks exactly that rule (and nothing else), and missing facts → unknown.

No agent, no socket: live facts are hand-built `netcheck_agent.protocol.Facts` values
(the live path is proven in tests/integration/readiness). The FAT rule is proven here
with a declared `filesystem: vfat` and live with a real FUSE-mounted FAT image there.
"""

from __future__ import annotations

import pytest
from netcheck_agent import protocol as p

from netcheck.readiness import Finding, ReadinessResult, Source, Verdict, evaluate
from netcheck.topology import Topology, load_topology_text

PASSING = """\
version: 1
name: readiness-pass
sites:
  onprem: {networks: {lan: 198.18.2.0/24, failback: 198.18.3.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24, other: 198.19.9.0/24}}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem]}
hosts:
  cs01:
    site: onprem
    roles: [config_server]
    nics:
      source: {address: 198.18.2.10}
      failback: {address: 198.18.3.10, faces: [azure]}
    inventory: {nics_added_before_registration: true, vcpus: 8, memory_gb: 16}
  mt01:
    site: onprem
    roles: [master_target]
    os: linux
    address: 198.18.2.20
    inventory:
      os_version: ubuntu 20.04
      disks: 3
      snapshots: false
      scsi_controller: lsilogic
      disk_enable_uuid: true
      vmware_tools: true
      storage_vmotion_excluded: true
      esxi_host: esxi01
      retention:
        path: /mnt/retention
        filesystem: ext4
        capacity_gb: 500
        is_cache_volume: false
        used_for_other: false
        locked: false
  esxi01:
    site: onprem
    roles: [esxi]
    address: 198.18.2.31
    agent: none
    inventory:
      datastores: {ds1: vmfs, iso: nfs}
  ps-azure:
    site: azure
    roles: [process_server]
    address: 198.19.1.4
  vm1:
    site: azure
    roles: [protected_vm]
    os: linux
    groups: [app]
    address: 198.19.1.10
    inventory: {os_version: ubuntu 18.04, disks: 20, churn_gb_per_day: 100, peak_churn_mb_s: 10}
  vm2:
    site: azure
    roles: [protected_vm]
    os: linux
    groups: [app]
    address: 198.19.1.11
    inventory: {os_version: ubuntu 20.04, disks: 20, churn_gb_per_day: 100, peak_churn_mb_s: 10}
failback:
  groups: {app: mt01}
  policy: {rpo_threshold_min: 15, retention_hours: 24, app_consistent_min: 60}
"""


def topo(text: str = PASSING) -> Topology:
    return load_topology_text(text, "readiness.yaml")


def run(text: str = PASSING, live: dict[str, p.Facts] | None = None) -> ReadinessResult:
    return evaluate(topo(text), live)


def verdicts(result: ReadinessResult) -> dict[tuple[str, str], Verdict]:
    return {(f.check, f.subject): f.verdict for f in result.findings}


def finding(result: ReadinessResult, check: str, subject: str) -> Finding:
    (f,) = [f for f in result.findings if f.check == check and f.subject == subject]
    return f


ALL_CHECKS = {
    ("failback-policy", "policy"),
    ("cs-nics-before-registration", "cs01"),
    ("ps-in-vm-network", "azure/vnet"),
    ("mt-snapshots", "mt01"),
    ("mt-scsi-controller", "mt01"),
    ("mt-disk-enable-uuid", "mt01"),
    ("mt-vmware-tools", "mt01"),
    ("mt-storage-vmotion", "mt01"),
    ("mt-vmfs-datastore", "mt01"),
    ("retention-path", "mt01"),
    ("retention-filesystem", "mt01"),
    ("retention-capacity", "mt01"),
    ("retention-not-cache", "mt01"),
    ("retention-dedicated", "mt01"),
    ("mt-disks", "mt01"),
    ("mt-os-match", "mt01"),
    ("group-single-os", "app"),
    ("group-one-master-target", "app"),
    ("sizing-process-server", "process servers"),
    ("sizing-peak-churn", "protected VMs"),
    ("sizing-configuration-server", "cs01"),
    ("sizing-master-targets", "master targets"),
}


def test_the_passing_topology_passes_every_check() -> None:
    result = run()
    got = verdicts(result)
    assert set(got) == ALL_CHECKS
    assert {k: v for k, v in got.items() if v is not Verdict.PASS} == {}
    assert result.go
    for f in result.findings:
        assert f.doc.startswith("AS/"), f
        assert f.facts, f"{f.check} shows no facts"


# (what to replace, with what, the (check, subject) it must break, the verdict, words)
BREAKS = [
    ("snapshots: false", "snapshots: true", ("mt-snapshots", "mt01"), Verdict.FAIL, "snapshots"),
    (
        "scsi_controller: lsilogic",
        "scsi_controller: pvscsi",
        ("mt-scsi-controller", "mt01"),
        Verdict.FAIL,
        "Paravirtual",
    ),
    (
        "scsi_controller: lsilogic",
        "scsi_controller: buslogic",
        ("mt-scsi-controller", "mt01"),
        Verdict.FAIL,
        "BusLogic",
    ),
    (
        "scsi_controller: lsilogic",
        "scsi_controller: lsilogic_sas",
        ("mt-scsi-controller", "mt01"),
        Verdict.WARN,
        "LSI Logic SAS",
    ),
    (
        "disk_enable_uuid: true",
        "disk_enable_uuid: false",
        ("mt-disk-enable-uuid", "mt01"),
        Verdict.FAIL,
        "disk.EnableUUID",
    ),
    (
        "vmware_tools: true",
        "vmware_tools: false",
        ("mt-vmware-tools", "mt01"),
        Verdict.FAIL,
        "not installed",
    ),
    (
        "storage_vmotion_excluded: true",
        "storage_vmotion_excluded: false",
        ("mt-storage-vmotion", "mt01"),
        Verdict.FAIL,
        "Storage vMotion",
    ),
    (
        "{ds1: vmfs, iso: nfs}",
        "{ds1: nfs, iso: nfs}",
        ("mt-vmfs-datastore", "mt01"),
        Verdict.FAIL,
        "NFS is not supported",
    ),
    (
        "{ds1: vmfs, iso: nfs}",
        "{ds1: vsan}",
        ("mt-vmfs-datastore", "mt01"),
        Verdict.FAIL,
        "no VMFS datastore",
    ),
    (
        "filesystem: ext4",
        "filesystem: vfat",
        ("retention-filesystem", "mt01"),
        Verdict.FAIL,
        "FAT",
    ),
    (
        "filesystem: ext4",
        "filesystem: FAT32",
        ("retention-filesystem", "mt01"),
        Verdict.FAIL,
        "FAT",
    ),
    (
        "capacity_gb: 500",
        "capacity_gb: 0",
        ("retention-capacity", "mt01"),
        Verdict.FAIL,
        "zero",
    ),
    (
        "is_cache_volume: false",
        "is_cache_volume: true",
        ("retention-not-cache", "mt01"),
        Verdict.FAIL,
        "cache volume",
    ),
    (
        "used_for_other: false",
        "used_for_other: true",
        ("retention-dedicated", "mt01"),
        Verdict.FAIL,
        "replication target",
    ),
    ("locked: false", "locked: true", ("retention-dedicated", "mt01"), Verdict.FAIL, "locked"),
    (
        "os_version: ubuntu 18.04, disks: 20,",
        "os_version: ubuntu 18.04, disks: 41,",
        ("mt-disks", "mt01"),
        Verdict.FAIL,
        "61 disks from 2 VM(s)",
    ),
    (
        "os_version: ubuntu 18.04, disks: 20,",
        "os_version: ubuntu 18.04, disks: 30,",  # 50 from the VMs, + 3 own = 53: fine
        None,
        None,
        "",
    ),
    (
        "      disks: 3\n",
        "      disks: 21\n",  # 40 from the VMs + 21 of its own = 61
        ("mt-disks", "mt01"),
        Verdict.WARN,
        "plus 21 of its own",
    ),
    (
        "os_version: ubuntu 20.04, disks: 20,",
        "os_version: ubuntu 22.04, disks: 20,",
        ("mt-os-match", "mt01"),
        Verdict.FAIL,
        "newer than mt01's ubuntu 20.04",
    ),
    (
        "os_version: ubuntu 20.04, disks: 20,",
        "os_version: rhel 8.6, disks: 20,",
        ("mt-os-match", "mt01"),
        Verdict.WARN,
        "different distributions",
    ),
    (
        "rpo_threshold_min: 15",
        "rpo_threshold_min: 30",
        ("failback-policy", "policy"),
        Verdict.WARN,
        "RPO threshold 30 min (ASR uses 15 min)",
    ),
    (
        "nics_added_before_registration: true",
        "nics_added_before_registration: false",
        ("cs-nics-before-registration", "cs01"),
        Verdict.FAIL,
        "added after registration",
    ),
    (
        "address: 198.19.1.4",
        "address: 198.19.9.4",
        ("ps-in-vm-network", "azure/vnet"),
        Verdict.WARN,
        "not in the VMs' network",
    ),
    (
        "churn_gb_per_day: 100, peak_churn_mb_s: 10}\n  vm2",
        "churn_gb_per_day: 1950, peak_churn_mb_s: 10}\n  vm2",
        ("sizing-process-server", "process servers"),
        Verdict.WARN,
        "2050 GB/day of changes needs 2 process server(s)",
    ),
    (
        "churn_gb_per_day: 100, peak_churn_mb_s: 10}\n  vm2",
        "churn_gb_per_day: 100, peak_churn_mb_s: 60}\n  vm2",
        ("sizing-peak-churn", "protected VMs"),
        Verdict.WARN,
        "vm1 60 MB/s",
    ),
    (
        "vcpus: 8, memory_gb: 16",
        "vcpus: 4, memory_gb: 16",
        ("sizing-configuration-server", "cs01"),
        Verdict.WARN,
        "8 vCPU / 16 GB; it has 4 vCPU",
    ),
]


# rules whose breaking rightly moves a sizing hint too
ALSO: dict[str, dict[tuple[str, str], Verdict]] = {
    "61 disks from 2 VM(s)": {("sizing-master-targets", "master targets"): Verdict.WARN},
    "2050 GB/day of changes needs 2 process server(s)": {
        ("sizing-configuration-server", "cs01"): Verdict.WARN  # beyond the largest CS band
    },
}


@pytest.mark.parametrize(("old", "new", "key", "verdict", "words"), BREAKS)
def test_each_rule_broken_alone(
    old: str, new: str, key: tuple[str, str] | None, verdict: Verdict | None, words: str
) -> None:
    assert PASSING.count(old) == 1, old
    result = run(PASSING.replace(old, new))
    got = verdicts(result)
    changed = {k: v for k, v in got.items() if v is not Verdict.PASS}
    if key is None:
        assert changed == {}
        return
    assert changed == {key: verdict, **ALSO.get(words, {})}
    f = finding(result, *key)
    assert words in f.message
    assert f.hint, "a finding that does not pass says what to change"
    assert result.go is (verdict is not Verdict.FAIL)


def test_a_group_mixing_windows_and_linux_fails_and_the_mt_os_too() -> None:
    result = run(
        PASSING.replace(
            "    os: linux\n    groups: [app]\n    address: 198.19.1.11",
            "    os: windows\n    groups: [app]\n    address: 198.19.1.11",
        )
    )
    changed = {k: v for k, v in verdicts(result).items() if v is not Verdict.PASS}
    assert changed == {
        ("group-single-os", "app"): Verdict.FAIL,
        ("mt-os-match", "mt01"): Verdict.FAIL,
    }
    assert (
        "mixes Windows and Linux (vm1=linux, vm2=windows)"
        in finding(result, "group-single-os", "app").message
    )
    assert "vm2 is windows, mt01 is linux" in finding(result, "mt-os-match", "mt01").message


def test_a_group_spread_over_two_master_targets_fails() -> None:
    text = (
        PASSING.replace("failback:\n  groups: {app: mt01}\n", "failback:\n")
        .replace(
            "  esxi01:\n",
            "  mt02:\n    site: onprem\n    roles: [master_target]\n    os: linux\n"
            "    address: 198.18.2.21\n  esxi01:\n",
        )
        .replace(
            "os_version: ubuntu 20.04, disks: 20,",
            "os_version: ubuntu 20.04, disks: 20, master_target: mt02,",
        )
        .replace(
            "os_version: ubuntu 18.04, disks: 20,",
            "os_version: ubuntu 18.04, disks: 20, master_target: mt01,",
        )
    )
    result = run(text)
    f = finding(result, "group-one-master-target", "app")
    assert f.verdict is Verdict.FAIL
    assert "spread over master targets mt01, mt02" in f.message


def test_no_process_server_near_the_vms_fails() -> None:
    text = PASSING.replace(
        "  ps-azure:\n    site: azure\n    roles: [process_server]\n    address: 198.19.1.4\n",
        "  ps-onprem:\n    site: onprem\n    roles: [process_server]\n    address: 198.18.2.4\n",
    )
    f = finding(run(text), "ps-in-vm-network", "azure/vnet")
    assert f.verdict is Verdict.FAIL
    assert "no process server in site azure" in f.message


def test_an_on_premises_ps_over_expressroute_is_a_proof_of_concept_warning() -> None:
    text = PASSING.replace(
        "  ps-azure:\n    site: azure\n    roles: [process_server]\n    address: 198.19.1.4\n",
        "  ps-onprem:\n    site: onprem\n    roles: [process_server]\n    address: 198.18.2.4\n",
    ).replace("kind: vpn", "kind: expressroute")
    f = finding(run(text), "ps-in-vm-network", "azure/vnet")
    assert f.verdict is Verdict.WARN
    assert "proof of concept" in f.message


def test_the_master_targets_sizing_hint_asks_for_another_one() -> None:
    text = PASSING.replace(
        "os_version: ubuntu 18.04, disks: 20,", "os_version: ubuntu 18.04, disks: 50,"
    ).replace("os_version: ubuntu 20.04, disks: 20,", "os_version: ubuntu 20.04, disks: 50,")
    result = run(text)
    f = finding(result, "sizing-master-targets", "master targets")
    assert f.verdict is Verdict.WARN
    assert "100 disks need at least 2 master targets" in f.message
    assert finding(result, "mt-disks", "mt01").verdict is Verdict.FAIL


def test_missing_facts_are_unknown_never_pass() -> None:
    bare = """\
version: 1
name: bare
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
hosts:
  cs01: {site: onprem, roles: [config_server],
         nics: {a: {address: 198.18.2.10}, b: {address: 198.18.2.11, faces: [azure]}}}
  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}
  mt02: {site: onprem, roles: [master_target], address: 198.18.2.21}
  ps: {site: azure, roles: [process_server], address: 198.19.1.4}
  vm1: {site: azure, roles: [protected_vm], groups: [g], address: 198.19.1.10}
"""
    result = run(bare)
    got = verdicts(result)
    for check in (
        "mt-snapshots",
        "mt-scsi-controller",
        "mt-disk-enable-uuid",
        "mt-vmware-tools",
        "mt-storage-vmotion",
        "mt-vmfs-datastore",
        "retention-path",
        "retention-filesystem",
        "retention-capacity",
        "retention-not-cache",
        "retention-dedicated",
    ):
        assert got[(check, "mt01")] is Verdict.UNKNOWN, check
    assert got[("cs-nics-before-registration", "cs01")] is Verdict.UNKNOWN
    assert got[("vm-master-target", "vm1")] is Verdict.UNKNOWN  # two MTs, nothing declared
    assert got[("group-one-master-target", "g")] is Verdict.UNKNOWN
    assert got[("group-single-os", "g")] is Verdict.UNKNOWN
    assert got[("sizing-process-server", "process servers")] is Verdict.UNKNOWN
    assert got[("failback-policy", "policy")] is Verdict.PASS  # fixed facts, always shown
    assert Verdict.FAIL not in got.values()
    assert result.go  # unknown shows but does not fail


def _facts(**retention: object) -> p.Facts:
    volume = p.VolumeFacts(**{"path": "/mnt/retention", "exists": True, **retention})  # type: ignore[arg-type]
    return p.Facts(
        id="f1",
        os_family="linux",
        os_id="ubuntu",
        os_name="Ubuntu 20.04.6 LTS",
        os_version="20.04",
        retention=volume,
        vmware_tools=True,
        vmware_tools_detail="vmtoolsd on PATH: /usr/bin/vmtoolsd",
    )


def test_live_facts_override_declared_ones_and_say_so() -> None:
    live = _facts(
        is_dir=True,
        filesystem="vfat",
        mount_point="/mnt/retention",
        is_mount=True,
        total_bytes=64_000_000_000,
        free_bytes=10_000_000_000,
    )
    result = run(live={"mt01": live})
    fs = finding(result, "retention-filesystem", "mt01")
    assert fs.verdict is Verdict.FAIL  # declared ext4, live vfat: live wins
    (fact,) = fs.facts
    assert (fact.value, fact.source) == ("vfat", Source.LIVE)
    cap = finding(result, "retention-capacity", "mt01")
    assert [(x.name, x.value, x.source) for x in cap.facts] == [
        ("retention.capacity_gb", 64.0, Source.LIVE),
        ("retention.free_gb", 10.0, Source.LIVE),
    ]
    tools = finding(result, "mt-vmware-tools", "mt01")
    assert tools.facts[0].source is Source.LIVE
    assert "/usr/bin/vmtoolsd" in tools.message
    os_match = finding(result, "mt-os-match", "mt01")
    assert os_match.facts[1].value == "ubuntu 20.04"
    assert os_match.facts[1].source is Source.LIVE
    # facts the agent cannot read stay declared
    snap = finding(result, "mt-snapshots", "mt01")
    assert snap.facts[0].source is Source.DECLARED


def test_a_missing_retention_path_is_one_clear_failure() -> None:
    live = _facts(exists=False, detail="/mnt/retention does not exist")
    result = run(live={"mt01": live})
    path = finding(result, "retention-path", "mt01")
    assert path.verdict is Verdict.FAIL
    assert path.message == "retention path /mnt/retention does not exist on mt01"
    # the checks that need the volume defer to it rather than pass on declared facts
    assert finding(result, "retention-filesystem", "mt01").verdict is Verdict.UNKNOWN
    assert finding(result, "retention-capacity", "mt01").verdict is Verdict.UNKNOWN
    assert not result.go


def test_a_retention_path_that_is_not_its_own_volume_warns() -> None:
    live = _facts(
        is_dir=True, filesystem="ext4", mount_point="/", is_mount=False, total_bytes=10**11
    )
    f = finding(run(live={"mt01": live}), "retention-dedicated", "mt01")
    assert f.verdict is Verdict.WARN
    assert "lives on / (ext4)" in f.message


def test_the_default_retention_path_follows_the_os() -> None:
    text = PASSING.replace(
        """      retention:
        path: /mnt/retention
""",
        """      retention:
""",
    )
    f = finding(run(text), "retention-path", "mt01")
    assert f.verdict is Verdict.PASS
    assert f.facts[0].value == "/mnt/retention"
    windows = text.replace(
        "os: linux\n    address: 198.18.2.20", "os: windows\n    address: 198.18.2.20"
    )
    f = finding(run(windows), "retention-path", "mt01")
    assert (f.facts[0].value, f.facts[0].source) == ("R:", Source.DEFAULT)
    nondefault = PASSING.replace("path: /mnt/retention", "path: /data/ret")
    f = finding(run(nondefault), "retention-path", "mt01")
    assert "not the default /mnt/retention" in f.message


def test_windows_versions_compare_with_r2() -> None:
    from netcheck.readiness.resolve import compare_versions

    assert compare_versions("2012 R2", "2012")[0] == 1
    assert compare_versions("2016", "2012 R2")[0] == 1
    assert compare_versions("2012", "2012 R2")[0] == -1
    assert compare_versions("8.10", "8.6")[0] == 1
    assert compare_versions("ubuntu 20.04", "rhel 8")[0] is None
    assert compare_versions("latest", "2019")[0] is None
