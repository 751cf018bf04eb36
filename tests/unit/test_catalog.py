"""The shipped catalog against the documented port table (docs/asr-ports.md, with sources), row by row.

The expected values below are typed in from the reference's table (rows 1–16) and
its Azure endpoint list, not derived from the catalog, so a wrong edit of
asr_failback.yaml fails here.
"""

from __future__ import annotations

import pytest

from netcheck.catalog import (
    AZURE_ENDPOINTS,
    Evidence,
    PortRef,
    Rule,
    Scope,
    load_catalog,
)
from netcheck.errors import ConfigError
from netcheck.topology.model import PortOverrides, Role, UserRule
from netcheck.yamlsource import load_yaml_text

CS, PS, MT = Role.CONFIG_SERVER, Role.PROCESS_SERVER, Role.MASTER_TARGET
VM, SRC = Role.PROTECTED_VM, Role.SOURCE_MACHINE
VC, ESXI = Role.VCENTER, Role.ESXI
DOC, INF = Evidence.DOCUMENTED, Evidence.INFERRED
REPL, VCP = PortRef.REPLICATION_DATA, PortRef.VCENTER

# row -> the (from, to, proto, port) flows the reference lists, and its evidence level.
# A PortRef is a port the docs call changeable (row 2: 9443, row 6: vCenter 443).
REFERENCE: dict[int, tuple[set[tuple[Role, object, str, object]], Evidence]] = {
    1: ({(VM, CS, "tcp", 443)}, DOC),
    2: ({(VM, PS, "tcp", REPL)}, DOC),
    3: ({(CS, AZURE_ENDPOINTS, "tcp", 443)}, DOC),
    4: ({(PS, AZURE_ENDPOINTS, "tcp", 443)}, DOC),
    5: ({(VM, VM, "tcp", 20004)}, DOC),
    6: ({(s, t, "tcp", VCP) for s in (CS, PS) for t in (VC, ESXI)}, DOC),
    7: ({(s, SRC, "tcp", p) for s in (CS, PS) for p in (445, 135)}, DOC),
    8: ({(s, SRC, "tcp", 22) for s in (CS, PS)}, DOC),
    9: ({(VM, CS, "tcp", 443)}, DOC),
    10: ({(PS, CS, "tcp", 443)}, DOC),
    11: ({(VM, PS, "tcp", REPL)}, INF),
    12: ({(PS, MT, "tcp", REPL)}, INF),
    13: ({(MT, CS, "tcp", 443)}, DOC),
    14: ({(MT, t, "tcp", VCP) for t in (VC, ESXI)}, INF),
    15: ({(s, Role.NTP_SERVER, "udp", 123) for s in (CS, PS)}, INF),
    16: ({(s, Role.DNS_SERVER, p, 53) for s in (CS, PS) for p in ("udp", "tcp")}, INF),
}

CATALOG = load_catalog()


def _flows(rule: Rule) -> set[tuple[Role, object, str, object]]:
    return {(s, t, rule.proto, rule.port) for s in rule.sources for t in rule.targets}


@pytest.mark.parametrize("row", sorted(REFERENCE))
def test_reference_row_is_in_the_catalog(row: int) -> None:
    wanted, _ = REFERENCE[row]
    rules = [r for r in CATALOG.rules if row in r.flows]
    assert rules, f"no catalog rule cites row {row}"
    covered = set().union(*(_flows(r) for r in rules))
    assert wanted <= covered, f"row {row}: missing {wanted - covered}"


@pytest.mark.parametrize("rule", CATALOG.rules, ids=lambda r: r.id)
def test_rule_evidence_follows_its_rows(rule: Rule) -> None:
    """A rule is 'documented' iff one of its rows documents the port.

    vm-to-ps-data carries rows 2 (documented) and 11 (inferred): one probe covers both,
    and row 2 documents that very cell's port, so the rule says 'documented'.
    """
    assert rule.flows, rule.id
    levels = {REFERENCE[row][1] for row in rule.flows}
    expected = DOC if DOC in levels else INF
    assert rule.evidence is expected


