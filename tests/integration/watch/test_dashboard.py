"""monitoring/netcheck-dashboard.json: every query parses in a real Prometheus, returns
data, and every metric it names is in a real scrape of `netcheck watch`.

The watch sweeps the local demo (moved to 127.95.x) with what makes every series of the
dashboard real: a bandwidth test with a floor and declared churn, TLS on the
configuration server (a local TLS server on both its NICs) and a time server (a local
SNTP server 2 s ahead). Prometheus scrapes it every second; the dashboard's Grafana
variables are replaced by values the test knows.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.conftest import ROOT
from tests.integration.appservers import app_servers, free_port, openssl_self_signed
from tests.integration.private_demo import private_copy
from tests.integration.watch.promkit import get, prometheus, query, wait_for, watch

DASHBOARD = ROOT / "monitoring" / "netcheck-dashboard.json"
CS_NICS = ("127.95.2.10", "127.95.3.10")
NTP = "127.95.2.123"
METRIC = re.compile(r"\b(netcheck_[a-z0-9_]+)\b")


def _variables(expr: str) -> str:
    out = expr.replace("$topology", "local-demo").replace("$__rate_interval", "30s")
    assert "$" not in out, f"a Grafana variable the test does not know in {expr!r}"
    return out


def _exprs(dash: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= len(dash["panels"])
    return exprs


def _rich_demo(tmp: Path, tls_port: int, ntp_port: int) -> Path:
    path = private_copy("local-demo.yaml", tmp / "local-demo.yaml", 95)
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert doc["ports"]["remap"][443] == tls_port
    doc["ports"]["remap"][123] = ntp_port
    doc["paths"]["s2s-vpn"]["expect"]["min_mbps"] = 1
    doc["bandwidth"] = [{"from": "ps-azure", "to": "mt01", "duration_s": 0.5, "streams": 1}]
    doc["hosts"]["vm-app01"]["inventory"] = {"churn_gb_per_day": 50, "peak_churn_mb_s": 2}
    doc["hosts"]["cs01"]["tls"] = True
    doc["hosts"]["ntp01"] = {
        "site": "onprem",
        "roles": ["ntp_server"],
        "address": NTP,
        "agent": "none",
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _scrape(port: int) -> dict[str, int]:
    """Sample name → number of samples, from the watcher's own /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    counts: dict[str, int] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            counts[s.name] = counts.get(s.name, 0) + 1
    return counts


def test_every_dashboard_query_parses_returns_data_and_names_real_metrics(
    tmp_path: Path,
) -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dash["panels"]:  # importable anywhere: the datasource is a variable
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    exprs = _exprs(dash)
    with app_servers() as srv:
        tls_port = 10443
        cert, key = openssl_self_signed(tmp_path, "cs01", ",".join(f"IP:{a}" for a in CS_NICS))
        for address in CS_NICS:
            srv.tls(address, tls_port, cert, key, status="404 Not Found")
        ntp_port = free_port(NTP, kind=2)  # SOCK_DGRAM
        srv.ntp(NTP, ntp_port, 2.0)
        topology = _rich_demo(tmp_path, tls_port, ntp_port)
        log = tmp_path / "watch.log"
        with (
            watch(topology, log, "--interval", "2s") as (proc, port),
            prometheus(tmp_path, [port]) as prom,
        ):
            # every query parses (query() asserts status "success" at once: a parse error
            # never heals) and, once the watcher has swept twice and Prometheus scraped
            # enough for rate(), returns data
            def empty() -> list[str]:
                total = query(prom, "netcheck_watch_sweeps_total")
                if not total or float(total[0]["value"][1]) < 2:
                    return ["(fewer than 2 sweeps)"]
                return [e for e in exprs if not query(prom, _variables(e))]

            wait_for(lambda: not empty(), 90, lambda: f"{empty()}\n{log.read_text()}", proc)
            scraped = _scrape(port)
            for expr in exprs:
                for name in METRIC.findall(expr):
                    assert scraped.get(name, 0) > 0, f"{name} (in {expr!r}) not in the scrape"
            # the variable's own query (Grafana's label_values) and the annotation parse too
            var = next(v for v in dash["templating"]["list"] if v["name"] == "topology")
            m = re.fullmatch(r"label_values\((\w+), (\w+)\)", var["definition"])
            assert m is not None
            q = urllib.parse.urlencode({"match[]": m.group(1)})
            values = get(f"http://127.0.0.1:{prom}/api/v1/label/{m.group(2)}/values?{q}")
            assert values["data"] == ["local-demo"]
            for ann in dash["annotations"]["list"]:
                query(prom, _variables(ann["expr"]))
    # what the dashboard shows is what the sweep measured
    assert scraped["netcheck_tls_cert_expiry_timestamp_seconds"] >= 2  # the cells to cs01:443
    assert scraped["netcheck_ntp_offset_seconds"] >= 1
