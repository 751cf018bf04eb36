"""Prometheus / OpenMetrics text: a sweep as metric families, for a textfile collector or `watch`.

Two steps, so `netcheck watch` can serve the same families: `sweep_metrics`
(pure: a sweep → families of samples) and `render_openmetrics` (families →
text, `netcheck.report.openmetrics`). Labels carry host names, NIC names, paths,
ports and rule ids only — never addresses, sweep ids or sample values — so the
number of series is bounded by the topology, not by time. The values the alert
rules compare (per-cell counters, TLS expiry, NTP offset, path and bandwidth
figures against their limits) are in `netcheck.report.prom_values`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from netcheck.report.openmetrics import (
    Labels,
    MetricFamily,
    MetricSample,
    escape_label_value,
    render_openmetrics,
)
from netcheck.report.prom_values import (
    CellCounts,
    bandwidth_families,
    cell_counts,
    cell_labels,
    check_families,
    counter_families,
    path_families,
)
from netcheck.result.cells import CellResult
from netcheck.result.findings import FindingVerdict
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict, Verdict

__all__ = [
    "Labels",
    "MetricFamily",
    "MetricSample",
    "cell_labels",
    "escape_label_value",
    "finding_metrics",
    "render_openmetrics",
    "render_prom",
    "sweep_metrics",
]


_QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


def sweep_metrics(sweep: SweepResult, counts: CellCounts | None = None) -> list[MetricFamily]:
    """The sweep as metric families (pure). `counts`: the per-cell attempt counters to
    serve (`watch` passes its running sum); default: this sweep's own."""
    topo = (("topology", sweep.plan.topology.name),)
    rows: Sequence[tuple[CellResult, CellVerdict]] = sweep.verdicts()
    up, reachable, measured, loss, rtt = [], [], [], [], []
    for r, v in rows:
        labels = cell_labels(sweep, r)
        up.append(MetricSample("", labels, 1.0 if v.passed else 0.0))
        reachable.append(MetricSample("", labels, 1.0 if v.verdict is Verdict.OPEN else 0.0))
        measured.append(MetricSample("", labels, 1.0 if v.stats.sent else 0.0))
        if v.stats.sent:
            loss.append(MetricSample("", labels, v.stats.loss_pct / 100.0))
        st = v.stats.rtt
        if st is not None:
            for q, attr in _QUANTILES:
                ms = getattr(st, attr)
                rtt.append(MetricSample("", (*labels, ("quantile", q)), ms / 1000.0))
            rtt.append(MetricSample("_sum", labels, st.avg * st.count / 1000.0))
            rtt.append(MetricSample("_count", labels, float(st.count)))
    passed = sum(1 for _, v in rows if v.passed)
    unmeasured = sum(1 for _, v in rows if not v.stats.sent)
    families = [
        MetricFamily(
            "netcheck_sweep_go",
            "gauge",
            "1 when the last sweep said GO (no failing finding of any kind, not "
            "interrupted), else 0.",
            (MetricSample("", topo, 1.0 if sweep.go else 0.0),),
        ),
        MetricFamily(
            "netcheck_sweep_partial",
            "gauge",
            "1 when the last sweep was interrupted or left cells unmeasured.",
            (MetricSample("", topo, 1.0 if sweep.partial else 0.0),),
        ),
        MetricFamily(
            "netcheck_sweep_limited",
            "gauge",
            "1 when the sweep was limited with --limit (the pattern is the `limit` label): "
            "its cells are only those whose source or destination matches, not the matrix.",
            (
                MetricSample(
                    "",
                    (*topo, ("limit", sweep.plan.limit.pattern if sweep.plan.limit else "")),
                    1.0 if sweep.plan.limit else 0.0,
                ),
            ),
        ),
        MetricFamily(
            "netcheck_sweep_timestamp_seconds",
            "gauge",
            "When the last sweep finished, in seconds since the Unix epoch.",
            (MetricSample("", topo, sweep.finished_at),),
            unit="seconds",
        ),
        MetricFamily(
            "netcheck_sweep_duration_seconds",
            "gauge",
            "How long the last sweep took.",
            (MetricSample("", topo, max(0.0, sweep.finished_at - sweep.started_at)),),
            unit="seconds",
        ),
        MetricFamily(
            "netcheck_sweep_cells",
            "gauge",
            "Cells of the last sweep by outcome: passed, failed (measured), not_measured.",
            tuple(
                MetricSample("", (*topo, ("state", state)), float(n))
                for state, n in (
                    ("passed", passed),
                    ("failed", len(rows) - passed - unmeasured),
                    ("not_measured", unmeasured),
                )
            ),
        ),
        MetricFamily(
            "netcheck_agent_up",
            "gauge",
            "1 when the host's agent started and was not lost during the sweep.",
            tuple(
                MetricSample(
                    "", (*topo, ("host", a.host)), 1.0 if a.available and not a.lost else 0.0
                )
                for a in sweep.agents
            ),
        ),
        MetricFamily(
            "netcheck_cell_up",
            "gauge",
            "1 when the cell meets its rule (reachable as required, or blocked for a "
            "negative rule, within the path's RTT and loss budget), else 0.",
            tuple(up),
        ),
        MetricFamily(
            "netcheck_cell_reachable",
            "gauge",
            "1 when a TCP connection to the destination port succeeded, else 0.",
            tuple(reachable),
        ),
        MetricFamily(
            "netcheck_cell_measured",
            "gauge",
            "1 when the cell was probed, 0 when its agent was unavailable or lost, or the "
            "sweep was interrupted first.",
            tuple(measured),
        ),
        MetricFamily(
            "netcheck_cell_loss_ratio",
            "gauge",
            "Share of the cell's attempts that did not reach an open port (0..1).",
            tuple(loss),
        ),
        MetricFamily(
            "netcheck_cell_rtt_seconds",
            "summary",
            "Round-trip time of the cell's TCP handshakes (kernel TCP_INFO where available).",
            tuple(rtt),
            unit="seconds",
        ),
    ]
    return [
        *families,
        *counter_families(cell_counts(sweep) if counts is None else counts),
        *check_families(sweep),
        *path_families(sweep),
        *bandwidth_families(sweep),
        *finding_metrics(sweep),
    ]


