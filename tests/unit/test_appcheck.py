"""Application probes on the coordinator side, pure: the topology's azure:/tls:/dns:
declarations, the cells the plan makes of them, and what the facts mean (verdicts)."""

from __future__ import annotations

from typing import Any

import pytest

from netcheck.appverdict import judge_app
from netcheck.errors import ConfigError
from netcheck.plan import Plan, ProbeSpec, build_plan
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.stats import Verdict, judge
from netcheck.topology import load_topology_text

BASE = """\
version: 1
name: app
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem]}
hosts:
  cs01: {site: onprem, roles: [config_server], address: 198.18.2.10, tls: true}
  dns01:
    site: onprem
    roles: [dns_server, ntp_server]
    address: 198.18.2.53
    agent: none
    dns: {query: contosocache.blob.core.windows.net}
  ps-azure:
    site: azure
    roles: [process_server]
    address: 198.19.1.4
    tls: {sni: ps-azure.contoso.local}
  vm1: {site: azure, roles: [protected_vm], address: 198.19.1.10}
"""


def plan_of(text: str) -> Plan:
    return build_plan(load_topology_text(text, "app.yaml"))


def spec(plan: Plan, src: str, dst: str, proto: str, port: int) -> ProbeSpec:
    (s,) = [
        x
        for x in plan.specs
        if (x.source_host, x.dest_host, x.proto, x.port) == (src, dst, proto, port)
    ]
    return s


# -- plan --------------------------------------------------------------------------


def test_declared_services_get_application_probes() -> None:
    plan = plan_of(BASE)
    ps = spec(plan, "vm1", "ps-azure", "tcp", 9443)
    assert (ps.kind, dict(ps.params)) == ("tls", {"sni": "ps-azure.contoso.local", "http": True})
    cs = spec(plan, "vm1", "cs01", "tcp", 443)
    assert (cs.kind, dict(cs.params)) == ("tls", {"http": False})
    assert spec(plan, "ps-azure", "cs01", "tcp", 443).kind == "tls"
    dns_udp = spec(plan, "cs01", "dns01", "udp", 53)
    assert (dns_udp.kind, dict(dns_udp.params)) == (
        "dns",
        {"name": "contosocache.blob.core.windows.net", "transport": "udp"},
    )
    assert dict(spec(plan, "cs01", "dns01", "tcp", 53).params)["transport"] == "tcp"
    assert spec(plan, "ps-azure", "dns01", "udp", 123).kind == "ntp"
    # responders only for plain TCP cells: the application probes talk to the real service
    assert "ps-azure" not in plan.listeners() and "cs01" not in plan.listeners()


def test_without_an_azure_section_no_endpoint_is_probed() -> None:
    plan = plan_of(BASE)
    assert not [s for s in plan.specs if s.kind == "https_endpoint"]
    assert {s.rule_id for s in plan.skipped} >= {"cs-to-azure-https", "ps-to-azure-storage"}


def test_azure_endpoints_from_the_catalog_and_the_storage_account() -> None:
    text = BASE + "azure:\n  storage_account: contosocache\n  proxy: http://198.18.2.5:3128\n"
    plan = plan_of(text)
    eps = [s for s in plan.specs if s.kind == "https_endpoint"]
    by_src: dict[str, set[str]] = {}
    for s in eps:
        by_src.setdefault(s.source_host, set()).add(s.dest_host)
    expected = {"contosocache.blob.core.windows.net", "login.microsoftonline.com"}
    assert by_src == {"cs01": expected, "ps-azure": expected}
    login = spec(plan, "cs01", "login.microsoftonline.com", "tcp", 443)
    assert login.cell_id == "cs01/nic0>login.microsoftonline.com/endpoint:tcp/443"
    # the CS's own site has a resolver: the endpoint probe resolves through it, not the OS
    assert dict(login.params) == {"resolver": "198.18.2.53", "proxy": "198.18.2.5:3128"}
    # the PS in Azure has no resolver declared on its site: its host's own
    assert dict(spec(plan, "ps-azure", "login.microsoftonline.com", "tcp", 443).params) == {
        "proxy": "198.18.2.5:3128"
    }
    reasons = [s.reason for s in plan.skipped if s.rule_id == "cs-to-azure-https"]
    assert any(
        r.startswith(
            "*.backup.windowsazure.com needs a concrete host name: declare azure.endpoints"
        )
        for r in reasons
    )
    assert any(r.startswith("time.windows.com is a time source") for r in reasons)


def test_azure_endpoints_override_and_resolver_choice() -> None:
    text = (
        BASE
        + "ports: {remap: {53: 10053, 443: 10443}}\n"
        + "azure:\n  endpoints: [contosovault.backup.windowsazure.com]\n  resolver: dns01\n"
    )
    plan = plan_of(text)
    (ep,) = [s for s in plan.specs if s.kind == "https_endpoint" and s.source_host == "ps-azure"]
    assert (ep.dest_host, ep.port, ep.documented_port) == (
        "contosovault.backup.windowsazure.com",
        10443,
        443,
    )
    assert dict(ep.params) == {"resolver": "198.18.2.53:10053"}
    assert not [s for s in plan.skipped if "concrete host name" in s.reason]


