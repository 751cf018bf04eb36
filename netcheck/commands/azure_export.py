"""`--azure-nsgs FILE` and friends: the Azure export for the NSG predictions.

Per file, the command line wins over the topology's `azure.nsg_export`; the topology's
paths are relative to the topology file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from netcheck.azure.nsg import AzureExport, Predictions, load_export, predict_plan
from netcheck.errors import UsageError
from netcheck.plan import Plan
from netcheck.topology.model import Topology

__all__ = ["add_azure_export_options", "azure_export_from_args", "predictions_from_args"]

_FILES = {
    "nsgs": ("--azure-nsgs", "az network nsg list -o json"),
    "nics": ("--azure-nics", "az network nic list -o json"),
    "vnets": ("--azure-vnets", "az network vnet list -o json"),
    "route_tables": ("--azure-route-tables", "az network route-table list -o json"),
}


def add_azure_export_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "Azure NSG predictions (files exported with az; override the topology's azure.nsg_export)"
    )
    for key, (flag, command) in _FILES.items():
        g.add_argument(flag, dest=f"azure_{key}", type=Path, metavar="FILE", help=f"`{command}`")


def azure_export_from_args(args: argparse.Namespace, topo: Topology) -> AzureExport | None:
    """The export the arguments and the topology name, or None when neither names one."""
    declared = topo.azure.nsg_export
    base = Path(topo.source).parent
    paths: dict[str, Path | None] = {}
    for key in _FILES:
        given = getattr(args, f"azure_{key}", None)
        from_topo = getattr(declared, key) if declared is not None else None
        paths[key] = given if given is not None else (base / from_topo if from_topo else None)
    nsgs = paths["nsgs"]
    if nsgs is None:
        extra = [flag for key, (flag, _c) in _FILES.items() if paths[key] is not None]
        if extra:
            raise UsageError(f"{', '.join(extra)} need --azure-nsgs (or azure.nsg_export.nsgs)")
        return None
    return load_export(nsgs, paths["nics"], paths["vnets"], paths["route_tables"])


def predictions_from_args(args: argparse.Namespace, plan: Plan) -> Predictions | None:
    export = azure_export_from_args(args, plan.topology)
    return None if export is None else predict_plan(plan, export)