def test_the_rows_that_are_inferred_are_marked_inferred() -> None:
    # the reference: "The catalog must mark such rows so a report can say 'inferred'"
    inferred_only = {row for row, (_, ev) in REFERENCE.items() if ev is INF} - {11}
    for row in inferred_only:
        for rule in (r for r in CATALOG.rules if row in r.flows):
            assert rule.evidence is INF, (row, rule.id)
    assert CATALOG.rule("ps-to-mt-data").evidence is INF  # row 12, port only in a diagram


def test_every_rule_flow_is_from_the_reference() -> None:
    """No invented flows: every (from, to, proto, port) of a rule is in one of its rows."""
    for rule in CATALOG.rules:
        allowed = set().union(*(REFERENCE[row][0] for row in rule.flows))
        assert _flows(rule) <= allowed, (rule.id, _flows(rule) - allowed)


def test_rows_cover_1_to_16() -> None:
    cited = {row for r in CATALOG.rules for row in r.flows}
    assert cited == set(range(1, 17))


@pytest.mark.parametrize("rule", CATALOG.rules, ids=lambda r: r.id)
def test_every_rule_has_hint_doc_and_phase(rule: Rule) -> None:
    assert rule.hint.strip() and rule.doc.strip() and rule.phase.strip()
    assert "\n" not in rule.hint  # folded to one line for the report
    assert rule.doc.startswith(("AS/", "INC/")), rule.doc  # cites the docs by the reference's names
    assert rule.expect_reachable  # the catalog only lists flows that must work
    assert rule.source_host is None and rule.dest_host is None


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in CATALOG.rules]
    assert len(ids) == len(set(ids)) == 17


def test_conditions_from_the_reference() -> None:
    r = CATALOG.rule
    assert r("vm-to-vm-consistency").same_group  # row 5: VMs of one replication group
    assert (r("cs-to-source-smb").dest_os, r("cs-to-source-rpc").dest_os) == ("windows", "windows")
    assert r("cs-to-source-ssh").dest_os == "linux"  # row 8: Linux source machine
    assert r("ps-to-vcenter").scope is Scope.SAME_SITE  # an Azure PS does not discover vCenter
    assert r("cs-to-vcenter").scope is Scope.ANY
    # push install is an on-premises flow
    for rid in ("cs-to-source-smb", "cs-to-source-rpc", "cs-to-source-ssh"):
        assert r(rid).scope is Scope.SAME_SITE


def test_error_codes_from_the_reference() -> None:
    r = CATALOG.rule
    assert "95226" in r("vm-to-cs-https").errors
    assert {"78186", "78028"} <= set(r("vm-to-ps-data").errors)
    assert "806" in r("ps-to-cs-https").errors
    assert "95103" in r("cs-to-source-rpc").errors
    assert {"95105", "95106"} <= set(r("cs-to-source-smb").errors)
    assert "ACS50008" in r("ntp").errors


def test_azure_endpoints_match_the_reference() -> None:
    assert set(CATALOG.azure_endpoints) == {
        "*.backup.windowsazure.com",
        "*.blob.core.windows.net",
        "*.hypervrecoverymanager.windowsazure.com",
        "login.microsoftonline.com",
        "time.nist.gov",
        "time.windows.com",
        "*.servicebus.windows.net",
    }
    assert len(CATALOG.azure_endpoints) == 7
    assert set(CATALOG.azure_government_endpoints) == {
        "*.usgovcloudapi.net",
        "login.microsoftonline.us",
        "*.hypervrecoverymanager.windowsazure.us",
    }


def test_catalog_rule_lookup_unknown_id() -> None:
    with pytest.raises(KeyError):
        CATALOG.rule("no-such-rule")


# --- ports -------------------------------------------------------------------------


def test_changeable_ports_default_to_the_documented_ones() -> None:
    ports = PortOverrides()
    assert CATALOG.rule("vm-to-ps-data").port_for(ports) == (9443, 9443)
    assert CATALOG.rule("ps-to-mt-data").port_for(ports) == (9443, 9443)
    assert CATALOG.rule("cs-to-vcenter").port_for(ports) == (443, 443)
    assert CATALOG.rule("vm-to-vm-consistency").port_for(ports) == (20004, 20004)


