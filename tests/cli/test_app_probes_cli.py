"""`netcheck sweep` end to end over a loopback topology that declares real services:
TLS on the configuration and process servers, a resolver, two time servers (one 20
minutes off), Azure endpoints resolved through the topology's resolver (one with a
certificate the test CA signed, one expired), and an HTTP proxy that answers 407.

Everything listens on 127.77.2.x / 127.77.3.x; the endpoint names resolve through the
local DNS responder only and the test CA stands in for the system trust store
(SSL_CERT_FILE), so no real DNS server and no Azure endpoint is ever contacted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.appservers import (
    AppServers,
    app_servers,
    dated_certificate,
    free_port,
    openssl_self_signed,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.timezone.utc)
CS, PS, VM = "127.77.2.10", "127.77.3.4", "127.77.3.10"
DNS, NTP_OK, NTP_BAD = "127.77.2.53", "127.77.2.123", "127.77.2.124"
LOGIN, BLOB, PROXY = "127.77.2.200", "127.77.2.201", "127.77.2.80"
LOGIN_NAME = "login.microsoftonline.com"
BLOB_NAME = "contosocache.blob.core.windows.net"

TOPOLOGY = """\
version: 1
name: app-e2e
ports:
  remap: {{443: {p443}, 9443: {p9443}, 53: {p53}, 123: {p123}}}
sweep: {{samples: 2, interval_ms: 50, timeout_ms: 2000}}
sites:
  onprem: {{networks: {{lan: 127.77.2.0/24}}}}
  azure: {{networks: {{vnet: 127.77.3.0/24}}}}
hosts:
  cs01: {{site: onprem, roles: [config_server], address: {cs}, agent: local, tls: true}}
  ps-azure: {{site: azure, roles: [process_server], address: {ps}, agent: local, tls: true}}
  vm1: {{site: azure, roles: [protected_vm], address: {vm}, agent: local}}
  dns01:
    site: onprem
    roles: [dns_server]
    address: {dns}
    agent: none
    dns: {{query: {blob_name}}}
  ntp01: {{site: onprem, roles: [ntp_server], address: {ntp_ok}, agent: none}}
  ntp-skewed: {{site: onprem, roles: [ntp_server], address: {ntp_bad}, agent: none}}
