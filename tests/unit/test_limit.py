"""`--limit` over a plan (netcheck.limit), and how the limit travels: table report,
JSON, the store, and `diff`, which refuses a limited sweep against a complete one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from netcheck.diff import diff_sweeps
from netcheck.errors import UsageError
from netcheck.limit import limit_plan
from netcheck.plan import Limit, build_plan
from netcheck.report.json_report import render_json
from netcheck.report.table import render_table
from netcheck.results import CellStatus
from netcheck.store import StoreObserver, load_sweep, open_store
from netcheck.topology import load_topology
from tests.unit.report.reportkit import TOPOLOGY, make_sweep, report_plan

DEMO = Path(__file__).resolve().parents[2] / "topologies" / "local-demo.yaml"
LAB = DEMO.parent / "lab" / "failback-topology.yaml"


def _ends(plan_specs: object) -> set[tuple[str, str]]:
    return {(s.source_host, s.dest_host) for s in plan_specs}  # type: ignore[attr-defined]


def test_only_cells_whose_source_or_destination_matches_are_kept() -> None:
    full = build_plan(load_topology(DEMO))
    limited = limit_plan(full, "ps-azure")
    assert limited.specs, "the demo has cells from and to ps-azure"
    assert all("ps-azure" in (s.source_host, s.dest_host) for s in limited.specs)
    kept = {s.cell_id for s in limited.specs}
    assert kept == {s.cell_id for s in full.specs if "ps-azure" in (s.source_host, s.dest_host)}
    assert limited.limit == Limit("ps-azure", len(full.specs))
    assert full.limit is None


def test_each_key_narrows_the_demo_plan() -> None:
    full = build_plan(load_topology(DEMO))
    topo = full.topology
    azure = {h.name for h in topo.hosts if h.site == "azure"}
    by_site = limit_plan(full, "site:azure")
    assert all(s.source_host in azure or s.dest_host in azure for s in by_site.specs)
    by_role = limit_plan(full, "role:master_target")
    mts = {h.name for h in topo.hosts_with(next(iter(topo.host("mt01").roles)))}
    assert all(s.source_host in mts or s.dest_host in mts for s in by_role.specs)
    # an exclusion of everything but one host is that host
    one = limit_plan(full, "all,!" + ",!".join(h.name for h in topo.hosts if h.name != "cs01"))
    assert _ends(one.specs) == _ends(limit_plan(full, "cs01").specs)


def test_group_key_reads_the_hosts_groups() -> None:
    full = build_plan(load_topology(LAB))  # vm-app01 and vm-app02 in replication group app
    limited = limit_plan(full, "group:app")
    assert limited.specs
    app = {"vm-app01", "vm-app02"}
    assert all(s.source_host in app or s.dest_host in app for s in limited.specs)
    assert {s.source_host for s in limited.specs} >= app


def test_a_limit_that_matches_no_host_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"matches no host .*hosts: cs01"):
        limit_plan(build_plan(load_topology(DEMO)), "nosuchhost*")


def _limited_sweep(pattern: str = "ps-azure"):  # type: ignore[no-untyped-def]
    plan = limit_plan(report_plan(), pattern)
    return make_sweep({}, plan=plan)


def test_table_and_json_reports_say_the_sweep_was_limited() -> None:
    sweep = _limited_sweep()
    assert sweep.plan.limit is not None
    text = render_table(sweep)
    assert (
        f"LIMITED to hosts matching 'ps-azure': {len(sweep.plan.specs)} of "
        f"{sweep.plan.limit.total_cells} cells" in text
    )
    assert json.loads(render_json(sweep))["settings"]["limit"] == "ps-azure"
    assert "LIMITED" not in render_table(make_sweep({}))
    assert json.loads(render_json(make_sweep({})))["settings"]["limit"] is None


def test_diff_refuses_a_limited_sweep_against_a_complete_one() -> None:
    complete = make_sweep({})
    limited = replace(_limited_sweep(), sweep_id="sw-0002")
    with pytest.raises(UsageError, match=r"sw-0001 is complete.*sw-0002 is limited to 'ps-azure'"):
        diff_sweeps(complete, limited)
    with pytest.raises(UsageError, match="same --limit"):
        diff_sweeps(limited, complete)
    other = replace(make_sweep({}, plan=limit_plan(report_plan(), "cs01")), sweep_id="sw-3")
    with pytest.raises(UsageError):
        diff_sweeps(limited, other)


def test_diff_of_two_sweeps_with_the_same_limit_compares_their_cells() -> None:
    a = _limited_sweep()
    b = replace(_limited_sweep(), sweep_id="sw-0002")
    d = diff_sweeps(a, b)
    assert d.unchanged == len(a.results) and d.cells == ()


def test_the_store_keeps_the_limit(tmp_path: Path) -> None:
    db = tmp_path / "nc.db"
    sweep = _limited_sweep("site:azure")
    obs = StoreObserver(db, warn=lambda m: None, topology_text=TOPOLOGY)
    obs.on_start(sweep.plan, sweep.sweep_id)
    for r in sweep.results:
        if r.status is not CellStatus.NOT_RUN:
            obs.on_result(r)
    obs.on_finish(sweep)
    obs.close()
    with open_store(db) as conn:
        loaded = load_sweep(conn, sweep.sweep_id)
    assert loaded.plan.limit == sweep.plan.limit
    assert loaded.plan.specs == sweep.plan.specs
    assert render_table(loaded) == render_table(sweep)
