"""Azure's NSG semantics, one table row per rule of the evaluator (documents in az JSON shape)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from netcheck.azure.nsg.evaluate import Outcome
from netcheck.azure.nsg.parse import build_export, parse_nsgs, parse_route_tables, parse_vnets
from tests.unit.azure.nsgdocs import (
    ASG_VMS,
    CS,
    PS1,
    SUBNET_A,
    SUBNET_B,
    VM1,
    VM2,
    Doc,
    export,
    nic,
    nsg,
    predict,
    rule,
    vnet,
)


@dataclass(frozen=True)
class Case:
    id: str
    nsgs: list[Doc]
    src: str
    dst: str
    port: int = 9443
    proto: str = "tcp"
    outcome: Outcome = Outcome.DENIED
    rule: str | None = None  # the deciding rule (denied) or None
    place: str | None = None  # "subnet vnet1/ps", "nic nic-ps1"
    reason: str = ""  # a substring of the reason
    peers: tuple[str, ...] = field(default_factory=tuple)


def on_ps_subnet(*rules: Doc) -> Doc:
    return nsg("nsg-ps-subnet", list(rules), subnets=(SUBNET_B,))


def on_ps_nic(*rules: Doc) -> Doc:
    return nsg("nsg-ps-nic", list(rules), nics=("nic-ps1",))


def on_vm_nic(*rules: Doc) -> Doc:
    return nsg("nsg-vm-nic", list(rules), nics=("nic-vm1",))


def on_app_subnet(*rules: Doc) -> Doc:
    return nsg("nsg-app-subnet", list(rules), subnets=(SUBNET_A,))


ALLOW_ALL_IN = rule("allow-all-in", 100, "Allow")
CASES = [
    # --- order of the NSGs on the way, and "both must allow" ---------------------------
    Case(
        "inbound: subnet NSG decides before the NIC NSG",
        [on_ps_subnet(rule("deny-replication", 200)), on_ps_nic(ALLOW_ALL_IN)],
        VM1,
        PS1,
        rule="deny-replication",
        place="subnet vnet1/ps",
    ),
    Case(
        "inbound: subnet allows, NIC denies -> denied (both must allow)",
        [on_ps_subnet(ALLOW_ALL_IN), on_ps_nic(rule("deny-nic", 300, ports="9443"))],
        VM1,
        PS1,
        rule="deny-nic",
        place="nic nic-ps1",
    ),
    Case(
        "outbound: NIC NSG decides before the subnet NSG",
        [
            on_vm_nic(rule("deny-out-nic", 100, direction="Outbound", ports="9443")),
            on_app_subnet(rule("deny-out-subnet", 100, direction="Outbound")),
        ],
        VM1,
        PS1,
        rule="deny-out-nic",
        place="nic nic-vm1",
    ),
    Case(
        "outbound: subnet NSG denies after the NIC NSG allows",
        [
            on_vm_nic(rule("allow-out", 100, "Allow", direction="Outbound")),
            on_app_subnet(
                rule("deny-out-subnet", 120, direction="Outbound", dst="198.19.1.128/25")
            ),
        ],
        VM1,
        PS1,
        rule="deny-out-subnet",
        place="subnet vnet1/app",
    ),
    Case(
        "both subnet and NIC allow -> allowed",
        [on_ps_subnet(ALLOW_ALL_IN), on_ps_nic(ALLOW_ALL_IN)],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
    ),
    # --- priority order, first match wins --------------------------------------------
    Case(
        "the lower priority number wins, whatever the JSON order",
        [on_ps_subnet(rule("allow-late", 300, "Allow"), rule("deny-early", 150))],
        VM1,
        PS1,
        rule="deny-early",
    ),
    Case(
        "first match wins: an allow above a deny",
        [on_ps_subnet(rule("deny-later", 300), rule("allow-first", 110, "Allow", ports="9443"))],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
    ),
    # --- protocol --------------------------------------------------------------------
    Case(
        "a Udp rule does not match a TCP flow",
        [on_ps_subnet(rule("deny-udp", 100, protocol="Udp"), rule("allow", 200, "Allow"))],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
    ),
    Case(
        "a * rule matches a TCP flow",
        [on_ps_subnet(rule("deny-any-proto", 100, protocol="*", ports="9443"))],
        VM1,
        PS1,
        rule="deny-any-proto",
    ),
    Case(
        "an Icmp rule matches an ICMP flow, and a port-restricted one doesn't",
        [
            on_ps_subnet(
                rule("deny-tcp-22", 100, protocol="*", ports="22"),
                rule("deny-icmp", 110, protocol="Icmp"),
            )
        ],
        VM1,
        PS1,
        proto="icmp",
        rule="deny-icmp",
    ),
    # --- ports ---------------------------------------------------------------------
    Case(
        "single port: another port does not match",
        [on_ps_subnet(rule("deny-443", 100, ports="443"))],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
    ),
    Case(
        "port range",
        [on_ps_subnet(rule("deny-range", 100, ports="9000-9500"))],
        VM1,
        PS1,
        rule="deny-range",
    ),
    Case(
        "port list (destinationPortRanges)",
        [on_ps_subnet(rule("deny-list", 100, ports=["443", "9440-9449"]))],
        VM1,
        PS1,
        rule="deny-list",
    ),
    # --- prefixes --------------------------------------------------------------------
    Case(
        "source prefix",
        [on_ps_subnet(rule("deny-app", 100, src="198.19.1.0/25"))],
        VM1,
        PS1,
        rule="deny-app",
    ),
    Case(
        "source prefix list (sourceAddressPrefixes), no entry matches",
        [on_ps_subnet(rule("deny-list", 100, src=["198.19.2.0/24", "198.19.1.64/26"]))],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
    ),
    Case(
        "destination address prefix as a single address",
        [on_ps_subnet(rule("deny-ps", 100, dst=PS1))],
        VM1,
        PS1,
        rule="deny-ps",
    ),
    # --- service tags ------------------------------------------------------------------
    Case(
        "VirtualNetwork includes the on-premises ranges behind the gateway",
        [on_ps_subnet(rule("deny-vnet", 100, src="VirtualNetwork"))],
        CS,
        PS1,
        rule="deny-vnet",
    ),
    Case(
        "VirtualNetwork includes a peered VNet",
        [on_ps_subnet(rule("deny-vnet", 100, src="VirtualNetwork"))],
        "198.19.9.5",
        PS1,
        rule="deny-vnet",
        peers=("198.19.9.0/24",),
    ),
    Case(
        "VirtualNetwork does not include an unrelated range (default DenyAllInBound decides)",
        [on_ps_subnet(rule("allow-vnet", 100, "Allow", src="VirtualNetwork"))],
        "198.18.50.5",
        PS1,
        rule="DenyAllInBound",
    ),
    Case(
        "Internet: a public source, and the default rules deny it",
        [on_ps_subnet(rule("allow-vnet", 100, "Allow", src="VirtualNetwork"))],
        "20.60.1.1",
        PS1,
        rule="DenyAllInBound",
    ),
    Case(
        "Internet outbound: AllowInternetOutBound (65001) lets a public destination out",
        [on_app_subnet()],
        VM1,
        "20.60.1.1",
        port=443,
        outcome=Outcome.ALLOWED,
        reason="AllowInternetOutBound",
    ),
    Case(
        "AzureLoadBalancer: the health probe source passes AllowAzureLoadBalancerInBound",
        [on_ps_subnet()],
        "168.63.129.16",
        PS1,
        outcome=Outcome.ALLOWED,
        reason="AllowAzureLoadBalancerInBound",
    ),
    # --- default rules ---------------------------------------------------------------
    Case(
        "defaults: VNet to VNet passes AllowVnetInBound (65000)",
        [on_ps_subnet()],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
        reason="AllowVnetInBound (priority 65000",
    ),
    Case(
        "defaults: anything else hits DenyAllInBound (65500)",
        [on_ps_subnet(rule("deny-vnet-9443", 4000, src="VirtualNetwork", ports="1-8"))],
        "198.18.100.1",
        PS1,
        rule="DenyAllInBound",
    ),
    # --- application security groups -------------------------------------------------
    Case(
        "ASG: source NIC is a member",
        [on_ps_subnet(rule("deny-vms", 100, src_asgs=[ASG_VMS]))],
        VM1,
        PS1,
        rule="deny-vms",
    ),
    Case(
        "ASG: the PS NIC is not a member of the destination ASG",
        [on_ps_subnet(rule("deny-to-vms", 100, dst_asgs=[ASG_VMS]))],
        VM1,
        PS1,
        outcome=Outcome.ALLOWED,
    ),
    Case(
        "ASG: an on-premises source is never a member",
        [on_ps_subnet(rule("allow-vms", 100, "Allow", src_asgs=[ASG_VMS]), rule("deny-rest", 200))],
        CS,
        PS1,
        rule="deny-rest",
    ),
    # --- what the export can't tell -> unknown, never a silent allow -------------------
    Case(
        "a service tag without an address list, in front of a deny -> unknown",
        [
            on_app_subnet(
                rule("allow-storage", 100, "Allow", direction="Outbound", dst="Storage"),
                rule("deny-out", 200, direction="Outbound"),
            )
        ],
        VM1,
        "20.60.1.1",
        port=443,
        outcome=Outcome.UNKNOWN,
        reason="service tag Storage",
    ),
    Case(
        "an unresolvable rule with the same access as the one that decides: decided",
        [
            on_app_subnet(
                rule("deny-storage", 100, direction="Outbound", dst="Storage"),
                rule("deny-out", 200, direction="Outbound"),
            )
        ],
        VM1,
        "20.60.1.1",
        port=443,
        rule="deny-out",
    ),
    Case(
        "a source-port restriction on an ephemeral source port -> unknown",
        [
            on_ps_subnet(
                rule("allow-from-high", 100, "Allow", src_ports="49152-65535"), rule("deny", 200)
            )
        ],
        VM1,
        PS1,
        outcome=Outcome.UNKNOWN,
        reason="source port",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_semantics(case: Case) -> None:
    ex = export(case.nsgs, vnets=[vnet(case.peers)])
    p = predict(ex, case.src, case.dst, case.port, case.proto)
    assert p.outcome is case.outcome, p.reason
    if case.rule is not None:
        assert p.denied_by is not None and p.denied_by.name == case.rule, p.reason
    if case.place is not None:
        assert p.deciding is not None and p.deciding.place == case.place, p.reason
    assert case.reason in p.reason


def test_stages_in_packet_order() -> None:
    ex = export([on_vm_nic(), on_app_subnet(), on_ps_subnet(), on_ps_nic()])
    p = predict(ex, VM1, PS1)
    assert [(s.direction.label, s.place) for s in p.stages] == [
        ("outbound", "nic nic-vm1"),
        ("outbound", "subnet vnet1/app"),
        ("inbound", "subnet vnet1/ps"),
        ("inbound", "nic nic-ps1"),
    ]


def test_denied_cell_names_nsg_rule_priority_direction_attachment_and_fix() -> None:
    ex = export([on_ps_subnet(rule("deny-replication", 200, src="198.19.1.0/24", ports="9443"))])
    p = predict(ex, VM1, PS1)
    assert p.reason == (
        "denied by NSG nsg-ps-subnet rule deny-replication (priority 200, inbound) "
        "attached to subnet vnet1/ps"
    )
    assert p.hint == (
        "NSG nsg-ps-subnet rule deny-replication (priority 200, inbound) denies TCP 9443 "
        "from 198.19.1.0/24; add an allow at priority < 200 or narrow it"
    )
    d = p.to_dict()
    assert (d["nsg"], d["rule"], d["priority"], d["direction"], d["attached_to"]) == (
        "nsg-ps-subnet",
        "deny-replication",
        200,
        "inbound",
        "subnet vnet1/ps",
    )


def test_default_deny_hint_asks_for_a_new_allow() -> None:
    ex = export([on_ps_subnet()])
    p = predict(ex, "198.18.100.1", PS1)
    assert "default rule DenyAllInBound (priority 65500, inbound)" in p.hint
    assert "add an allow rule (priority 100-4096) for TCP 9443 from 198.18.100.1 to " in p.hint


def test_both_unknown_and_denied_is_denied() -> None:
    """A sure deny further on wins over an unknown earlier: both must allow."""
    nics = [nic("nic-vm1", VM1, SUBNET_A, (ASG_VMS,)), nic("nic-ps1", PS1, SUBNET_B)]
    ex = export(
        [
            on_app_subnet(rule("x", 100, "Allow", direction="Outbound", src_ports="1000")),
            on_ps_subnet(rule("deny", 100)),
        ],
        nics=nics,
    )
    p = predict(ex, VM1, PS1)
    assert p.outcome is Outcome.DENIED and p.denied_by is not None
    assert p.denied_by.name == "deny"


def test_asg_member_unknown_without_its_nic() -> None:
    """vm2's NIC is not in the NIC export: its ASG membership is unknown."""
    nics = [nic("nic-vm1", VM1, SUBNET_A, (ASG_VMS,)), nic("nic-ps1", PS1, SUBNET_B)]
    ex = export([on_ps_subnet(rule("deny-vms", 100, src_asgs=[ASG_VMS]))], nics=nics)
    p = predict(ex, VM2, PS1)
    assert p.outcome is Outcome.UNKNOWN
    assert "ASG asg-vms" in p.reason and VM2 in p.reason


