"""The values the alert rules compare: counters, TLS expiry, NTP offset, path and bandwidth
figures beside their limits — read by the OpenMetrics parser, labels without addresses."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from netcheck.bandwidth import BandwidthOutcome, BandwidthStatus
from netcheck.plan import build_plan
from netcheck.report.prom import render_prom
from netcheck.report.prom_values import add_counts, cell_counts
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.result.model import SweepResult
from netcheck.topology import load_topology_text
from netcheck.topology.bandwidth import BandwidthCheck
from tests.unit.report.reportkit import (
    PS_CS,
    PS_MT,
    RDP,
    TOPOLOGY,
    VM_CS,
    make_sweep,
    report_plan,
    spec_of,
)

_ADDRESS = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


def _samples(text: str, name: str) -> dict[tuple[str, ...], float]:
    """name's samples keyed by (source, dest, port) or (path,) or (source, dest, direction)."""
    out: dict[tuple[str, ...], float] = {}
    for fam in parse_om(text):
        for s in fam.samples:
            if s.name != name:
                continue
            lab = s.labels
            if "port" in lab:
                key: tuple[str, ...] = (lab["source"], lab["dest"], lab["port"])
            elif "direction" in lab:
                key = (lab["source"], lab["dest"], lab["direction"])
            else:
                key = (lab["path"],)
            out[key] = s.value
    return out


def _no_addresses(text: str) -> None:
    for fam in parse_om(text):
        for s in fam.samples:
            for v in s.labels.values():
                assert not _ADDRESS.search(v), s


def _key(cell: tuple[str, str, int]) -> tuple[str, str, str]:
    return cell[0], cell[1], str(cell[2])


def test_counters_count_attempts_and_the_attempts_against_the_rule() -> None:
    sweep = make_sweep(
        {PS_MT: "refused", PS_CS: "filtered", RDP: "open-fast", VM_CS: CellStatus.AGENT_LOST}
    )
    text = render_prom(sweep)
    fams = {f.name: f for f in parse_om(text)}
    assert fams["netcheck_cell_attempts"].type == "counter"
    assert fams["netcheck_cell_failures"].type == "counter"
    attempts = _samples(text, "netcheck_cell_attempts_total")
    failures = _samples(text, "netcheck_cell_failures_total")
    assert len(attempts) == len(failures) == len(sweep.results)  # every planned cell
    assert attempts[_key(PS_MT)] == failures[_key(PS_MT)] == 3  # refused: every attempt
    assert failures[_key(PS_CS)] == 3  # filtered
    assert attempts[_key(RDP)] == failures[_key(RDP)] == 3  # forbidden, and it connected
    assert attempts[_key(VM_CS)] == failures[_key(VM_CS)] == 0  # its agent was lost
    open_cell = _key(("vm1", "ps-azure", 9443))
    assert (attempts[open_cell], failures[open_cell]) == (3, 0)


def test_counters_add_up_across_sweeps() -> None:
    one = cell_counts(make_sweep({PS_MT: "refused"}))
    two = add_counts(add_counts({}, one), one)
    assert two.keys() == one.keys()
    assert all(two[k] == (2 * a, 2 * f) for k, (a, f) in one.items())


def test_path_figures_beside_the_paths_expect() -> None:
    # s2s-vpn: max_rtt_ms 30, max_loss_pct 34 (reportkit); vm1 → cs01 crosses it, slow
    sweep = make_sweep({VM_CS: "open-slow", PS_CS: "filtered", PS_MT: "refused", RDP: "refused"})
    text = render_prom(sweep)
    assert _samples(text, "netcheck_path_max_rtt_seconds") == {("s2s-vpn",): 0.030}
    assert _samples(text, "netcheck_path_max_loss_ratio") == {("s2s-vpn",): 0.34}
    (rtt,) = _samples(text, "netcheck_path_rtt_seconds").values()
    assert abs(rtt - 0.045) < 1e-9  # the slow cell's median, over the 30 ms limit
    # the filtered and refused cells across the path are firewall findings, not path loss
    assert _samples(text, "netcheck_path_loss_ratio") == {("s2s-vpn",): 0.0}


def _with_floor(min_mbps: float) -> Any:
    text = TOPOLOGY.replace("max_loss_pct: 34}", f"max_loss_pct: 34, min_mbps: {min_mbps:g}}}")
    assert text != TOPOLOGY
    return build_plan(load_topology_text(text, "report-demo.yaml"))


