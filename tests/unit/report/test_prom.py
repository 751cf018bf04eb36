"""Prometheus / OpenMetrics text: real parsers read it, labels are bounded and escaped."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_classic

from netcheck.report.prom import (
    MetricFamily,
    MetricSample,
    escape_label_value,
    render_openmetrics,
    render_prom,
    sweep_metrics,
)
from netcheck.result.cells import AgentInfo, CellStatus
from tests.conftest import require
from tests.unit.report.reportkit import DEFAULT, PS_MT, VM_CS, make_sweep, report_plan, spec_of


def _families(text: str) -> dict[str, object]:
    return {f.name: f for f in parse_om(text)}


def test_openmetrics_parser_reads_every_family() -> None:
    sweep = make_sweep(agents=(AgentInfo("vm1", "local", True), AgentInfo("mt01", "ssh", False)))
    text = render_prom(sweep)
    assert text.endswith("# EOF\n")
    fams = {f.name: f for f in parse_om(text)}
    assert set(fams) == {f.name for f in sweep_metrics(sweep)}
    cells = len(sweep.results)
    up = {
        (s.labels["source"], s.labels["dest"], s.labels["port"]): s.value
        for s in fams["netcheck_cell_up"].samples
    }
    assert len(up) == cells
    plan = report_plan()
    assert up[("ps-azure", "mt01", "9443")] == 0  # refused
    assert up[("vm1", "ps-azure", "3389")] == 0  # open, must be blocked
    assert up[("vm1", "cs01", str(spec_of(plan, VM_CS).port))] == 1
    reach = {
        s.labels["port"] + s.labels["dest"]: s.value
        for s in fams["netcheck_cell_reachable"].samples
    }
    assert reach["3389ps-azure"] == 1
    go = fams["netcheck_sweep_go"].samples
    assert [s.value for s in go] == [0]
    assert fams["netcheck_sweep_timestamp_seconds"].samples[0].value == sweep.finished_at
    assert fams["netcheck_cell_rtt_seconds"].type == "summary"
    rtt = [
        s for s in fams["netcheck_cell_rtt_seconds"].samples if s.labels.get("quantile") == "0.5"
    ]
    open_cells = sum(1 for _, v in sweep.verdicts() if v.stats.rtt)
    assert len(rtt) == open_cells
    p50 = next(s.value for s in rtt if s.labels["dest"] == "cs01" and s.labels["source"] == "vm1")
    assert abs(p50 - 0.00012) < 1e-9
    loss = {
        s.labels["dest"] + s.labels["port"]: s.value
        for s in fams["netcheck_cell_loss_ratio"].samples
    }
    assert loss["mt019443"] == 1.0
    agents = {s.labels["host"]: s.value for s in fams["netcheck_agent_up"].samples}
    assert agents == {"vm1": 1, "mt01": 0}


def test_classic_text_parser_reads_it_too() -> None:
    # node_exporter's textfile collector reads the classic format: gauges and summaries only
    text = render_prom(make_sweep())
    names = {f.name for f in parse_classic(text)}
    assert "netcheck_cell_up" in names and "netcheck_cell_rtt_seconds" in names


def _series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(f.name, tuple(sorted(s.labels.items()))) for f in parse_om(text) for s in f.samples}


def test_bounded_labels_no_addresses_or_ids() -> None:
    sweep = make_sweep()
    allowed = {
        "topology",
        "source",
        "source_nic",
        "dest",
        "dest_nic",
        "proto",
        "port",
        "rule",
        "expect",
        "quantile",
        "state",
        "host",
        # the findings' families: a finding's id is built from names, never addresses
        "kind",
        "check",
        "subject",
        "finding",
        "verdict",
        # paths and bandwidth tests: names from the topology
        "path",
        "direction",
        "limit",  # the --limit pattern the user gave (one series per watcher)
    }
    text = render_prom(sweep)
    for fam in parse_om(text):
        for s in fam.samples:
            assert set(s.labels) <= allowed, s
            for v in s.labels.values():
                assert not v.startswith("127."), s  # never an address
                assert v != sweep.sweep_id
    # the same sweep measured again (other RTTs, other id) gives the same series
    again = replace(make_sweep({**DEFAULT, VM_CS: "open-slow"}), sweep_id="sw-0002")
    assert _series(text) == _series(render_prom(again))


def test_unmeasured_cells_have_no_loss_or_rtt_but_are_down() -> None:
    sweep = make_sweep({PS_MT: CellStatus.AGENT_LOST}, interrupted=True)
    fams = _families(render_prom(sweep))
    loss_dests = {
        s.labels["dest"] + s.labels["port"] for s in fams["netcheck_cell_loss_ratio"].samples
    }  # type: ignore[attr-defined]
    assert "mt019443" not in loss_dests
    measured = {
        s.labels["dest"] + s.labels["port"]: s.value for s in fams["netcheck_cell_measured"].samples
    }  # type: ignore[attr-defined]
    assert measured["mt019443"] == 0
    partial = fams["netcheck_sweep_partial"].samples  # type: ignore[attr-defined]
    assert partial[0].value == 1
    states = {s.labels["state"]: s.value for s in fams["netcheck_sweep_cells"].samples}  # type: ignore[attr-defined]
    assert states["not_measured"] == 1


def test_label_values_are_escaped() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    fam = MetricFamily(
        "netcheck_test_value",
        "gauge",
        "help with a \\ backslash\nand a newline",
        (MetricSample("", (("host", 'we"ird\\na\nme'),), 1.5),),
    )
    text = render_openmetrics([fam])
    (parsed,) = parse_om(text)
    assert parsed.samples[0].labels["host"] == 'we"ird\\na\nme'
    assert parsed.samples[0].value == 1.5
    assert parsed.documentation == "help with a \\ backslash\nand a newline"


def test_family_checks_type_and_unit() -> None:
    import pytest

    with pytest.raises(ValueError):
        MetricFamily("x_total", "counter", "h", ())
    with pytest.raises(ValueError):
        MetricFamily("netcheck_rtt", "gauge", "h", (), unit="seconds")
    with pytest.raises(ValueError):  # OpenMetrics: the family has no _total, its samples do
        MetricFamily("netcheck_x_total", "counter", "h", ())
    with pytest.raises(ValueError):
        MetricFamily("netcheck_x", "counter", "h", (MetricSample("", (), 1.0),))


def test_promtool_accepts_it() -> None:
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool (Debian package prometheus) not installed")
    assert promtool is not None
    text = render_prom(make_sweep(agents=(AgentInfo("vm1", "local", True),)))
    proc = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    # promtool lints with the classic text parser, which knows OpenMetrics counters'
    # `_total` samples only as untyped series: that, and nothing else, it may say
    counters = {f.name for f in sweep_metrics(make_sweep()) if f.type == "counter"}
    assert counters == {"netcheck_cell_attempts", "netcheck_cell_failures"}
    expected = {f"{name}_total no help text" for name in counters}
    complaints = set((proc.stdout + proc.stderr).strip().splitlines())
    assert complaints == expected, proc.stdout + proc.stderr
    assert proc.returncode == 3  # promtool: lint problems only, no parse error
    # the gauges and summaries lint clean on their own
    rest = render_openmetrics([f for f in sweep_metrics(make_sweep()) if f.type != "counter"])
    clean = subprocess.run(
        [promtool, "check", "metrics"], input=rest, capture_output=True, text=True, timeout=60
    )
    assert clean.returncode == 0 and not (clean.stdout + clean.stderr).strip(), clean.stderr
