"""Deploy and sweep the failback lab's full matrix over SSH: cold start vs warm.

Method: build the namespace lab (topologies/lab/failback-lab.yaml) under its own
prefix (`ncb-`, so it never meets a developer's `nc-` lab or the tests' `nct-`),
then run the real CLI inside the lab's management namespace, exactly as a user
would:

    ip netns exec ncb-mgmt python -m netcheck sweep topologies/lab/failback-topology.yaml \
        --known-hosts STATE/known_hosts -i STATE/id_ed25519 --format json

Seven hosts get an agent over SSH (strict host keys; Azure hosts across the
lab's VPN). A *cold* run first removes the agent zipapp from the hosts
(`~/.netcheck/netcheck-agent-<hash>.pyz`), so the transport uploads it; a *warm*
run finds it there and skips the upload. Every lab host runs on this machine
and logs in as root, so all of them share one `~/.netcheck` (/root/.netcheck):
one removal makes every host cold, and in a cold run the seven uploads race
for the same file (the transport uploads under a temporary name and renames;
`uploaded` counts the hosts that actually sent the file). Only this agent's
file is removed, not other versions', so concurrent work on the machine keeps
its agents.

Figures come from the JSON report: per agent `timings_s` (connect_s: TCP +
SSH handshake + auth; upload_s: SFTP check and upload; spawn_s: starting the
remote command; ready_s: from the start of the connect to the agent's hello; start-up: ready_s
minus the transport's start_s, i.e. the remote interpreter loading the agent),
aggregated as the max and median over the seven hosts; and the sweep's
`phases_s` (agents_s: all agents ready; responders_s; probes_s; teardown_s).
`wall_s` is the whole CLI process, interpreter start-up included. Each run
must be GO, or the figures would describe a broken sweep.

Usage (root, Linux): python benchmarks/bench_lab_ssh.py [--runs 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from netcheck.lab import Lab, lab_down, lab_exec, lab_up, load_lab
from netcheck.transports.ssh import REMOTE_DIR, agent_zipapp

ROOT = Path(__file__).resolve().parent.parent
LAB_FILE = ROOT / "topologies" / "lab" / "failback-lab.yaml"
TOPOLOGY = ROOT / "topologies" / "lab" / "failback-topology.yaml"
PREFIX = "ncb-"
AGENT_KEYS = ("connect_s", "upload_s", "spawn_s", "ready_s")
PHASE_KEYS = ("agents_s", "responders_s", "probes_s", "teardown_s")


def sweep_once(lab: Lab, state_dir: Path) -> dict[str, Any]:
    argv = [
        *(sys.executable, "-m", "netcheck", "sweep", str(TOPOLOGY)),
        *("--known-hosts", str(state_dir / "known_hosts")),
        *("-i", str(state_dir / "id_ed25519"), "--format", "json", "--no-progress"),
    ]
    t0 = time.perf_counter()
    proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"sweep failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    if report["verdict"] != "go":
        bad = [f"{c['cell_id']}: {c['reason']}" for c in report["cells"] if not c["passed"]]
        raise SystemExit("sweep is not GO, figures would be meaningless:\n" + "\n".join(bad))
    agents = [a for a in report["agents"] if a["available"]]
    row: dict[str, Any] = {"wall_s": wall, "hosts": len(agents), "cells": len(report["cells"])}
    row["uploaded"] = int(sum(a["timings_s"].get("uploaded", 0) for a in agents))
    for key in AGENT_KEYS:
        values = [a["timings_s"][key] for a in agents]
        row[f"{key}_max"] = max(values)
        row[f"{key}_median"] = statistics.median(values)
    hello = [a["timings_s"]["ready_s"] - a["timings_s"]["start_s"] for a in agents]
    row["hello_s_max"] = max(hello)
    row["hello_s_median"] = statistics.median(hello)
    for key in PHASE_KEYS:
        row[key] = report["phases_s"][key]
    return row


def make_cold(zipapp_name: str) -> bool:
    """Remove this agent's zipapp from the (shared) home of the lab hosts' root login."""
    remote = Path.home() / REMOTE_DIR / zipapp_name
    existed = remote.exists()
    remote.unlink(missing_ok=True)
    return existed


def fmt(values: list[float]) -> str:
    """Median over runs, with the range when there are several."""
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med * 1000:.0f}"
    return f"{med * 1000:.0f} ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| phase (ms) | cold | warm |",
        "|---|---|---|",
    ]
    rows = [
        ("connect, max over hosts", "connect_s_max"),
        ("connect, median over hosts", "connect_s_median"),
        ("upload, max over hosts", "upload_s_max"),
        ("upload, median over hosts", "upload_s_median"),
        ("spawn, max over hosts", "spawn_s_max"),
        ("agent start-up (remote command → hello), max", "hello_s_max"),
        ("agent start-up (remote command → hello), median", "hello_s_median"),
        ("agent ready (connect → hello), max", "ready_s_max"),
        ("agent ready (connect → hello), median", "ready_s_median"),
        ("sweep: all agents ready (`agents_s`)", "agents_s"),
        ("sweep: responders (`responders_s`)", "responders_s"),
        ("sweep: probes (`probes_s`)", "probes_s"),
        ("sweep: teardown (`teardown_s`)", "teardown_s"),
        ("whole CLI run (`wall_s`)", "wall_s"),
    ]
    for label, key in rows:
        cells = [fmt([r[key] for r in results[kind]]) for kind in ("cold", "warm")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    uploads = ["/".join(str(r["uploaded"]) for r in results[kind]) for kind in ("cold", "warm")]
    lines.append(f"| hosts that uploaded (per run) | {uploads[0]} | {uploads[1]} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3, help="cold and warm runs each (default 3)")
    ap.add_argument("--json", type=Path, help="also write the per-run figures here")
    args = ap.parse_args()
    if not 1 <= args.runs <= 20:
        ap.error("--runs must be 1..20")

    lab = dataclasses.replace(load_lab(LAB_FILE), prefix=PREFIX)
    pyz = agent_zipapp()  # built (or reused) on the coordinator before timing anything
    results: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="ncb-lab-") as tmp:
        state_dir = Path(tmp) / "state"
        lab_down(lab, state_dir)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        lab_up(lab, state_dir=state_dir)
        up_s = time.perf_counter() - t0
        try:
            sweep_once(lab, state_dir)  # settle: ARP, route caches, sshd first start
            for i in range(args.runs):
                make_cold(pyz.name)
                results["cold"].append(sweep_once(lab, state_dir))
                results["warm"].append(sweep_once(lab, state_dir))
                print(
                    f"run {i + 1}/{args.runs}: cold {results['cold'][-1]['wall_s']:.2f} s, "
                    f"warm {results['warm'][-1]['wall_s']:.2f} s",
                    file=sys.stderr,
                )
        finally:
            lab_down(lab, state_dir)

    first = results["warm"][0]
    load = ", ".join(f"{x:.1f}" for x in load_before)
    print(
        f"lab: {LAB_FILE.relative_to(ROOT)} (prefix {PREFIX}), built in {up_s:.1f} s; "
        f"{first['hosts']} agents over SSH, {first['cells']} cells, "
        f"agent {pyz.name} ({pyz.stat().st_size // 1024} KiB); {args.runs} cold + "
        f"{args.runs} warm runs, median (min–max) over runs; {os.cpu_count()} CPUs, "
        f"load average before the runs {load}"
    )
    print(
        "note: every lab host is a namespace of this machine and logs in as root, so all "
        "hosts share one ~/.netcheck; a cold run removes the zipapp once for all of them"
    )
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
