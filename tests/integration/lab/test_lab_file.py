"""The lab file format: pure validation, no root, no namespaces.

These run everywhere (no `lab` mark). They check the shipped lab, the
errors a user sees for a broken file, and the nft/sshd text the builder uses.
"""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from netcheck.errors import ConfigError, ConfigErrors
from netcheck.lab import Lab, load_lab, load_lab_text
from netcheck.lab.faults import nft_rule, nft_ruleset
from netcheck.lab.model import NFT_ACTIONS
from netcheck.lab.sshd import sshd_config_text

LAB_FILE = Path(__file__).resolve().parents[3] / "topologies" / "lab" / "failback-lab.yaml"

MINI = """\
version: 1
name: mini
namespaces:
  a: {kind: host, sshd: true, routes: [{to: default, via: 198.18.250.2}]}
  r: {kind: router, routes: [{to: 198.18.251.0/24, via: 198.18.250.2}]}
links:
  - ends: [{ns: a, address: 198.18.250.1/30}, {ns: r, address: 198.18.250.2/30}]
"""


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_lab_text(text, "lab.yaml")
    return err.value


def test_the_shipped_failback_lab_is_the_asr_site() -> None:
    lab = load_lab(LAB_FILE)
    addrs = {ns.name: [str(a) for a in lab.addresses(ns.name)] for ns in lab.hosts}
    assert addrs == {
        "vm-app01": ["198.19.1.10/24"],
        "vm-app02": ["198.19.1.11/24"],
        "ps-azure": ["198.19.1.4/24"],
        "cs01": ["198.18.2.10/24", "198.18.3.10/24"],  # source NIC first, then failback NIC
        "mt01": ["198.18.2.20/24"],
        "vcenter": ["198.18.2.30/24"],
        "esxi01": ["198.18.2.31/24"],
        "mgmt": ["198.18.2.100/24"],
        "cs-old": ["198.18.3.50/24"],  # another machine on the failback subnet
    }
    assert all(ns.sshd for ns in lab.hosts if ns.name != "cs-old")
    vpn = [link for link in lab.links if link.name.startswith("vpn-")]
    assert [link.mtu for link in vpn] == [1400, 1400]
    shapes = [end.shape for link in vpn for end in link.ends if end.shape is not None]
    assert [s.rate_bit for s in shapes] == [100_000_000, 100_000_000]
    assert {f.name: f.action for f in lab.faults} == {
        "route_via_expressroute": "reroute",
        "vpn_drops_replication": "drop",
        "cs_https_reset": "reject_tcp_reset",
        "ps_cs_prohibited": "reject_admin_prohibited",
        "cs_default_route_wrong_nic": "reroute",
        "cs_failback_return_via_lan": "add_route",
        "cs_overlap_azure_subnet": "address",
        "cs_duplicate_failback_ip": "address",
    }
    assert all(len(lab.netns(ns.name)) <= 15 for ns in lab.namespaces)


def test_params_override_the_vpn_rate_and_mtu() -> None:
    lab = load_lab(LAB_FILE, params={"vpn_rate": "20mbit", "vpn_mtu": 1300})
    vpn = next(link for link in lab.links if link.name == "vpn-azure")
    assert vpn.mtu == 1300
    assert vpn.b.shape is not None and vpn.b.shape.rate_bit == 20_000_000


def test_an_unknown_param_override_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown param 'vpn_speed'.*vpn_mtu, vpn_rate"):
        load_lab(LAB_FILE, params={"vpn_speed": "1mbit"})


def test_a_minimal_lab_loads() -> None:
    lab = load_lab_text(MINI)
    assert lab.prefix == "nc-"
    assert lab.links[0].a.dev == "r"  # an interface is named after its peer unless told
    assert lab.namespace("r").effective_sysctls()[0] == ("net.ipv4.ip_forward", "1")


def test_an_address_outside_the_lab_range_is_refused_with_its_line() -> None:
    err = error_of(MINI.replace("198.18.250.1/30", "192.0.2.1/30"))
    assert err.location is not None and err.location.line == 7
    assert err.field == "links[0].ends[0].address"
    assert "outside the lab range 198.18.0.0/15" in str(err)


def test_a_route_leaving_the_lab_range_is_refused() -> None:
    err = error_of(MINI.replace("198.18.251.0/24", "0.0.0.0/1"))
    assert "outside the lab range" in str(err) and err.field == "namespaces.r.routes[0].to"