def test_nic_nsg_unknown_without_nic_export() -> None:
    ex = export([on_ps_nic(ALLOW_ALL_IN)], with_nics=False)
    p = predict(ex, VM1, PS1)
    assert p.outcome is Outcome.UNKNOWN
    assert "nsg-ps-nic attached to NICs" in p.reason and "--azure-nics" in p.reason


def test_no_nic_nsgs_means_the_nic_level_passes_without_nic_export() -> None:
    ex = export([on_ps_subnet(ALLOW_ALL_IN)], with_nics=False)
    assert predict(ex, VM1, PS1).outcome is Outcome.ALLOWED


def test_no_azure_end_no_prediction() -> None:
    from netcheck.azure.nsg.predict import predict_flow
    from tests.unit.azure.nsgdocs import scope

    ex = export([on_ps_subnet()])
    assert predict_flow(CS, "198.18.2.20", "tcp", 443, ex, scope(ex)) is None


# --- user-defined routes ---------------------------------------------------------------

ROUTES = [
    {
        "name": "rt-app",
        "id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt-app",
        "routes": [
            {
                "name": "to-onprem-blackhole",
                "addressPrefix": "198.18.3.0/24",
                "nextHopType": "None",
            },
            {
                "name": "to-lan-nva",
                "addressPrefix": "198.18.2.0/24",
                "nextHopType": "VirtualAppliance",
                "nextHopIpAddress": "198.19.1.100",
            },
            {"name": "default-nowhere", "addressPrefix": "0.0.0.0/0", "nextHopType": "None"},
        ],
        "subnets": [{"id": SUBNET_A}],
    }
]


