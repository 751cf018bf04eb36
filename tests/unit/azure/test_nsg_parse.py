"""Reading `az ... -o json` exports, and the errors a user gets for bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netcheck.azure.nsg import AzureExportError, load_export
from netcheck.azure.nsg.model import Access, Direction, PortRange
from netcheck.azure.nsg.parse import build_export, parse_nics, parse_nsgs, parse_vnets
from netcheck.errors import ConfigError
from tests.unit.azure.nsgdocs import NET, SUBNET_B, nic, nsg, rule, vnet

LAB = Path(__file__).resolve().parents[2] / "fixtures" / "azure" / "lab"


def test_lab_export_reads() -> None:
    ex = load_export(LAB / "nsgs.json", LAB / "nics.json", LAB / "vnets.json")
    names = [n.name for n in ex.nsgs]
    assert names == ["nsg-workloads", "nsg-ps-nic"]
    ps_nic = ex.nsgs[1]
    inbound = ps_nic.rules_for(Direction.INBOUND)
    assert [(r.name, r.priority) for r in inbound] == [
        ("allow-onprem-https", 100),
        ("deny-replication", 200),
        ("AllowVnetInBound", 65000),
        ("AllowAzureLoadBalancerInBound", 65001),
        ("DenyAllInBound", 65500),
    ]
    assert not ps_nic.defaults_assumed
    assert [str(t) for t in inbound[0].sources] == ["198.18.2.0/24", "198.18.3.0/24"]
    wl = ex.nsgs[0]
    consistency = next(r for r in wl.rules if r.name == "deny-vm-consistency")
    assert consistency.destination_ports == (PortRange(20000, 20010),)
    assert [str(t) for t in consistency.sources] == ["ASG asg-protected-vms"]
    mgmt = next(r for r in wl.rules if r.name == "deny-onprem-mgmt")
    assert mgmt.ports_text == "3389,5985-5986" and mgmt.protocol == "*"
    assert ex.nics is not None and next(n.name for n in ex.nics) == "nic-ps-azure"
    sub = next(iter(wl.subnet_ids))
    assert ex.subnet_nsg(sub) is wl
    assert ex.nic_nsg(ex.nics[0].id) is ps_nic


def test_arm_shape_with_properties_reads_the_same() -> None:
    flat = nsg("n1", [rule("deny-x", 200, ports="9443")], subnets=(SUBNET_B,))
    nested = {
        "name": "n1",
        "id": flat["id"],
        "properties": {k: v for k, v in flat.items() if k not in ("name", "id")},
    }
    nested["properties"]["securityRules"] = [
        {"name": "deny-x", "properties": {k: v for k, v in r.items() if k != "name"}}
        for r in flat["securityRules"]
    ]
    assert parse_nsgs([nested], "a.json") == parse_nsgs([flat], "b.json")


def test_one_nsg_object_as_az_nsg_show_prints_it() -> None:
    (n,) = parse_nsgs(nsg("n1", [rule("deny", 100)]), "show.json")
    assert n.name == "n1" and n.defaults_assumed
    assert {r.name for r in n.rules} >= {"DenyAllInBound", "AllowVnetOutBound"}


def test_case_insensitive_enums_and_ids() -> None:
    r = rule("x", 100, access="allow", direction="outbound", protocol="TCP")
    doc = nsg("n1", [r], subnets=(SUBNET_B.upper(),))
    (n,) = parse_nsgs([doc], "f.json")
    x = n.rules[0] if n.rules[0].name == "x" else next(r for r in n.rules if r.name == "x")
    assert (x.access, x.direction, x.protocol) == (Access.ALLOW, Direction.OUTBOUND, "tcp")
    assert n.subnet_ids == (SUBNET_B.lower(),)


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        ({"value": []}, "$", "not a network security group"),
        ([nic("nic1", "198.19.1.4", SUBNET_B)], "$[0]", "not a network security group"),
        ("hello", "$", "not a network security group"),
        (
            [nsg("n1", [rule("bad", 100, ports="80-")])],
            "$[0].securityRules[0].destinationPortRange",
            "malformed port range '80-'",
        ),
        (
            [nsg("n1", [rule("bad", 100, ports=["443", "9000-8000"])])],
            "$[0].securityRules[0].destinationPortRanges[1]",
            "outside 0-65535 or reversed",
        ),
        (
            [nsg("n1", [rule("bad", 100, ports="70000")])],
            "$[0].securityRules[0].destinationPortRange",
            "outside 0-65535",
        ),
        (
            [nsg("n1", [rule("bad", 100, ports="https")])],
            "$[0].securityRules[0].destinationPortRange",
            "malformed port range 'https'",
        ),
        (
            [nsg("n1", [rule("bad", 5000)])],
            "$[0].securityRules[0].priority",
            "priority 5000 of rule 'bad' is outside 100..4096",
        ),
        (
            [nsg("n1", [rule("bad", 100, access="Permit")])],
            "$[0].securityRules[0].access",
            "'Permit' is not one of Allow, Deny",
        ),
        (
            [nsg("n1", [rule("bad", 100, src="198.18.0.0/33")])],
            "$[0].securityRules[0].sourceAddressPrefix",
            "neither an address prefix",
        ),
        (
            [nsg("n1", [rule("a", 100), rule("b", 100)])],
            "$[0].securityRules[1]",
            "share priority 100",
        ),
    ],
)
def test_bad_nsg_json(doc: object, path: str, message: str) -> None:
    with pytest.raises(AzureExportError) as exc:
        parse_nsgs(doc, "nsgs.json")
    assert exc.value.file == "nsgs.json"
    assert exc.value.path == path
    assert message in str(exc.value)
    assert str(exc.value).startswith(f"nsgs.json: {path}: ")
    assert isinstance(exc.value, ConfigError)  # exit code 2, like every input error


def test_nsg_referencing_an_unknown_subnet() -> None:
    ghost = f"{NET}/virtualNetworks/vnet1/subnets/gone"
    nsgs = parse_nsgs([nsg("n1", []), nsg("n2", [], subnets=(SUBNET_B, ghost))], "nsgs.json")
    with pytest.raises(AzureExportError) as exc:
        build_export(
            nsgs,
            None,
            parse_vnets([vnet()], "vnets.json"),
            files={"nsgs": "nsgs.json", "vnets": "vnets.json"},
        )
    assert exc.value.file == "nsgs.json" and exc.value.path == "$[1].subnets[1].id"
    assert "NSG 'n2' references subnet 'vnet1/gone', which is not in vnets.json" in str(exc.value)


def test_nic_referencing_an_unknown_subnet() -> None:
    ghost = f"{NET}/virtualNetworks/other/subnets/x"
    with pytest.raises(AzureExportError, match=r"NIC 'nic1' references subnet 'other/x'"):
        build_export(
            parse_nsgs([nsg("n1", [])], "nsgs.json"),
            parse_nics([nic("nic1", "198.19.1.4", ghost)], "nics.json"),
            parse_vnets([vnet()], "vnets.json"),
        )


def test_nics_and_vnets_files_are_checked_for_their_kind(tmp_path: Path) -> None:
    nsgs = tmp_path / "nsgs.json"
    nsgs.write_text(json.dumps([nsg("n1", [])]))
    with pytest.raises(AzureExportError, match="not the output of `az network nic list -o json`"):
        load_export(nsgs, nics=nsgs)
    with pytest.raises(AzureExportError, match="not the output of `az network vnet list -o json`"):
        load_export(nsgs, vnets=nsgs)


def test_nsg_export_alone_says_what_else_is_needed(tmp_path: Path) -> None:
    nsgs = tmp_path / "nsgs.json"
    nsgs.write_text(json.dumps([nsg("n1", [])]))
    with pytest.raises(AzureExportError, match=r"--azure-nics\).*--azure-vnets"):
        load_export(nsgs)


def test_not_json_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "nsgs.json"
    bad.write_text('[\n  {"name": "n1",\n   oops}\n]')
    with pytest.raises(AzureExportError) as exc:
        load_export(bad, vnets=bad)
    assert f"{bad}:3:" in str(exc.value) and "not JSON" in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AzureExportError, match="can't read it"):
        load_export(tmp_path / "nope.json", vnets=tmp_path / "nope.json")


def test_utf16_with_bom_as_powershell_writes_it(tmp_path: Path) -> None:
    nsgs, vnets = tmp_path / "nsgs.json", tmp_path / "vnets.json"
    nsgs.write_bytes(json.dumps([nsg("n1", [], subnets=(SUBNET_B,))]).encode("utf-16"))
    vnets.write_bytes(b"\xef\xbb\xbf" + json.dumps([vnet()]).encode())
    ex = load_export(nsgs, vnets=vnets)
    assert ex.subnet_nsg(SUBNET_B.lower()) is ex.nsgs[0]
