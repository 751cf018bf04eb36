"""Topology v1 loader: every error kind names file, line, column and field; shipped files load.

The invalid fixtures in tests/fixtures/topologies/ each vary valid-minimal.yaml in
one place; the table below says where the loader must point and what it must say.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netcheck.errors import ConfigError, ConfigErrors, Location
from netcheck.topology import (
    PathKind,
    PortOverrides,
    Role,
    SweepSettings,
    Transport,
    load_topology,
    load_topology_text,
)

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "topologies"
ROLES = (
    "config_server, process_server, master_target, protected_vm, source_machine, "
    "vcenter, esxi, dns_server, ntp_server"
)

# fixture -> (line, column, field, message); line None: the error names only the file
CASES: dict[str, tuple[int | None, int | None, str | None, str]] = {
    "empty.yaml": (None, None, None, "the file is empty; expected a mapping"),
    # PyYAML and libyaml word this one differently; both name ',' or ']' and the context
    "malformed.yaml": (
        19,
        12,
        None,
        "malformed YAML: *',' or ']'* (while parsing a flow sequence)",
    ),
    "hosts-not-mapping.yaml": (11, 8, "hosts", "expected a mapping, found integer 5"),
    "port-not-integer.yaml": (
        20,
        35,
        "hosts.ps-azure.agent.port",
        "expected an integer, found string 'abc'",
    ),
    "unknown-top-key.yaml": (
        20,
        1,
        "colour",
        "unknown key 'colour'; expected one of: azure, bandwidth, defaults, demo, disable_rules, "
        "failback, hosts, "
        "name, paths, ports, rules, sites, sweep, version",
    ),
    "unknown-host-key.yaml": (
        15,
        5,
        "hosts.cs01.adress",
        "unknown key 'adress' (did you mean 'address'?); expected one of: address, agent, dns, groups, inventory, nics, "
        "os, roles, site, tls",
    ),
    "unknown-nic-key.yaml": (
        16,
        38,
        "hosts.cs01.nics.source.mask",
        "unknown key 'mask'; expected one of: address, faces",
    ),
    "unknown-agent-key.yaml": (
        20,
        29,
        "hosts.ps-azure.agent.username",
        "unknown key 'username'; expected one of: address, identity, port, python, "
        "responders, transport, user",
    ),
    "bad-cidr.yaml": (
        8,
        22,
        "sites.azure.networks.vnet",
        "'198.19.1.0/33' is not a network in CIDR form; expected e.g. 198.18.2.0/24",
    ),
    "cidr-host-bits.yaml": (
        8,
        22,
        "sites.azure.networks.vnet",
        "'198.19.1.4/24' has host bits set; did you mean 198.19.1.0/24?",
    ),
    "bad-address.yaml": (
        19,
        14,
        "hosts.ps-azure.address",
        "'198.19.1.400' is not an IP address; expected e.g. 198.18.2.10 or 2001:db8::10",
    ),
    "address-outside-site.yaml": (
        19,
        14,
        "hosts.ps-azure.address",
        "198.18.2.4 is outside the networks of site 'azure' (vnet 198.19.1.0/24)",
    ),
    "unknown-role.yaml": (
        18,
        29,
        "hosts.ps-azure.roles[1]",
        f"unknown role 'jump_host'; expected one of: {ROLES}",
    ),
    "unknown-site-host.yaml": (
        17,
        11,
        "hosts.ps-azure.site",
        "unknown site 'azure-west'; declared sites: azure, onprem",
    ),
    "unknown-site-path.yaml": (
        10,
        39,
        "paths.s2s-vpn.sites[1]",
        "unknown site 'branch'; declared sites: azure, onprem",
    ),
    "duplicate-host.yaml": (20, 3, "hosts.cs01", "duplicate key 'cs01' (first given at line 12)"),
    "duplicate-nic-address.yaml": (
        17,
        27,
        "hosts.cs01.nics.failback.address",
        "NICs 'source' and 'failback' share address 198.18.2.10",
    ),
    "duplicate-address-across-hosts.yaml": (
        23,
        14,
        "hosts.mt01.address",
        "address 198.18.2.10 of mt01/nic0 is already used by cs01/nic0 (line 15)",
    ),
    "port-out-of-range.yaml": (
        5,
        21,
        "ports.replication_data",
        "70000 is out of range; expected 1..65535",
    ),
    "remap-out-of-range.yaml": (5, 16, "ports.remap.443", "0 is out of range; expected 1..65535"),
    "path-one-site.yaml": (
        10,
        31,
        "paths.s2s-vpn.sites",
        "a path joins exactly two sites, found 1",
    ),
    "path-same-site-twice.yaml": (
        10,
        31,
        "paths.s2s-vpn.sites",
        "a path joins two different sites",
    ),
    "unknown-path-kind.yaml": (
        10,
        19,
        "paths.s2s-vpn.kind",
        "unknown path kind 'mpls'; expected vpn or expressroute",
    ),
    "unsupported-version.yaml": (
        2,
        10,
        "version",
        "unsupported topology version 2; this netcheck reads version 1",
    ),
    "unknown-transport.yaml": (
        20,
        24,
        "hosts.ps-azure.agent.transport",
        "unknown agent transport 'winrm'; expected local, ssh or none",
    ),
    "silent-port-not-loopback.yaml": (
        21,
        18,
        "demo.silent_ports[0]",
        "'cs01:9443': silent ports are a loopback demo device; 198.18.2.10 is not loopback",
    ),
    "no-nics.yaml": (15, 11, "hosts.cs01.nics", "a host needs at least one NIC"),
}


def test_every_fixture_has_a_case() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.yaml")}
    assert on_disk == set(CASES) | {"valid-minimal.yaml", "several-errors.yaml"}


def test_the_base_fixture_is_valid() -> None:
    topo = load_topology(FIXTURES / "valid-minimal.yaml")
    assert [h.name for h in topo.hosts] == ["cs01", "ps-azure"]


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_invalid_fixture(fixture: str) -> None:
    line, column, field, message = CASES[fixture]
    path = FIXTURES / fixture
    with pytest.raises(ConfigError) as ei:
        load_topology(path)
    err = ei.value
    assert not isinstance(err, ConfigErrors), str(err)  # exactly one problem in each
    assert err.location == Location(str(path), line, column)
    assert err.field == field
    if "*" in message:
        head, middle, tail = message.split("*")
        assert err.message.startswith(head) and middle in err.message, err.message
        assert err.message.endswith(tail), err.message
    else:
        assert err.message == message
    # the rendered line a user sees starts with file:line:column
    assert str(err).startswith(str(Location(str(path), line, column)))


def test_several_independent_errors_are_reported_together() -> None:
    path = FIXTURES / "several-errors.yaml"
    with pytest.raises(ConfigErrors) as ei:
        load_topology(path)
    got = [(e.location, e.field, e.message) for e in ei.value.errors]
    f = str(path)
    assert got == [
        (
            Location(f, 14, 28),
            "hosts.cs01.roles[1]",
            f"unknown role 'jump_host'; expected one of: {ROLES}",
        ),
        (
            Location(f, 19, 14),
            "hosts.ps-azure.address",
            "198.18.2.4 is outside the networks of site 'azure' (vnet 198.19.1.0/24)",
        ),
        (Location(f, 24, 35), "hosts.mt01.agent.port", "0 is out of range; expected 1..65535"),
    ]
    # one line per problem, each with its own position
    assert str(ei.value).splitlines() == [str(e) for e in ei.value.errors]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as ei:
        load_topology(tmp_path / "absent.yaml")
    assert ei.value.location == Location(str(tmp_path / "absent.yaml"))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory, expected a YAML file") as ei:
        load_topology(tmp_path)
    assert ei.value.location == Location(str(tmp_path))


# --- errors in text ---------------------------------------------------------------

HEAD = """\
version: 1
name: t
sites:
  onprem: {networks: {lan: 127.0.2.0/24}}
  azure: {networks: {vnet: 127.0.4.0/24}}
