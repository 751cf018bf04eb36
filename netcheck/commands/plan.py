"""`netcheck plan FILE`: the cells a sweep would probe, without sending a packet."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from netcheck.commands.azure_export import add_azure_export_options, azure_export_from_args
from netcheck.commands.common import EXIT_GO, add_sweep_settings, plan_from_args
from netcheck.report import render_plan_json, render_plan_table
from netcheck.report.plan_report import plan_to_dict


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        description="Expand the topology against the ASR failback port catalog and print the "
        "cells: source host and NIC, destination NIC, port, expectation, path and rule.",
    )
    p.add_argument("topology", type=Path)
    p.add_argument("--format", choices=["table", "json"], default="table")
    add_sweep_settings(p)
    add_azure_export_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    plan = plan_from_args(args)
    export = azure_export_from_args(args, plan.topology)
    if export is None:
        out.write(render_plan_json(plan) if args.format == "json" else render_plan_table(plan))
        return EXIT_GO
    # the NSG predictions (issue 17): what the exported NSGs do to each cell, no packet sent
    from netcheck.azure.nsg import predict_plan
    from netcheck.report.nsg_report import predictions_to_dict, render_nsg_predictions

    preds = predict_plan(plan, export)
    if args.format == "json":
        doc = plan_to_dict(plan)
        doc["nsg_predictions"] = predictions_to_dict(preds, export.files)
        out.write(json.dumps(doc, indent=2) + "\n")
    else:
        out.write(render_plan_table(plan) + render_nsg_predictions(preds, export.files))
    return EXIT_GO