def _bandwidth(mbps: float | None) -> BandwidthOutcome:
    return BandwidthOutcome(
        BandwidthCheck("ps-azure", "mt01", 2.0, 4),
        "s2s-vpn",
        "127.0.4.4",
        "127.0.2.20",
        BandwidthStatus.MEASURED if mbps else BandwidthStatus.FAILED,
        "completed" if mbps else "refused",
        port=40000,
        bytes=int((mbps or 0) * 250_000),
        seconds=2.0 if mbps else 0.0,
        mbps=mbps,
        streams=4 if mbps else 0,
    )


def test_bandwidth_measured_beside_its_floor() -> None:
    sweep = dataclasses.replace(make_sweep(plan=_with_floor(200)), bandwidth=(_bandwidth(100.0),))
    text = render_prom(sweep)
    key = ("ps-azure", "mt01", "forward")
    assert _samples(text, "netcheck_bandwidth_bits_per_second") == {key: 100e6}
    assert _samples(text, "netcheck_bandwidth_min_bits_per_second") == {key: 200e6}
    failing = {  # the same verdict, as the per-finding gauge of every check kind
        s.labels["subject"]: s.value
        for f in parse_om(text)
        for s in f.samples
        if s.name == "netcheck_finding_failing" and s.labels["kind"] == "bandwidth"
    }
    assert failing == {"ps-azure → mt01": 1.0}
    # nothing measured: no throughput series (the floor stays, the finding fails)
    text = render_prom(dataclasses.replace(sweep, bandwidth=(_bandwidth(None),)))
    assert _samples(text, "netcheck_bandwidth_bits_per_second") == {}
    assert _samples(text, "netcheck_bandwidth_min_bits_per_second") == {key: 200e6}
    _no_addresses(text)


APP_TOPOLOGY = """\
version: 1
name: app
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
paths:
  s2s-vpn: {kind: vpn, sites: [azure, onprem]}
hosts:
  cs01: {site: onprem, roles: [config_server], address: 198.18.2.10, tls: true}
  ntp01: {site: onprem, roles: [ntp_server], address: 198.18.2.53, agent: none}
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
  vm1: {site: azure, roles: [protected_vm], address: 198.19.1.10}
"""


def _app_sweep() -> SweepResult:
    plan = build_plan(load_topology_text(APP_TOPOLOGY, "app.yaml"))
    results = []
    for s in plan.specs:
        if s.kind == "tls":
            facts: dict[str, Any] = {
                "tls_version": "TLSv1.3",
                "cert_subject": "CN=cs01",
                "cert_not_after": "2027-01-01T00:00:00Z",
                "cert_days_left": 300,
            }
            samples = tuple(Sample(Outcome.OPEN, 900, "tcp_info", facts=facts) for _ in range(2))
        elif s.kind == "ntp":
            samples = tuple(
                Sample(
                    Outcome.OPEN, 300, "monotonic", facts={"offset_ms": o, "stratum": 2, "leap": 0}
                )
                for o in (-700_000.0, -701_000.0, -699_000.0)
            )
        else:
            samples = (Sample(Outcome.OPEN, 500, "tcp_info", proven=True),)
        results.append(CellResult(s, CellStatus.MEASURED, samples))
    return SweepResult("sw-app", plan, tuple(results), (), (), 1.7e9, 1.7e9 + 1)


def test_tls_expiry_and_ntp_offset_per_cell() -> None:
    sweep = _app_sweep()
    text = render_prom(sweep)
    expiry = _samples(text, "netcheck_tls_cert_expiry_timestamp_seconds")
    tls_cells = [s for s in sweep.plan.specs if s.kind == "tls"]
    assert tls_cells and len(expiry) == len(tls_cells)
    when = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert set(expiry.values()) == {when}
    offset = _samples(text, "netcheck_ntp_offset_seconds")
    ntp_cells = [s for s in sweep.plan.specs if s.kind == "ntp"]
    assert ntp_cells and len(offset) == len(ntp_cells)
    assert set(offset.values()) == {-700.0}  # the median, in seconds: 11m40s ahead
    fams = {f.name: f for f in parse_om(text)}
    assert fams["netcheck_ntp_offset_seconds"].unit == "seconds"
    _no_addresses(text)


def test_plain_cells_have_no_expiry_or_offset() -> None:
    text = render_prom(make_sweep())
    assert _samples(text, "netcheck_tls_cert_expiry_timestamp_seconds") == {}
    assert _samples(text, "netcheck_ntp_offset_seconds") == {}
    assert spec_of(report_plan(), VM_CS).kind == "tcp_connect"