def test_an_unknown_key_names_the_field() -> None:
    err = error_of(MINI.replace("kind: router", "kind: router, colour: red"))
    assert err.field == "namespaces.r.colour" and "unknown key" in str(err)


def test_a_next_hop_must_be_on_a_connected_subnet() -> None:
    err = error_of(MINI.replace("via: 198.18.250.2}]}\n  r", "via: 198.18.9.9}]}\n  r"))
    assert "next hop 198.18.9.9 is on no subnet of a (198.18.250.0/30)" in str(err)


def test_sshd_only_on_hosts_and_names_fit_ifnamsiz() -> None:
    assert "only a host" in str(error_of(MINI.replace("kind: router", "kind: router, sshd: true")))
    long = MINI.replace("  a:", "  averyveryverylong:").replace(
        "{ns: a,", "{ns: averyveryverylong,"
    )
    assert "longer than 15" in str(error_of(long))


def test_only_per_namespace_sysctls_are_allowed() -> None:
    text = MINI.replace("kind: router", "kind: router, sysctls: {kernel.pid_max: 100}")
    assert "only per-namespace" in str(error_of(text))


def test_independent_problems_are_reported_together() -> None:
    text = MINI.replace("kind: host", "kind: hots").replace("kind: router", "kind: ruter")
    err = error_of(text)
    assert isinstance(err, ConfigErrors) and len(err.errors) == 2


def test_fault_validation() -> None:
    reset_udp = MINI + (
        "faults:\n  f:\n    action: reject_tcp_reset\n    at: r\n"
        "    match: {proto: udp, port: 53}\n"
    )
    assert "TCP reset answers TCP only" in str(error_of(reset_udp))
    no_base = MINI + (
        "faults:\n  f:\n    action: reroute\n"
        "    routes: {a: [{to: 198.18.252.0/24, via: 198.18.250.2}]}\n"
    )
    assert "no route to 198.18.252.0/24 of its own to restore" in str(error_of(no_base))
    at_switch = MINI + "faults:\n  f: {action: drop, at: nowhere}\n"
    assert "'nowhere' is not a router or host" in str(error_of(at_switch))


def test_a_lab_built_in_code_cannot_leave_the_range() -> None:
    lab = load_lab_text(MINI)
    bad_end = dataclasses.replace(lab.links[0].a, address=IPv4Interface("127.0.0.2/8"))
    with pytest.raises(ValueError, match=r"outside 198\.18\.0\.0/15"):
        dataclasses.replace(lab, links=(dataclasses.replace(lab.links[0], a=bad_end),))


def test_nft_rules_for_each_action() -> None:
    lab = load_lab(LAB_FILE)
    rules = {f.name: nft_rule(f.match, f.action) for f in lab.faults if f.action in NFT_ACTIONS}
    assert rules == {
        "vpn_drops_replication": "ip saddr 198.19.1.4/32 ip daddr 198.18.2.20/32 "
        "tcp dport { 9443 } counter drop",
        "cs_https_reset": "ip saddr 198.19.1.0/24 ip daddr 198.18.3.10/32 "
        "tcp dport { 443 } counter reject with tcp reset",
        "ps_cs_prohibited": "ip saddr 198.19.1.4/32 ip daddr 198.18.3.10/32 "
        "tcp dport { 443 } counter reject with icmpx type admin-prohibited",
    }
    off = nft_ruleset(lab.fault("cs_https_reset"), "forward", on=False)
    assert off == "add table inet fault_cs_https_reset\ndelete table inet fault_cs_https_reset\n"


def test_sshd_config_listens_on_every_nic_with_keys_only() -> None:
    lab: Lab = load_lab(LAB_FILE)
    text = sshd_config_text(lab, lab.namespace("cs01"), Path("/run/x"))
    for line in (
        "ListenAddress 198.18.2.10",
        "ListenAddress 198.18.3.10",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "AuthorizedKeysFile /run/x/id_ed25519.pub",
        "PidFile /run/x/hosts/cs01/sshd.pid",
        "UsePAM no",
    ):
        assert line in text.splitlines()
    assert IPv4Network("198.18.3.0/24") in [a.network for a in lab.addresses("cs01")]
