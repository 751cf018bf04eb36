"""The measured values the alert rules (monitoring/netcheck-rules.yaml) compare. Pure.

- per-cell counters of attempts and of failed attempts, so `rate()` works across
  sweeps: one sweep's counts in `--format prom`, the running sum in `watch`;
- the TLS certificate's expiry as a timestamp (as blackbox_exporter's
  `probe_ssl_earliest_cert_expiry`), per TLS cell;
- the NTP clock offset in seconds, per NTP cell;
- per declared path, the worst median RTT and loss of the cells that crossed it,
  beside the path's `expect` limits (so a rule compares the two series);
- per bandwidth test, the measured throughput beside the path's floor
  (`expect.min_mbps`) and the rate the declared churn needs.

Every value is read from the one sweep result (its judged cells, application
verdicts and bandwidth verdicts), never measured again. Labels are names from
the topology — hosts, NICs, paths, ports, rule ids — never addresses.
"""

from __future__ import annotations

from collections.abc import Mapping

from netcheck.report.openmetrics import Labels, MetricFamily, MetricSample
from netcheck.result.cells import CellResult
from netcheck.result.model import SweepResult
from netcheck.stats import Verdict

__all__ = [
    "CellCounts",
    "add_counts",
    "bandwidth_families",
    "cell_counts",
    "cell_labels",
    "check_families",
    "counter_families",
    "path_families",
]

#: Per cell (its labels): (attempts, failed attempts).
CellCounts = Mapping[Labels, tuple[int, int]]


def cell_labels(sweep: SweepResult, r: CellResult) -> Labels:
    s = r.spec
    return (
        ("topology", sweep.plan.topology.name),
        ("source", s.source_host),
        ("source_nic", s.source_nic),
        ("dest", s.dest_host),
        ("dest_nic", s.dest_nic),
        ("proto", s.proto),
        ("port", str(s.port)),
        ("rule", s.rule_id),
        ("expect", "reachable" if s.expect_reachable else "blocked"),
    )


def cell_counts(sweep: SweepResult) -> dict[Labels, tuple[int, int]]:
    """One sweep's attempts per cell, and the attempts that did not get the answer the
    rule requires: no connection for a required cell, a connection for a forbidden one.
    Every planned cell is there (an unmeasured one with 0, 0), so the series exist from
    the first sweep on."""
    out: dict[Labels, tuple[int, int]] = {}
    for r, v in sweep.verdicts():
        st = v.stats
        failed = st.sent - st.answered if r.spec.expect_reachable else st.answered
        out[cell_labels(sweep, r)] = (st.sent, failed)
    return out


def add_counts(total: CellCounts, more: CellCounts) -> dict[Labels, tuple[int, int]]:
    """The running sum `watch` serves: counters only ever grow."""
    out = dict(total)
    for labels, (attempts, failed) in more.items():
        a, f = out.get(labels, (0, 0))
        out[labels] = (a + attempts, f + failed)
    return out


def counter_families(counts: CellCounts) -> list[MetricFamily]:
    return [
        MetricFamily(
            "netcheck_cell_attempts",
            "counter",
            "Probe attempts of the cell (in `watch`: since the watcher started).",
            tuple(MetricSample("_total", k, float(a)) for k, (a, _) in counts.items()),
        ),
        MetricFamily(
            "netcheck_cell_failures",
            "counter",
            "Attempts of the cell that did not get the answer its rule requires: no "
            "connection for a required cell, a connection for a forbidden one.",
            tuple(MetricSample("_total", k, float(f)) for k, (_, f) in counts.items()),
        ),
    ]


def check_families(sweep: SweepResult) -> list[MetricFamily]:
    """TLS certificate expiry and NTP clock offset, from the cells' application verdicts."""
    expiry, offset = [], []
    for r, v in sweep.verdicts():
        app = v.app
        if app is None:
            continue
        labels = cell_labels(sweep, r)
        not_after = app.cert_not_after
        if not_after is not None:
            expiry.append(MetricSample("", labels, not_after))
        skew = app.clock_offset_s
        if skew is not None:
            offset.append(MetricSample("", labels, skew))
    return [
        MetricFamily(
            "netcheck_tls_cert_expiry_timestamp_seconds",
            "gauge",
            "When the certificate the TLS cell was served expires, in seconds since the Unix "
            "epoch (as blackbox_exporter's probe_ssl_earliest_cert_expiry).",
            tuple(expiry),
            unit="seconds",
        ),
        MetricFamily(
            "netcheck_ntp_offset_seconds",
            "gauge",
            "The NTP cell's clock offset: the server's clock minus the source host's (positive: "
            "the host is behind), the median of its attempts. Azure refuses tokens beyond 15 "
            "minutes (ACS50008).",
            tuple(offset),
            unit="seconds",
        ),
    ]


