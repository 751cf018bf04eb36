"""The namespace lab: a real ASR failback site built on one Linux machine.

    lab = load_lab("topologies/lab/failback-lab.yaml")   # pure: parse + validate
    state = lab_up(lab, faults=["route_via_expressroute"])
    lab_exec(lab, "vm-app01", ["ping", "-c", "1", "-W", "1", "198.18.2.20"])
    lab_fault(lab, "cs_https_reset", on=True)
    lab_down(lab)                                         # idempotent

Everything the lab creates lives in network namespaces named with the lab's
prefix (default `nc-`) and addressed from 198.18.0.0/15; the machine's own
namespace keeps its addresses, routes, firewall and sysctls. Needs root and
the packages that scripts/lab-deps installs.
"""

from __future__ import annotations

from netcheck.lab.builder import lab_down, lab_up
from netcheck.lab.loader import load_lab, load_lab_text
from netcheck.lab.model import Fault, Lab, Link, LinkEnd, Match, Namespace, Route, Shaping
from netcheck.lab.runtime import lab_exec, lab_fault, lab_spawn, lab_status
from netcheck.lab.state import LabState, LabStatus, NamespaceState

__all__ = [
    "Fault",
    "Lab",
    "LabState",
    "LabStatus",
    "Link",
    "LinkEnd",
    "Match",
    "Namespace",
    "NamespaceState",
    "Route",
    "Shaping",
    "lab_down",
    "lab_exec",
    "lab_fault",
    "lab_spawn",
    "lab_status",
    "lab_up",
    "load_lab",
    "load_lab_text",
]
