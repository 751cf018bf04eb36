"""`netcheck plan`: what a sweep would probe, without sending a packet."""

from __future__ import annotations

import json

from tabulate import tabulate

from netcheck.plan import Plan
from netcheck.report.table import skipped_lines

__all__ = ["plan_to_dict", "render_plan_json", "render_plan_table"]


def render_plan_table(plan: Plan) -> str:
    topo = plan.topology
    rows = []
    for s in plan.specs:
        port = f"{s.proto}/{s.port}" + (
            f" (doc {s.documented_port})" if s.port != s.documented_port else ""
        )
        rows.append(
            [
                s.source_host,
                f"{s.source_nic} {s.source_address}",
                s.dest_host,
                f"{s.dest_nic} {s.dest_address}",
                port,
                "reachable" if s.expect_reachable else "BLOCKED",
                s.path or "-",
                ",".join(s.rule_ids),
                s.evidence.value,
            ]
        )
    st = plan.settings
    lines = [
        f"Plan for {topo.name!r} ({topo.source}): {len(plan.specs)} cells from "
        f"{len(plan.by_source())} source hosts; {st.samples} attempts each, timeout {st.timeout_ms} ms",
        *([plan.limit.describe(len(plan.specs))] if plan.limit else []),
        "",
        tabulate(
            rows,
            headers=[
                "from",
                "source NIC",
                "to",
                "dest NIC",
                "port",
                "expect",
                "path",
                "rule",
                "evidence",
            ],
            tablefmt="simple",
            disable_numparse=True,
        ),
    ]
    lines += skipped_lines(plan)
    return "\n".join(lines) + "\n"


def plan_to_dict(plan: Plan) -> dict[str, object]:
    return {
        "schema": "netcheck.plan",
        "schema_version": 1,
        "topology": {"name": plan.topology.name, "file": plan.topology.source},
        "cells": [
            {
                "cell_id": s.cell_id,
                "source_host": s.source_host,
                "source_nic": s.source_nic,
                "source_address": s.source_address,
                "dest_host": s.dest_host,
                "dest_nic": s.dest_nic,
                "dest_address": s.dest_address,
                "proto": s.proto,
                "port": s.port,
                "documented_port": s.documented_port,
                "rule_ids": list(s.rule_ids),
                "evidence": s.evidence.value,
                "expect": "reachable" if s.expect_reachable else "blocked",
                "path": s.path,
                "kind": s.kind,
            }
            for s in plan.specs
        ],
        "skipped": [
            {"rule_id": sk.rule_id, "reason": sk.reason, "source_host": sk.source_host}
            for sk in plan.skipped
        ],
        "limit": (
            {"pattern": plan.limit.pattern, "total_cells": plan.limit.total_cells}
            if plan.limit
            else None
        ),
    }


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2) + "\n"
