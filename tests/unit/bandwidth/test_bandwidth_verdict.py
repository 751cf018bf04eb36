"""Bandwidth verdicts (pure): the RPO formula, whose churn counts, floors, sanity notes."""

from __future__ import annotations

import pytest

from netcheck.bandwidth import BandwidthOutcome, BandwidthStatus, judge_bandwidth
from netcheck.bandwidth.verdict import churn_demand, needed_mbps
from netcheck.topology import load_topology_text
from netcheck.topology.bandwidth import BandwidthCheck
from netcheck.topology.model import Topology

BASE = """\
version: 1
name: bw
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem], expect: {min_mbps: 50}}
hosts:
  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}
  mt02: {site: onprem, roles: [master_target], address: 198.18.2.21}
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
"""


def topo(vms: str = "", extra: str = "") -> Topology:
    return load_topology_text(BASE + vms + extra, "bw.yaml")


def outcome(mbps: float | None, reason: str = "completed", dest: str = "mt01") -> BandwidthOutcome:
    status = BandwidthStatus.MEASURED if mbps is not None else BandwidthStatus.FAILED
    return BandwidthOutcome(
        BandwidthCheck("ps-azure", dest),
        "s2s-vpn",
        "198.19.1.4",
        "198.18.2.20",
        status,
        reason,
        mbps=mbps,
        seconds=10.0,
        bytes=int((mbps or 0) * 1.25e6 * 10),
    )


def test_the_formula() -> None:
    # 864 GB/day = 80 Mbit/s on average; x1.5 = 120
    average, sustained, peak, needed = needed_mbps(864, None)
    assert (average, sustained, peak, needed) == (
        pytest.approx(80),
        pytest.approx(120),
        None,
        pytest.approx(120),
    )
    # a 54 MB/s peak hour: 432 Mbit/s x 60/(60+15) = 345.6
    _, _, peak, needed = needed_mbps(100, 54)
    assert peak == pytest.approx(345.6) and needed == pytest.approx(345.6)
    # a longer RPO needs less for the same peak
    assert needed_mbps(100, 54, rpo_min=60)[2] == pytest.approx(216)


VMS = """\
  vm1:
    site: azure
    roles: [protected_vm]
    groups: [erp]
    address: 198.19.1.10
    inventory: {churn_gb_per_day: 200, peak_churn_mb_s: 10}
  vm2:
    site: azure
    roles: [protected_vm]
    address: 198.19.1.11
    inventory: {churn_gb_per_day: 100, master_target: mt02}
  vm3: {site: azure, roles: [protected_vm], address: 198.19.1.12}
"""


def test_without_a_mapping_every_vm_of_the_sending_site_counts() -> None:
    t = topo(VMS.replace(", master_target: mt02", ""))
    d = churn_demand(t, "mt01", "ps-azure")
    assert d is not None and d.hosts == ("vm1", "vm2")
    assert d.gb_per_day == 300 and d.peak_mb_per_s == 10


def test_master_target_and_groups_pick_the_vms_of_a_link() -> None:
    t = topo(VMS, "failback: {groups: {erp: mt01}}\n")
    d1 = churn_demand(t, "mt01", "ps-azure")
    d2 = churn_demand(t, "mt02", "ps-azure")
    assert d1 is not None and d1.hosts == ("vm1",)
    assert d2 is not None and d2.hosts == ("vm2",) and d2.peak_mb_per_s is None


def test_no_churn_no_rpo_verdict_but_the_floor_still_counts() -> None:
    t = topo()
    assert churn_demand(t, "mt01", "ps-azure") is None
    v = judge_bandwidth(outcome(60), t)
    assert v.passed and v.min_ok is True and v.rpo_ok is None and v.demand is None
    v = judge_bandwidth(outcome(40), t)
    assert not v.passed and v.min_ok is False
    assert "40.0 Mbit/s, below the 50.0 Mbit/s path s2s-vpn must give" in v.reason


def test_the_rpo_verdict_shows_needed_measured_and_headroom() -> None:
    t = topo(VMS, "failback: {groups: {erp: mt01}}\n")
    # vm1: 200 GB/day (18.5 Mbit/s x 1.5 = 27.8), peak 10 MB/s (80 x 0.8 = 64) -> 64 needed
    ok = judge_bandwidth(outcome(94.8), t)
    assert ok.passed and ok.rpo_ok and ok.needed_mbps == pytest.approx(64)
    assert ok.headroom_mbps == pytest.approx(30.8)
    assert "RPO needs 64.0 Mbit/s, headroom 30.8 Mbit/s" in ok.reason
    short = judge_bandwidth(outcome(55), t)
    assert not short.passed and short.min_ok and short.rpo_ok is False
    assert short.headroom_mbps == pytest.approx(-9)
    assert "needs 64.0 Mbit/s to keep the 15-minute RPO: short by 9.0 Mbit/s" in short.reason


def test_a_declared_policy_rpo_is_used() -> None:
    t = topo(VMS, "failback: {groups: {erp: mt01}, policy: {rpo_threshold_min: 60}}\n")
    d = churn_demand(t, "mt01", "ps-azure")
    assert d is not None and d.rpo_min == 60 and d.needed_mbps == pytest.approx(40)


def test_a_partial_or_missing_measurement_fails() -> None:
    t = topo()
    partial = judge_bandwidth(outcome(80, reason="peer vanished after 3.1 s"), t)
    assert not partial.passed and "did not complete (peer vanished after 3.1 s)" in partial.reason
    missing = judge_bandwidth(outcome(None, reason="refused"), t)
    assert not missing.passed and missing.measured_mbps is None
    assert missing.reason == "not measured (ps-azure → mt01): refused"


def test_the_documented_figures_are_sanity_limits() -> None:
    big = VMS.replace(
        "churn_gb_per_day: 200, peak_churn_mb_s: 10", "churn_gb_per_day: 2400, peak_churn_mb_s: 60"
    )
    v = judge_bandwidth(outcome(0.3), topo(big, "failback: {groups: {erp: mt01}}\n"))
    notes = " | ".join(v.notes)
    assert "vm1 declares 60 MB/s peak churn, above the 54 MB/s per VM" in notes
    assert "(2.40 TB/day) exceeds the 2 TB/day one process server handles" in notes
    assert "above the 102 Mbit/s top of ASR's replication throttling range" in notes
    assert "measured 300 kbit/s, below the 512 kbit/s bottom" in notes