@pytest.mark.parametrize(
    "azure, where, message",
    [
        ("  endpoints: ['*.blob.core.windows.net']\n", "azure.endpoints[0]", "is a wildcard"),
        ("  proxy: http://user:pw@198.18.2.5:3128\n", "azure.proxy", "authenticating proxy"),
        ("  proxy: 198.18.2.5:3128\n", "azure.proxy", "expected http://HOST:PORT"),
        ("  proxy: http://198.18.2.5\n", "azure.proxy", "give the proxy's port"),
        ("  resolver: nosuchhost\n", "azure.resolver", "expected a dns_server host (dns01)"),
        ("  storage_account: Contoso_Cache\n", "azure.storage_account", "not a storage account"),
        ("  cloud: china\n", "azure.cloud", "expected public or government"),
        ("  colour: blue\n", "azure.colour", "unknown key"),
    ],
)
def test_azure_section_errors_name_the_field(azure: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as ei:
        load_topology_text(BASE + "azure:\n" + azure, "app.yaml")
    text = str(ei.value)
    assert where in text and message in text and "app.yaml:" in text


def test_host_hint_errors() -> None:
    bad_dns = BASE.replace(
        "cs01: {site: onprem, roles: [config_server], address: 198.18.2.10, tls: true}",
        "cs01: {site: onprem, roles: [config_server], address: 198.18.2.10, dns: {query: x.y}}",
    )
    with pytest.raises(ConfigError, match="no dns_server role"):
        load_topology_text(bad_dns, "app.yaml")
    bad_sni = BASE.replace("sni: ps-azure.contoso.local", "sni: 198.19.1.4")
    with pytest.raises(ConfigError, match="SNI carries a name"):
        load_topology_text(bad_sni, "app.yaml")


# -- verdicts ------------------------------------------------------------------------


def measured(s: ProbeSpec, *samples: Sample) -> CellResult:
    return CellResult(s, CellStatus.MEASURED, samples)


def tls_facts(**kw: Any) -> dict[str, Any]:
    f: dict[str, Any] = {
        "tls_version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "cert_subject": "CN=ps-azure",
        "cert_issuer": "CN=ps-azure",
        "cert_not_after": "2027-01-01T00:00:00Z",
        "cert_days_left": 300,
        "chain_verified": False,
        "verify_error": "self-signed certificate",
    }
    f.update(kw)
    return f


@pytest.fixture(scope="module")
def plan() -> Plan:
    return plan_of(
        BASE + "azure:\n  storage_account: contosocache\n  proxy: http://198.18.2.5:3128\n"
    )


def test_process_server_400_means_the_data_port_works(plan: Plan) -> None:
    s = spec(plan, "vm1", "ps-azure", "tcp", 9443)
    f = tls_facts(http_status=400, http_status_line="HTTP/1.1 400 Bad Request")
    v = judge(measured(s, Sample(Outcome.OPEN, 900, "tcp_info", facts=f)))
    assert v.passed and v.app is not None
    assert (v.app.state, v.app.level, v.app.summary) == (
        "data-port-works",
        "ok",
        "400: data port works",
    )
    # another answer on the data port is shown, and makes the reader look twice
    f200 = tls_facts(http_status=200, http_status_line="HTTP/1.1 200 OK")
    v = judge(measured(s, Sample(Outcome.OPEN, 900, "tcp_info", facts=f200)))
    assert v.passed and v.app is not None and v.app.level == "warn"
    assert "not the process server's documented 400" in v.reason


@pytest.mark.parametrize(
    "days, state, level, passed",
    [
        (-4, "tls-expired", "fail", False),
        (12, "tls-expiring", "warn", True),
        (300, "tls-ok", "ok", True),
    ],
)
def test_certificate_expiry(plan: Plan, days: int, state: str, level: str, passed: bool) -> None:
    s = spec(plan, "vm1", "cs01", "tcp", 443)
    v = judge(
        measured(s, Sample(Outcome.OPEN, 900, "tcp_info", facts=tls_facts(cert_days_left=days)))
    )
    assert v.app is not None and (v.app.state, v.app.level, v.passed) == (state, level, passed)
    if state == "tls-expired":
        assert "(60) Peer certificate cannot be authenticated" in v.app.error_codes
        assert (
            v.reason == v.app.reason and "expired on 2027-01-01T00:00:00Z (4 days ago)" in v.reason
        )


def test_failed_handshake_explains_the_cell(plan: Plan) -> None:
    s = spec(plan, "vm1", "ps-azure", "tcp", 9443)
    sample = Sample(
        Outcome.HANDSHAKE_ONLY,
        500,
        "tcp_info",
        detail="connected, then TLS handshake failed",
        facts={"stage": "tls", "tls_error": "wrong version number"},
    )
    v = judge(measured(s, sample))
    assert v.verdict is Verdict.HANDSHAKE_ONLY and not v.passed
    assert v.app is not None and v.app.state == "tls-handshake-failed"
    assert "wrong version number" in v.reason and "78186" in v.app.error_codes


def test_endpoint_verdicts(plan: Plan) -> None:
    s = spec(plan, "cs01", "login.microsoftonline.com", "tcp", 443)
    auth = Sample(
        Outcome.HANDSHAKE_ONLY,
        300,
        "tcp_info",
        facts={"stage": "proxy", "proxy": "198.18.2.5:3128", "proxy_status": 407},
    )
    v = judge(measured(s, auth))
    assert v.app is not None and (v.app.state, v.app.error_codes) == ("proxy-auth", ("407",))
    assert "authenticating proxy — not supported by ASR classic" in v.reason
    nx = Sample(
        Outcome.ERROR,
        facts={
            "stage": "dns",
            "dns_error": "resolver 198.18.2.53 answered NXDOMAIN",
            "dns_rcode": "NXDOMAIN",
            "resolver": "198.18.2.53",
        },
    )
    v = judge(measured(s, nx))
    assert v.app is not None and (v.app.state, v.app.summary) == ("dns-failed", "DNS NXDOMAIN")
    untrusted = tls_facts(name_matches=True, verify_error="unable to get local issuer certificate")
    v = judge(measured(s, Sample(Outcome.OPEN, 300, "tcp_info", facts=untrusted)))
    assert v.app is not None and v.app.state == "tls-untrusted" and not v.passed
    ok = tls_facts(chain_verified=True, name_matches=True, verify_error=None)
    v = judge(measured(s, Sample(Outcome.OPEN, 300, "tcp_info", facts=ok)))
    assert v.passed and v.app is not None and v.app.state == "endpoint-ok"


@pytest.mark.parametrize(
    "facts, state, passed",
    [
        (
            {"rcode": "NOERROR", "answers": ["198.19.1.9"], "transport": "udp", "query": "x"},
            "dns-ok",
            True,
        ),
        (
            {"rcode": "NXDOMAIN", "answers": [], "transport": "udp", "query": "x"},
            "dns-nxdomain",
            False,
        ),
        (
            {"rcode": "SERVFAIL", "answers": [], "transport": "tcp", "query": "x"},
            "dns-servfail",
            False,
        ),
        (
            {"rcode": "REFUSED", "answers": [], "transport": "udp", "query": "x"},
            "dns-refused",
            False,
        ),
        (
            {"rcode": "NOERROR", "answers": [], "transport": "udp", "query": "x"},
            "dns-noerror",
            False,
        ),
    ],
)
def test_dns_rcodes(plan: Plan, facts: dict[str, Any], state: str, passed: bool) -> None:
    s = spec(plan, "cs01", "dns01", "udp", 53)
    v = judge(measured(s, Sample(Outcome.OPEN, 400, "monotonic", facts=facts)))
    assert v.app is not None and (v.app.state, v.passed) == (state, passed)


def test_ntp_offset_limit_is_15_minutes(plan: Plan) -> None:
    s = spec(plan, "cs01", "dns01", "udp", 123)

    def ntp(*offsets_ms: float) -> CellResult:
        return measured(
            s,
            *(
                Sample(
                    Outcome.OPEN, 200, "monotonic", facts={"offset_ms": o, "stratum": 2, "leap": 0}
                )
                for o in offsets_ms
            ),
        )

    v = judge(ntp(3000.0, 3100.0, 2900.0))
    assert (
        v.passed
        and v.app is not None
        and (v.app.state, v.app.summary) == ("ntp-ok", "offset +3.0s")
    )
    v = judge(ntp(1_200_000.0, 1_200_010.0, 1_199_990.0))
    assert not v.passed and v.app is not None and v.app.state == "ntp-skew"
    assert v.app.summary == "SKEW +20m00s" and v.app.error_codes == ("ACS50008",)
    assert "is 20m00s behind dns01" in v.reason
    assert judge(ntp(-16 * 60_000.0)).app.state == "ntp-skew"  # type: ignore[union-attr]
    assert judge(ntp(14 * 60_000.0)).passed


def test_plain_tcp_cells_have_no_app_verdict(plan: Plan) -> None:
    s = spec(plan, "cs01", "dns01", "udp", 53)
    assert judge_app(s, (Sample(Outcome.TIMEOUT, detail="no answer"),)) is None


def test_report_json_documents_the_app_object(plan: Plan) -> None:
    import re
    from pathlib import Path

    from netcheck.report.app_report import app_to_dict

    doc = (Path(__file__).resolve().parents[2] / "docs" / "report-json.md").read_text()
    section = doc.split("### `cells[].app`")[1].split("\n## ")[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)
    s = spec(plan, "vm1", "cs01", "tcp", 443)
    v = judge(measured(s, Sample(Outcome.OPEN, 900, "tcp_info", facts=tls_facts())))
    assert documented == list(app_to_dict(v.app) or {})
    # every fact key the verdicts read is named in the facts row
    for key in ("cert_days_left", "http_status", "offset_ms", "rcode", "proxy_status", "dns_rcode"):
        assert f"`{key}`" in section