def path_families(sweep: SweepResult) -> list[MetricFamily]:
    """Per declared path: the worst median RTT and loss among the cells that crossed it
    and reached their port (a firewalled cell says nothing about the path's quality:
    its own cell alerts), and the path's `expect` limits where declared."""
    name = sweep.plan.topology.name
    rtt: dict[str, float] = {}
    loss: dict[str, float] = {}
    for r, v in sweep.verdicts():
        path = r.spec.path
        if path is None or not r.spec.expect_reachable or v.verdict is not Verdict.OPEN:
            continue
        loss[path] = max(loss.get(path, 0.0), v.stats.loss_pct / 100.0)
        if v.stats.rtt is not None:
            rtt[path] = max(rtt.get(path, 0.0), v.stats.rtt.p50 / 1000.0)
    max_rtt, max_loss = [], []
    for p in sweep.plan.topology.paths:
        labels = (("topology", name), ("path", p.name))
        if p.expect.max_rtt_ms is not None:
            max_rtt.append(MetricSample("", labels, p.expect.max_rtt_ms / 1000.0))
        if p.expect.max_loss_pct is not None:
            max_loss.append(MetricSample("", labels, p.expect.max_loss_pct / 100.0))

    def samples(values: dict[str, float]) -> tuple[MetricSample, ...]:
        return tuple(
            MetricSample("", (("topology", name), ("path", p)), x) for p, x in values.items()
        )

    return [
        MetricFamily(
            "netcheck_path_rtt_seconds",
            "gauge",
            "The highest median TCP handshake RTT among the cells that crossed the path.",
            samples(rtt),
            unit="seconds",
        ),
        MetricFamily(
            "netcheck_path_loss_ratio",
            "gauge",
            "The highest share of failed attempts (0..1) among the cells that crossed the path "
            "and reached their port.",
            samples(loss),
        ),
        MetricFamily(
            "netcheck_path_max_rtt_seconds",
            "gauge",
            "The path's expect.max_rtt_ms, in seconds (only for paths that declare it).",
            tuple(max_rtt),
            unit="seconds",
        ),
        MetricFamily(
            "netcheck_path_max_loss_ratio",
            "gauge",
            "The path's expect.max_loss_pct as a ratio (only for paths that declare it).",
            tuple(max_loss),
        ),
    ]


def bandwidth_families(sweep: SweepResult) -> list[MetricFamily]:
    """Per bandwidth test: the measured throughput, the path's floor, the churn's need."""
    name = sweep.plan.topology.name
    measured, floor, needed = [], [], []
    seen: set[Labels] = set()
    for o, v in sweep.bandwidth_verdicts():
        c = o.check
        labels: Labels = (
            ("topology", name),
            ("source", c.source),
            ("dest", c.dest),
            ("direction", "reverse" if c.reverse else "forward"),
            ("path", o.path or ""),
        )
        if labels in seen:  # the same test declared twice: one series
            continue
        seen.add(labels)
        if v.measured_mbps is not None:
            measured.append(MetricSample("", labels, v.measured_mbps * 1e6))
        if v.min_mbps is not None:
            floor.append(MetricSample("", labels, v.min_mbps * 1e6))
        if v.needed_mbps is not None:
            needed.append(MetricSample("", labels, v.needed_mbps * 1e6))
    return [
        MetricFamily(
            "netcheck_bandwidth_bits_per_second",
            "gauge",
            "Throughput the bandwidth test measured (absent when nothing was measured).",
            tuple(measured),
            unit="bits_per_second",
        ),
        MetricFamily(
            "netcheck_bandwidth_min_bits_per_second",
            "gauge",
            "The floor the test is held to: its path's expect.min_mbps.",
            tuple(floor),
            unit="bits_per_second",
        ),
        MetricFamily(
            "netcheck_bandwidth_needed_bits_per_second",
            "gauge",
            "The rate the declared churn needs to hold the failback policy's 15-minute RPO.",
            tuple(needed),
            unit="bits_per_second",
        ),
    ]