def route_export():  # type: ignore[no-untyped-def]
    from netcheck.azure.nsg.parse import parse_nics
    from tests.unit.azure.nsgdocs import default_nics

    return build_export(
        parse_nsgs([on_ps_subnet(), on_app_subnet()], "nsgs.json"),
        parse_nics(default_nics(), "nics.json"),
        parse_vnets([vnet()], "vnets.json"),
        parse_route_tables(ROUTES, "rt.json"),
    )


def test_udr_next_hop_none_is_a_black_hole() -> None:
    p = predict(route_export(), VM1, CS, port=443)
    assert p.outcome is Outcome.DENIED
    assert p.deciding is not None and p.deciding.attached == "route"
    assert "route to-onprem-blackhole (198.18.3.0/24, next hop None)" in p.reason
    assert "rt-app" in p.hint and "next hop None" in p.hint


def test_udr_black_hole_on_the_reply_way() -> None:
    """On-prem CS → VM: the SYN arrives, the SYN-ACK is dropped by the VM subnet's route."""
    p = predict(route_export(), CS, VM1, port=443)
    assert p.outcome is Outcome.DENIED
    assert "the reply to 198.18.3.10" in p.reason


def test_udr_virtual_appliance_is_noted() -> None:
    p = predict(route_export(), VM1, "198.18.2.20", port=443)
    assert p.outcome is Outcome.ALLOWED
    assert any("virtual appliance 198.19.1.100" in c for c in p.caveats)


def test_vnet_system_route_beats_a_shorter_udr() -> None:
    """0.0.0.0/0 → None does not black-hole the VNet's own range (a longer system route)."""
    p = predict(route_export(), VM1, PS1)
    assert p.outcome is Outcome.ALLOWED