azure:
  storage_account: contosocache
  resolver: dns01
{proxy}"""


class Env:
    def __init__(self, srv: AppServers, tmp: Path) -> None:
        self.srv = srv
        self.tmp = tmp
        self.p443 = free_port(CS)
        self.p9443 = free_port(PS)
        self.p53 = free_port(DNS)
        self.p123 = free_port(NTP_OK, kind=2)  # SOCK_DGRAM
        cert, key = openssl_self_signed(tmp, "cs01", f"IP:{CS}")
        srv.tls(CS, self.p443, cert, key, status="404 Not Found")
        cert, key = openssl_self_signed(tmp, "ps-azure", f"IP:{PS}")
        srv.tls(PS, self.p9443, cert, key)  # 400 Bad Request, like the process server
        ca_path, _, ca = dated_certificate(
            tmp, "test-root", [], NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365), ca=True
        )
        self.ca = ca_path
        cert, key, _ = dated_certificate(
            tmp,
            LOGIN_NAME,
            [LOGIN_NAME],
            NOW - dt.timedelta(days=1),
            NOW + dt.timedelta(days=200),
            issuer=ca,
        )
        srv.tls(LOGIN, self.p443, cert, key, status="200 OK")
        cert, key, _ = dated_certificate(
            tmp,
            BLOB_NAME,
            [BLOB_NAME],
            NOW - dt.timedelta(days=400),
            NOW - dt.timedelta(days=2),
            issuer=ca,
        )
        srv.tls(BLOB, self.p443, cert, key, status="400 Bad Request")
        srv.dns(DNS, self.p53, {LOGIN_NAME: [LOGIN], BLOB_NAME: [BLOB]})
        srv.ntp(NTP_OK, self.p123, 2.0)
        srv.ntp(NTP_BAD, self.p123, 20 * 60.0)
        self.p_proxy = srv.proxy(PROXY, 0, {}, require_auth=True)

    def topology(self, name: str, proxy: bool = False) -> Path:
        text = TOPOLOGY.format(
            p443=self.p443, p9443=self.p9443, p53=self.p53, p123=self.p123,
            cs=CS, ps=PS, vm=VM, dns=DNS, ntp_ok=NTP_OK, ntp_bad=NTP_BAD, blob_name=BLOB_NAME,
            proxy=f"  proxy: http://{PROXY}:{self.p_proxy}\n" if proxy else "",
        )  # fmt: skip
        path = self.tmp / name
        path.write_text(text)
        return path

    def netcheck(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, SSL_CERT_FILE=str(self.ca))  # the test CA is the trust store
        return subprocess.run(
            [sys.executable, "-m", "netcheck", *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=env,
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with app_servers() as srv:
        yield Env(srv, tmp_path_factory.mktemp("app-e2e"))


def _cells(report: dict[str, Any]) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    return {
        (c["source_host"], c["dest_host"], c["proto"], c["documented_port"]): c
        for c in report["cells"]
    }


def test_sweep_json_carries_application_facts_and_verdicts(env: Env) -> None:
    proc = env.netcheck("sweep", str(env.topology("direct.yaml")), "--format", "json")
    assert proc.returncode == 1, proc.stderr  # no-go: a skewed clock, an expired certificate
    report = json.loads(proc.stdout)
    cells = _cells(report)
    state = {k: (c["app"] or {}).get("state") for k, c in cells.items()}
    assert state == {
        ("vm1", "cs01", "tcp", 443): "tls-ok",
        ("vm1", "ps-azure", "tcp", 9443): "data-port-works",
        ("ps-azure", "cs01", "tcp", 443): "tls-ok",
        ("cs01", "dns01", "udp", 53): "dns-ok",
        ("cs01", "dns01", "tcp", 53): "dns-ok",
        ("ps-azure", "dns01", "udp", 53): "dns-ok",
        ("ps-azure", "dns01", "tcp", 53): "dns-ok",
        ("cs01", "ntp01", "udp", 123): "ntp-ok",
        ("ps-azure", "ntp01", "udp", 123): "ntp-ok",
        ("cs01", "ntp-skewed", "udp", 123): "ntp-skew",
        ("ps-azure", "ntp-skewed", "udp", 123): "ntp-skew",
        ("cs01", LOGIN_NAME, "tcp", 443): "endpoint-ok",
        ("ps-azure", LOGIN_NAME, "tcp", 443): "endpoint-ok",
        ("cs01", BLOB_NAME, "tcp", 443): "tls-expired",
        ("ps-azure", BLOB_NAME, "tcp", 443): "tls-expired",
    }
    failing = {k for k, c in cells.items() if not c["passed"]}
    assert failing == {k for k, s in state.items() if s in ("ntp-skew", "tls-expired")}

    ps = cells[("vm1", "ps-azure", "tcp", 9443)]
    assert (
        ps["verdict"] == "open" and ps["passed"] and ps["app"]["summary"] == "400: data port works"
    )
    facts = ps["app"]["facts"]
    assert facts["http_status"] == 400 and facts["cert_self_signed"] is True
    assert facts["tls_version"].startswith("TLSv1.") and isinstance(facts["cert_days_left"], int)
    assert all(s["facts"]["http_status"] == 400 for s in ps["samples"])

    skew = cells[("cs01", "ntp-skewed", "udp", 123)]
    assert skew["app"]["error_codes"] == ["ACS50008"]
    assert abs(skew["app"]["facts"]["offset_ms_median"] - 1_200_000) < 1000
    assert "beyond the 15 minutes Azure accepts (ACS50008)" in skew["reason"]
    assert cells[("cs01", "ntp01", "udp", 123)]["app"]["facts"]["offset_ms"] == pytest.approx(
        2000, abs=200
    )

    dns = cells[("cs01", "dns01", "udp", 53)]["app"]["facts"]
    assert (dns["rcode"], dns["answers"], dns["query"]) == ("NOERROR", [BLOB], BLOB_NAME)

    login = cells[("cs01", LOGIN_NAME, "tcp", 443)]
    assert login["dest_address"] == LOGIN_NAME and login["port"] == env.p443
    f = login["app"]["facts"]
    assert (f["chain_verified"], f["name_matches"], f["resolved"]) == (True, True, [LOGIN])
    assert f["resolver"] == f"{DNS}:{env.p53}"
    blob = cells[("ps-azure", BLOB_NAME, "tcp", 443)]
    assert "(60) Peer certificate cannot be authenticated" in blob["app"]["error_codes"]
    assert blob["app"]["facts"]["cert_days_left"] < 0

    skipped = {s["reason"] for s in report["skipped"] if s["rule_id"] == "cs-to-azure-https"}
    assert any(
        r.startswith("*.hypervrecoverymanager.windowsazure.com needs a concrete") for r in skipped
    )
    assert env.srv.seen.get(f"dns-udp {DNS}", 0) >= 8  # the DNS cells and every endpoint lookup

    # the store keeps the facts: the stored sweep re-renders with the same findings
    again = env.netcheck("report", report["sweep_id"], "--format", "json")
    assert again.returncode in (0, 1), again.stderr
    stored = _cells(json.loads(again.stdout))
    assert {k: (c["app"] or {}).get("state") for k, c in stored.items()} == state
    assert stored[("vm1", "ps-azure", "tcp", 9443)]["app"]["facts"]["http_status"] == 400


def test_sweep_table_shows_the_findings_beside_the_cells(env: Env) -> None:
    # --details: the application checks' own section (one summary line without it)
    proc = env.netcheck("sweep", str(env.topology("table.yaml")), "--no-progress", "--details")
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "ok 400: data port works" in out
    assert "SKEW +20m00s" in out and "CERT EXPIRED" in out
    assert "Application checks (TLS, DNS, NTP, Azure endpoints):" in out
    assert f"ok   cs01 → {LOGIN_NAME}:{env.p443}" in out
    assert "errors: ACS50008" in out
    assert "errors: (60) Peer certificate cannot be authenticated" in out


def test_authenticating_proxy_is_reported_for_every_endpoint(env: Env) -> None:
    proc = env.netcheck("sweep", str(env.topology("proxy.yaml", proxy=True)), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    cells = [c for c in json.loads(proc.stdout)["cells"] if c["dest_nic"] == "endpoint"]
    assert len(cells) == 4
    for c in cells:
        assert (c["verdict"], c["passed"], c["app"]["state"]) == (
            "handshake-only",
            False,
            "proxy-auth",
        )
        assert "authenticating proxy — not supported by ASR classic" in c["reason"]
        assert c["app"]["error_codes"] == ["407"]
    assert env.srv.seen[f"proxy {PROXY}"] >= 8  # two attempts per cell, all through the proxy


def test_plan_lists_the_application_cells_without_sending(env: Env) -> None:
    before = dict(env.srv.seen)
    proc = env.netcheck("plan", str(env.topology("plan.yaml")), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    kinds = {(c["dest_host"], c["proto"], c["kind"]) for c in json.loads(proc.stdout)["cells"]}
    assert (LOGIN_NAME, "tcp", "https_endpoint") in kinds and ("dns01", "udp", "dns") in kinds
    assert ("ntp-skewed", "udp", "ntp") in kinds and ("ps-azure", "tcp", "tls") in kinds
    assert env.srv.seen == before
