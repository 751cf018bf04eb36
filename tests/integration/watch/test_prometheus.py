"""`netcheck watch` scraped by a real Prometheus (Debian's `prometheus`), queried over its API.

Both listen on loopback only. The watch sweeps topologies/local-demo.yaml (every
role on its own loopback address; moved to 127.92.x so concurrent runs of the demo
don't share ports) every 2 s; Prometheus scrapes it every second
with the OpenMetrics parser; the test polls /api/v1/query (bounded) until the
series are there with the right labels and values, then stops both.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netcheck.plan import build_plan
from netcheck.topology import load_topology
from tests.integration.private_demo import private_copy
from tests.integration.watch.promkit import get, prometheus, query, stop, watch

DEADLINE_S = 60


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    """`netcheck watch` on a port of its choosing; yields (process, port, its log file)."""
    log = tmp_path / "watch.log"
    topology = private_copy("local-demo.yaml", tmp_path / "local-demo.yaml", 92)
    with watch(topology, log, "--interval", "2s") as (proc, port):
        yield proc, port, log


def test_prometheus_scrapes_watch(
    watched: tuple[subprocess.Popen[str], int, Path], tmp_path: Path
) -> None:
    proc, port, log = watched
    with prometheus(tmp_path, [port]) as prom_port:
        plan = build_plan(load_topology(tmp_path / "local-demo.yaml"))
        want = {(s.source_host, s.dest_host, str(s.port), s.rule_id) for s in plan.specs}
        cells: list[dict[str, Any]] = []
        sweeps = 0.0
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                cells = query(prom_port, 'netcheck_cell_reachable{job="netcheck"}')
                total = query(prom_port, "netcheck_watch_sweeps_total")
            except OSError:  # Prometheus not listening yet
                time.sleep(0.25)
                continue
            sweeps = float(total[0]["value"][1]) if total else 0.0
            if len(cells) == len(want) and sweeps >= 2:  # the series, and a re-sweep seen
                break
            time.sleep(0.25)
        assert sweeps >= 2, (sweeps, log.read_text(), (tmp_path / "prometheus.log").read_text())

        # one series per planned cell, labelled source/dest/port/rule, every port reached
        got = {
            (c["metric"]["source"], c["metric"]["dest"], c["metric"]["port"], c["metric"]["rule"])
            for c in cells
        }
        assert got == want
        assert all(c["value"][1] == "1" for c in cells), cells
        for c in cells:
            assert c["metric"]["topology"] == "local-demo"
            assert c["metric"]["instance"] == f"127.0.0.1:{port}"

        # the target is healthy: scraped with no parse error
        targets = get(f"http://127.0.0.1:{prom_port}/api/v1/targets")["data"]["activeTargets"]
        (target,) = targets
        assert target["health"] == "up" and target["lastError"] == "", target

        # parsed as OpenMetrics (the classic text parser knows no UNIT), counters typed
        meta = get(f"http://127.0.0.1:{prom_port}/api/v1/targets/metadata?match_target=")["data"]
        by_name = {m["metric"]: m for m in meta}
        assert by_name["netcheck_sweep_duration_seconds"]["unit"] == "seconds", by_name
        assert by_name["netcheck_watch_sweeps"]["type"] == "counter"
        assert by_name["netcheck_cell_rtt_seconds"]["type"] == "summary"

        # the verdict agrees with the cells of the same scrape
        (go,) = query(prom_port, "netcheck_sweep_go")
        ups = query(prom_port, "netcheck_cell_up")
        assert len(ups) == len(want)
        all_up = all(u["value"][1] == "1" for u in ups)
        assert go["value"][1] == ("1" if all_up else "0")
        (passed,) = query(prom_port, 'netcheck_sweep_cells{state="passed"}')
        assert float(passed["value"][1]) == sum(float(u["value"][1]) for u in ups)

        # RTT quantiles: present for every cell, positive and below the demo's 1 s timeout
        p50 = query(prom_port, 'netcheck_cell_rtt_seconds{quantile="0.5"}')
        assert len(p50) == len(want)
        assert all(0 < float(r["value"][1]) < 1.0 for r in p50), p50
        counts = query(prom_port, "netcheck_cell_rtt_seconds_count")
        assert all(float(r["value"][1]) == 3 for r in counts)  # the demo's 3 samples per cell
        (age,) = query(prom_port, "time() - netcheck_sweep_timestamp_seconds")
        assert -5 < float(age["value"][1]) < 30
        (loss,) = query(prom_port, "max(netcheck_cell_loss_ratio)")
        assert float(loss["value"][1]) == 0

        # the per-cell counters add up over the sweeps (one scrape: the same instant)
        both = query(
            prom_port,
            "netcheck_cell_attempts_total - on(instance) group_left() "
            "(3 * netcheck_watch_sweeps_total)",
        )
        assert len(both) == len(want) and all(float(r["value"][1]) == 0 for r in both), both
        (failed,) = query(prom_port, "sum(netcheck_cell_failures_total)")
        assert float(failed["value"][1]) == 0  # the demo is GO
        assert by_name["netcheck_cell_attempts"]["type"] == "counter", by_name

    # the watcher stops cleanly on SIGTERM and says so
    assert stop(proc) == 0, log.read_text()
    text = log.read_text()
    assert re.search(r"sweep \d+ \w+ (GO|NO-GO)", text)
    assert "stopped (stop requested;" in text
