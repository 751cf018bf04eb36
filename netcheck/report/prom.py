"""Prometheus / OpenMetrics text: a sweep as metric families, for a textfile collector or `watch`.

Two steps, so `netcheck watch` can serve the same families: `sweep_metrics`
(pure: a sweep → families of samples) and `render_openmetrics` (families →
text). Labels carry host names, NIC names, ports and rule ids only — never
addresses, sweep ids or sample values — so the number of series is bounded by
the topology, not by time. Only gauge and summary types are used, which both the
OpenMetrics parser and the classic text-format parser (node_exporter's
textfile collector) read; the text ends with `# EOF`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netcheck.result.cells import CellResult
from netcheck.result.findings import FindingVerdict
from netcheck.result.model import SweepResult
from netcheck.stats import CellVerdict, Verdict

__all__ = [
    "MetricFamily",
    "MetricSample",
    "cell_labels",
    "escape_label_value",
    "finding_metrics",
    "render_openmetrics",
    "sweep_metrics",
]

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MetricSample:
    suffix: str  # "" or "_count", "_sum" (summaries)
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class MetricFamily:
    name: str
    type: str  # "gauge" | "summary"
    help: str
    samples: tuple[MetricSample, ...]
    unit: str = ""  # OpenMetrics UNIT; the name then ends with _<unit>

    def __post_init__(self) -> None:
        if self.type not in ("gauge", "summary"):
            raise ValueError(f"{self.name}: type {self.type!r}")
        if self.unit and not self.name.endswith("_" + self.unit):
            raise ValueError(f"{self.name}: must end with _{self.unit}")


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


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


_QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


def sweep_metrics(sweep: SweepResult) -> list[MetricFamily]:
    """The sweep as metric families (pure)."""
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
    return families + finding_metrics(sweep)


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


def _value(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def render_openmetrics(families: Iterable[MetricFamily]) -> str:
    lines: list[str] = []
    for f in families:
        lines.append(f"# HELP {f.name} {_help(f.help)}")
        lines.append(f"# TYPE {f.name} {f.type}")
        if f.unit:
            lines.append(f"# UNIT {f.name} {f.unit}")
        for s in f.samples:
            lines.append(f"{f.name}{s.suffix}{_labels(s.labels)} {_value(s.value)}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def render_prom(sweep: SweepResult) -> str:
    return render_openmetrics(sweep_metrics(sweep))