"""
CS = "  cs01: {site: onprem, roles: [config_server], address: 127.0.2.10}\n"


def _err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        load_topology_text(text, "t.yaml")
    return ei.value


def test_rule_port_not_a_number() -> None:
    err = _err(
        HEAD
        + "hosts:\n"
        + CS
        + 'rules:\n  - {id: r, from: config_server, to: vcenter, port: "abc"}\n'
    )
    assert err.location == Location("t.yaml", 9, 53)
    assert err.field == "rules[0].port"
    assert err.message == "expected an integer, found string 'abc'"


@pytest.mark.parametrize("key", ["version", "name", "sites", "hosts"])
def test_required_top_level_keys(key: str) -> None:
    text = HEAD + "hosts:\n" + CS
    lines = [ln for ln in text.splitlines(keepends=True)]
    if key == "sites":
        lines = [ln for ln in lines if not ln.startswith(("sites", "  onprem", "  azure"))]
    elif key == "hosts":
        lines = [ln for ln in lines if not ln.startswith(("hosts", "  cs01"))]
    else:
        lines = [ln for ln in lines if not ln.startswith(key)]
    err = _err("".join(lines))
    assert err.message == f"missing required key {key!r}"
    assert err.location == Location("t.yaml", 1, 1)


def test_top_level_not_a_mapping() -> None:
    err = _err("- a\n- b\n")
    assert err.message == "expected a mapping, found a list"
    assert err.location == Location("t.yaml", 1, 1)


def test_version_as_string() -> None:
    err = _err(HEAD.replace("version: 1", "version: '1'") + "hosts:\n" + CS)
    assert (err.field, err.message) == ("version", "expected an integer, found string '1'")


def test_no_hosts() -> None:
    err = _err(HEAD + "hosts: {}\n")
    assert (err.field, err.message) == ("hosts", "a topology needs at least one host")
    assert err.location == Location("t.yaml", 6, 8)


def test_site_without_networks() -> None:
    err = _err(
        HEAD.replace("  azure: {networks: {vnet: 127.0.4.0/24}}", "  azure: {}") + "hosts:\n" + CS
    )
    assert (err.field, err.message) == ("sites.azure", "a site needs 'networks': {name: CIDR, ...}")
    assert err.location == Location("t.yaml", 5, 10)


def test_host_needs_an_address_or_nics() -> None:
    err = _err(HEAD + "hosts:\n  cs01: {site: onprem, roles: [config_server]}\n")
    assert (err.field, err.message) == ("hosts.cs01", "a host needs 'address' or 'nics'")


def test_host_with_address_and_nics() -> None:
    err = _err(
        HEAD + "hosts:\n  cs01: {site: onprem, roles: [vcenter], address: 127.0.2.1, "
        "nics: {a: {address: 127.0.2.2}}}\n"
    )
    assert (err.field, err.message) == (
        "hosts.cs01.address",
        "give either 'address' (one NIC) or 'nics', not both",
    )


def test_nic_facing_an_unknown_site() -> None:
    err = _err(
        HEAD + "hosts:\n  cs01:\n    site: onprem\n    roles: [config_server]\n"
        "    nics: {failback: {address: 127.0.2.11, faces: [branch]}}\n"
    )
    assert err.field == "hosts.cs01.nics.failback.faces[0]"
    assert err.message == "unknown site 'branch'; declared sites: azure, onprem"
    assert err.location == Location("t.yaml", 10, 52)


def test_nic_address_outside_site_points_at_the_nic_address() -> None:
    err = _err(
        HEAD + "hosts:\n  cs01:\n    site: onprem\n    roles: [config_server]\n"
        "    nics:\n      source: {address: 127.0.2.10}\n      failback: {address: 127.0.9.10}\n"
    )
    assert err.field == "hosts.cs01.nics.failback.address"
    assert err.location == Location("t.yaml", 12, 27)
    assert err.message.startswith("127.0.9.10 is outside the networks of site 'onprem'")


def test_unknown_os() -> None:
    err = _err(
        HEAD
        + "hosts:\n  s: {site: onprem, roles: [source_machine], os: BeOS, address: 127.0.2.5}\n"
    )
    assert (err.field, err.message) == (
        "hosts.s.os",
        "unknown os 'beos'; expected windows or linux",
    )


def test_bad_host_name() -> None:
    err = _err(HEAD + "hosts:\n  'cs 01': {site: onprem, roles: [vcenter], address: 127.0.2.1}\n")
    assert err.message == (
        "'cs 01' is not a valid host name (no spaces, control characters or '|')"
    )


def test_unknown_key_in_defaults_agent() -> None:
    err = _err(HEAD + "defaults:\n  agent: {transport: local, sudo: true}\nhosts:\n" + CS)
    assert (err.field, err.location) == ("defaults.agent.sudo", Location("t.yaml", 7, 29))


def test_unknown_transport_as_a_plain_string() -> None:
    err = _err(
        HEAD
        + "hosts:\n  cs01: {site: onprem, roles: [vcenter], address: 127.0.2.1, agent: telnet}\n"
    )
    assert err.field == "hosts.cs01.agent"
    assert err.message == "unknown agent transport 'telnet'; expected local, ssh or none"


def test_path_missing_kind() -> None:
    err = _err(HEAD + "paths:\n  p: {sites: [azure, onprem]}\nhosts:\n" + CS)
    assert (err.field, err.message) == ("paths.p", "a path needs 'kind'")


def test_path_expect_mtu_out_of_range() -> None:
    err = _err(
        HEAD + "paths:\n  p: {kind: vpn, sites: [azure, onprem], expect: {mtu: 100}}\nhosts:\n" + CS
    )
    assert (err.field, err.message) == (
        "paths.p.expect.mtu",
        "100 is out of range; expected 576..9216",
    )


def test_path_gateway_not_an_address() -> None:
    err = _err(
        HEAD + "paths:\n  p: {kind: vpn, sites: [azure, onprem], gateways: [gw1]}\nhosts:\n" + CS
    )
    assert err.field == "paths.p.gateways[0]"
    assert err.message.startswith("'gw1' is not an IP address")


def test_remap_key_not_a_port() -> None:
    err = _err(HEAD + "ports: {remap: {https: 8443}}\nhosts:\n" + CS)
    assert (err.field, err.message) == (
        "ports.remap.https",
        "remap key 'https' is not a port number",
    )


def test_remap_key_out_of_range() -> None:
    err = _err(HEAD + "ports: {remap: {70000: 8443}}\nhosts:\n" + CS)
    assert (err.field, err.message) == (
        "ports.remap.70000",
        "remap key 70000 is out of range 1..65535",
    )


def test_vcenter_port_out_of_range() -> None:
    err = _err(HEAD + "ports: {vcenter: -1}\nhosts:\n" + CS)
    assert (err.field, err.message) == ("ports.vcenter", "-1 is out of range; expected 1..65535")


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        (
            "{id: r, from: jump_host, to: vcenter, port: 1}",
            "rules[0].from",
            f"from 'jump_host' is neither a role nor host:NAME; roles: {ROLES}",
        ),
        (
            "{id: r, from: config_server, to: 'host:nobody', port: 1}",
            "rules[0].to",
            "unknown host 'nobody'",
        ),
        (
            "{id: r, from: config_server, to: vcenter, port: 1, proto: udp}",
            "rules[0].proto",
            "protocol 'udp' is not probed yet; expected tcp",
        ),
        (
            "{id: r, from: config_server, to: vcenter, port: 1, expect: maybe}",
            "rules[0].expect",
            "expect 'maybe'; expected reachable or blocked",
        ),
        ("{id: r, from: config_server, to: vcenter}", "rules[0]", "a rule needs 'port'"),
        (
            "{id: r, from: config_server, to: vcenter, port: 1, colour: red}",
            "rules[0].colour",
            None,
        ),
    ],
)
def test_rule_errors(rule: str, field: str, message: str | None) -> None:
    err = _err(HEAD + "hosts:\n" + CS + f"rules:\n  - {rule}\n")
    assert err.field == field
    assert err.location is not None and err.location.line == 9
    if message is not None:
        assert err.message == message


def test_duplicate_rule_id_points_at_the_duplicate_even_after_a_bad_rule() -> None:
    with pytest.raises(ConfigErrors) as ei:
        load_topology_text(
            HEAD
            + "hosts:\n"
            + CS
            + "rules:\n"
            + "  - {id: a, from: config_server, to: nowhere, port: 1}\n"
            + "  - {id: b, from: config_server, to: vcenter, port: 1}\n"
            + "  - {id: b, from: config_server, to: vcenter, port: 2}\n",
            "t.yaml",
        )
    dup = ei.value.errors[1]
    assert dup.message == "duplicate rule id 'b'"
    assert (dup.field, dup.location) == ("rules[2]", Location("t.yaml", 11, 5))


@pytest.mark.parametrize(
    ("sweep", "field"),
    [
        ("{samples: 0}", "sweep.samples"),
        ("{timeout_ms: 5}", "sweep.timeout_ms"),
        ("{concurrency: 5000}", "sweep.concurrency"),
        ("{interval_ms: -1}", "sweep.interval_ms"),
    ],
)
def test_sweep_settings_out_of_range(sweep: str, field: str) -> None:
    err = _err(HEAD + f"sweep: {sweep}\nhosts:\n" + CS)
    assert err.field == field
    assert err.message.startswith("expected an integer from ")  # bounds.py wording


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ('"nobody:9443"', "'nobody:9443': expected HOST:PORT with a host of this topology"),
        ('"cs01:https"', "'cs01:https': expected HOST:PORT with a host of this topology"),
        ('"cs01:²"', "'cs01:²': expected HOST:PORT with a host of this topology"),
        ('"cs01:70000"', "port 70000 out of range 1..65535"),
    ],
)
def test_demo_silent_ports_errors(item: str, message: str) -> None:
    err = _err(HEAD + "hosts:\n" + CS + f"demo: {{silent_ports: [{item}]}}\n")
    assert (err.field, err.message) == ("demo.silent_ports[0]", message)


def test_demo_silent_ports_on_loopback() -> None:
    topo = load_topology_text(HEAD + "hosts:\n" + CS + 'demo: {silent_ports: ["cs01:10443"]}\n')
    assert topo.demo_silent_ports == (("127.0.2.10", 10443),)


def test_a_full_topology_parses_into_typed_values() -> None:
    topo = load_topology_text(
        """\