def test_changeable_ports_resolve_from_overrides() -> None:
    ports = PortOverrides(replication_data=9444, vcenter=8443)
    assert CATALOG.rule("vm-to-ps-data").port_for(ports) == (9444, 9444)
    assert CATALOG.rule("ps-to-mt-data").port_for(ports) == (9444, 9444)
    assert CATALOG.rule("cs-to-vcenter").port_for(ports) == (8443, 8443)
    assert CATALOG.rule("mt-to-vcenter").port_for(ports) == (8443, 8443)
    # a fixed port does not move with the vCenter override
    assert CATALOG.rule("vm-to-cs-https").port_for(ports) == (443, 443)


def test_remap_applies_after_the_override() -> None:
    # vcenter overridden to 8443, and 8443 remapped to 18443 for a demo
    ports = PortOverrides(vcenter=8443, remap=((443, 10443), (8443, 18443)))
    assert CATALOG.rule("cs-to-vcenter").port_for(ports) == (8443, 18443)
    # 443 itself (CS HTTPS) is still remapped
    assert CATALOG.rule("vm-to-cs-https").port_for(ports) == (443, 10443)
    # remapping the *default* 9443 does not touch an overridden replication port
    ports = PortOverrides(replication_data=9444, remap=((9443, 19443),))
    assert CATALOG.rule("ps-to-mt-data").port_for(ports) == (9444, 9444)


# --- user rules and catalog validation ------------------------------------------


def test_user_rule_becomes_a_catalog_shaped_rule() -> None:
    ur = UserRule(
        id="no-rdp",
        source_role=VM,
        source_host=None,
        dest_role=None,
        dest_host="ps-azure",
        proto="tcp",
        port=3389,
        expect_reachable=False,
        hint="",
    )
    rule = Rule.from_user(ur)
    assert (rule.sources, rule.targets, rule.dest_host, rule.port) == ((VM,), (), "ps-azure", 3389)
    assert rule.evidence is Evidence.USER and not rule.expect_reachable
    assert rule.hint == "Block TCP 3389 on this path: it must not be reachable."
    assert rule.doc == "topology rule"
    positive = Rule.from_user(UserRule("r", None, "cs01", MT, None, "tcp", 8080, True, "Open it."))
    assert (positive.source_host, positive.targets, positive.hint) == ("cs01", (MT,), "Open it.")
    default_hint = Rule.from_user(UserRule("r", CS, None, MT, None, "tcp", 8080, True, ""))
    assert default_hint.hint == "Allow TCP 8080 on this path."


def test_rule_rejects_an_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="proto 'sctp'"):
        Rule("x", (), (CS,), (MT,), "sctp", 1, "p", DOC, "doc", "hint")


def _catalog(rules: str) -> str:
    return (
        "version: 1\nrules:\n"
        + rules
        + "azure_endpoints: {public: [a.example], government: [b.example]}\n"
    )


def test_catalog_parser_rejects_unknown_role_and_duplicate_ids() -> None:
    from netcheck.catalog import parse_catalog  # not in __all__: the shipped file is the API

    good = (
        "  - {id: a, from: config_server, to: master_target, proto: tcp, port: 1,"
        " phase: p, evidence: documented, doc: d, hint: h}\n"
    )
    assert parse_catalog(load_yaml_text(_catalog(good))).rule("a").port == 1
    with pytest.raises(ConfigError, match="unknown role 'router'"):
        parse_catalog(load_yaml_text(_catalog(good.replace("master_target", "router"))))
    with pytest.raises(ConfigError, match="duplicate rule ids: a"):
        parse_catalog(load_yaml_text(_catalog(good + good)))
    with pytest.raises(ConfigError, match="a catalog rule needs 'hint'"):
        parse_catalog(load_yaml_text(_catalog(good.replace(", hint: h", ""))))
    with pytest.raises(ConfigError, match="expected a port number, replication_data or vcenter"):
        parse_catalog(load_yaml_text(_catalog(good.replace("port: 1", "port: https"))))
    # azure_endpoints is a target, never a source
    with pytest.raises(ConfigError, match="unknown role 'azure_endpoints'"):
        parse_catalog(
            load_yaml_text(_catalog(good.replace("from: config_server", "from: azure_endpoints")))
        )