def finding_metrics(sweep: SweepResult) -> list[MetricFamily]:
    """Every finding (cells, application probes, bandwidth, paths, NICs, readiness) as a
    gauge, and the failing ones counted per kind and check: a NO-GO always says why."""
    topo = (("topology", sweep.plan.topology.name),)
    findings = sweep.findings()
    # every (kind, check) and (kind, verdict) the sweep has, failing or not: the
    # series stay the same from one sweep to the next
    failing = Counter({(f.kind, f.check): 0 for f in findings})
    failing.update((f.kind, f.check) for f in findings if f.failed)
    counts = Counter({(f.kind, v.value): 0 for f in findings for v in FindingVerdict})
    counts.update((f.kind, f.verdict.value) for f in findings)
    return [
        MetricFamily(
            "netcheck_finding_failing",
            "gauge",
            "1 when the finding fails (it makes the sweep NO-GO), else 0; one series per "
            "finding of every check kind.",
            tuple(
                MetricSample(
                    "",
                    (
                        *topo,
                        ("kind", f.kind),
                        ("check", f.check),
                        ("subject", f.subject),
                        ("finding", f.id),
                    ),
                    1.0 if f.failed else 0.0,
                )
                for f in findings
            ),
        ),
        MetricFamily(
            "netcheck_findings",
            "gauge",
            "Findings of the last sweep by kind and verdict (pass, fail, warn, unknown).",
            tuple(
                MetricSample("", (*topo, ("kind", kind), ("verdict", verdict)), float(n))
                for (kind, verdict), n in sorted(counts.items())
            ),
        ),
        MetricFamily(
            "netcheck_failing_findings",
            "gauge",
            "Failing findings of the last sweep, counted per kind and check (the reasons).",
            tuple(
                MetricSample("", (*topo, ("kind", kind), ("check", check)), float(n))
                for (kind, check), n in sorted(failing.items())
            ),
        ),
    ]


def render_prom(sweep: SweepResult) -> str:
    return render_openmetrics(sweep_metrics(sweep))