version: 1
name: full
ports: {replication_data: 9444, vcenter: 8443, remap: {443: 10443}}
defaults: {agent: {transport: ssh, user: netcheck}}
sweep: {samples: 5, interval_ms: 10, timeout_ms: 900, concurrency: 8}
sites:
  onprem: {networks: {lan: 198.18.2.0/24, failback: 198.18.3.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24, v6: '2001:db8::/64'}}
paths:
  er: {kind: expressroute, sites: [onprem, azure], gateways: [198.19.1.1], expect: {mtu: 1500, min_mbps: 50, max_rtt_ms: 20, max_loss_pct: 0.5}}
hosts:
  cs01:
    site: onprem
    roles: config_server
    nics:
      source: {address: 198.18.2.10}
      failback: {address: 198.18.3.10, faces: azure}
  vm1:
    site: azure
    roles: [protected_vm]
    groups: erp
    os: Windows
    address: '2001:db8::10'
    agent: {user: azureuser, port: 2222, python: py, address: jump.example, responders: false}
  vcenter: {site: onprem, roles: [vcenter], address: 198.18.2.30, agent: none}
rules:
  - {id: no-rdp, from: protected_vm, to: 'host:cs01', port: 3389, expect: blocked}
disable_rules: [ntp]
""",
        "full.yaml",
    )
    assert (topo.version, topo.name, topo.source) == (1, "full", "full.yaml")
    assert topo.ports == PortOverrides(replication_data=9444, vcenter=8443, remap=((443, 10443),))
    assert topo.ports.probed(443) == 10443 and topo.ports.probed(9444) == 9444
    assert topo.sweep == SweepSettings(samples=5, interval_ms=10, timeout_ms=900, concurrency=8)
    er = topo.paths[0]
    assert (er.kind, er.sites, er.gateways) == (
        PathKind.EXPRESSROUTE,
        ("onprem", "azure"),
        (ipaddress.ip_address("198.19.1.1"),),
    )
    assert (er.expect.mtu, er.expect.min_mbps, er.expect.max_rtt_ms, er.expect.max_loss_pct) == (
        1500,
        50.0,
        20.0,
        0.5,
    )
    cs = topo.host("cs01")
    assert cs.roles == (Role.CONFIG_SERVER,)  # a single role may be written without a list
    assert [(n.name, str(n.address), n.faces) for n in cs.nics] == [
        ("source", "198.18.2.10", ()),
        ("failback", "198.18.3.10", ("azure",)),
    ]
    assert cs.agent.transport is Transport.SSH and cs.agent.user == "netcheck"  # from defaults
    vm = topo.host("vm1")
    assert (vm.groups, vm.os) == (("erp",), "windows")
    assert vm.nics[0].address == ipaddress.ip_address("2001:db8::10")
    assert (
        vm.agent.user,
        vm.agent.port,
        vm.agent.python,
        vm.agent.ssh_address,
        vm.agent.responders,
    ) == (
        "azureuser",
        2222,
        "py",
        "jump.example",
        False,
    )
    vc = topo.host("vcenter")
    assert vc.agent.transport is Transport.NONE and not vc.agent.runs
    (rule,) = topo.rules
    assert (rule.id, rule.source_role, rule.dest_host, rule.port, rule.expect_reachable) == (
        "no-rdp",
        Role.PROTECTED_VM,
        "cs01",
        3389,
        False,
    )
    assert topo.disabled_rules == ("ntp",)
    assert topo.path_between("azure", "onprem") is er
    assert topo.path_between("onprem", "onprem") is None


def test_defaults_when_optional_sections_are_absent() -> None:
    topo = load_topology_text(HEAD + "hosts:\n" + CS)
    assert topo.ports == PortOverrides()
    assert topo.ports.replication_data == 9443 and topo.ports.vcenter == 443
    assert topo.sweep == SweepSettings()
    assert topo.paths == () and topo.rules == () and topo.disabled_rules == ()
    agent = topo.host("cs01").agent
    assert (agent.transport, agent.port, agent.python, agent.responders) == (
        Transport.SSH,
        22,
        "python3",
        True,
    )


# --- the topologies the project ships -----------------------------------------

# Asserted by name so that nothing is silently skipped: every YAML under topologies/
# is either a netcheck topology (validated here) or a lab description (netcheck.lab).
SHIPPED_TOPOLOGIES = {
    "topologies/local-demo.yaml",
    "topologies/local-demo-faults.yaml",
    "topologies/asr-failback-vpn.yaml",
    "topologies/asr-failback-expressroute.yaml",
    "topologies/lab/failback-topology.yaml",  # the netcheck topology of the namespace lab
}
LAB_DESCRIPTIONS = {"topologies/lab/failback-lab.yaml"}


def test_every_yaml_under_topologies_is_accounted_for() -> None:
    found = {p.relative_to(REPO).as_posix() for p in (REPO / "topologies").rglob("*.yaml")}
    assert found == SHIPPED_TOPOLOGIES | LAB_DESCRIPTIONS


@pytest.mark.parametrize("rel", sorted(SHIPPED_TOPOLOGIES))
def test_shipped_topology_validates(rel: str) -> None:
    topo = load_topology(REPO / rel)
    assert topo.version == 1
    assert topo.hosts
    assert topo.source == str(REPO / rel)


def test_local_demo_is_all_loopback() -> None:
    # the demo is swept by tests and by users without root: it must never leave the machine
    for rel in ("topologies/local-demo.yaml", "topologies/local-demo-faults.yaml"):
        topo = load_topology(REPO / rel)
        for h in topo.hosts:
            for nic in h.nics:
                assert nic.address.is_loopback, f"{rel}: {h.name}/{nic.name} {nic.address}"


def test_local_demo_faults_declares_its_planted_faults() -> None:
    topo = load_topology(REPO / "topologies/local-demo-faults.yaml")
    assert topo.host("mt01").agent.transport is Transport.NONE
    assert topo.demo_silent_ports == (("127.0.2.30", 10443),)
    assert [(r.id, r.expect_reachable, r.port) for r in topo.rules] == [
        ("no-rdp-from-vms", False, 3389)
    ]
