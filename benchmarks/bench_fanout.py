"""Fleet fan-out over SSH: `netcheck sweep` against a plain `xargs -P` ssh + bash fan-out.

Method: build a fleet lab (`netcheck.lab.fleet`) of N hosts, each a network
namespace with its own sshd (strict known_hosts, one client key), plus a
management namespace where both tools run and two target namespaces with a
real accept-and-close listener each (the configuration server's 443, the
process server's 9443). Every host checks both ports: 2 × N connects.

- netcheck: the whole CLI process, `python -m netcheck sweep FLEET --format json
  -o /dev/null --no-store --no-progress --host-concurrency N` (an agent per host over
  SSH, 1 sample per cell; the run must be GO);
- naive: `xargs -P N` running, per host, `ssh -F STATE/ssh_config HOST 'for t in ...;
  do timeout 1 bash -c "</dev/tcp/ADDR/PORT" ...; done'` (the same checks, the same
  1 s limit per check, the same known_hosts and key); every check must say open.
- a Python floor: the naive way with Python instead of bash, per host `ssh HOST
  '/usr/bin/python3 -I -c "...socket.create_connection((ADDR, PORT), 1)..."'` (the
  same checks, the same interpreter netcheck's agents run): what any agent written in
  Python pays at least on each host (an interpreter's start), without netcheck's
  upload check, asyncio, protocol or teardown.

Both run inside the management namespace, alternating which goes first, and every
host's login shell is the machine's root shell (its ~/.bashrc included) for both.
The coordinator runs as installed, with its bytecode cached (the settling run writes
it even where PYTHONDONTWRITEBYTECODE is set, as `pip install` would have).
Per-host agent caches: each host's sshd gets a private bind mount of its own
directory over ~/.netcheck (in the sshd's mount namespace only), so a *cold* run
(the default) really uploads the agent to every host; `--warm` keeps the agents.

All traffic stays inside the namespaces this script creates (198.18.10.0/24).

Usage (root, Linux):
  python benchmarks/bench_fanout.py [--hosts 30 60] [--runs 5] [--warm] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from netcheck.lab import Lab, LabState, lab_down, lab_exec, lab_up
from netcheck.lab.fleet import TARGETS, fleet_lab, fleet_topology, start_targets
from netcheck.transports.ssh import REMOTE_DIR, agent_zipapp

PREFIX = "fanb-"  # unique on this machine: lab_down removes every namespace with it
AGENT_PYTHON = "/usr/bin/python3"
#: where an agent lives on a host: the uploaded zipapp, and the zipapp's extracted and
#: compiled copy (see netcheck_agent.zipapp_build); both private per host
AGENT_DIRS = (Path.home() / REMOTE_DIR, Path.home() / ".cache" / "netcheck-agent")


def private_caches(state: LabState, cache_root: Path) -> list[Path]:
    """Bind-mount directories of its own over AGENT_DIRS in each host's sshd (its mount
    namespace only: the machine's own directories stay as they are)."""
    caches = []
    for target in AGENT_DIRS:
        target.mkdir(parents=True, exist_ok=True)
    for ns in state.namespaces:
        if ns.sshd_pid is None:
            continue
        for i, target in enumerate(AGENT_DIRS):
            cache = cache_root / ns.name / str(i)
            cache.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    "nsenter",
                    "-t",
                    str(ns.sshd_pid),
                    "-m",
                    "mount",
                    "--bind",
                    str(cache),
                    str(target),
                ],
                check=True,
                timeout=10,
            )
            caches.append(cache)
    return caches


def make_cold(caches: list[Path]) -> None:
    for cache in caches:
        for f in cache.iterdir():
            if f.is_dir():
                shutil.rmtree(f)
            else:
                f.unlink()


def run_netcheck(lab: Lab, state_dir: Path, topo: Path, n: int) -> dict[str, Any]:
    report = state_dir / "report.json"
    argv = [
        *(sys.executable, "-m", "netcheck", "sweep", str(topo)),
        *("--known-hosts", str(state_dir / "known_hosts"), "-i", str(state_dir / "id_ed25519")),
        *("--format", "json", "-o", str(report), "--no-store", "--no-progress"),
        *("--host-concurrency", str(n)),
    ]
    # the coordinator as installed (pip compiles its bytecode): allowed to cache it, even
    # where the environment says PYTHONDONTWRITEBYTECODE (this one does)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=300, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"netcheck sweep: exit {proc.returncode}: {proc.stderr[-3000:]}")
    data = json.loads(report.read_text())
    agents = [a for a in data["agents"] if a["available"]]
    if data["verdict"] != "go" or len(agents) != n or len(data["cells"]) != 2 * n:
        raise SystemExit(f"netcheck sweep is not GO with {n} agents: {proc.stderr[-2000:]}")
    ready = [a["timings_s"]["ready_s"] for a in agents]
    row = {"wall_s": wall, "ready_max_s": max(ready), "ready_median_s": statistics.median(ready)}
    row["uploaded"] = int(sum(a["timings_s"].get("uploaded", 0) for a in agents))
    row.update(data["phases_s"])
    return row


def naive_argv(lab: Lab, state_dir: Path, n: int, python: bool = False) -> list[str]:
    checks = " ".join(f"{addr}/{port}" for addr, port, _ in TARGETS.values())
    script = (
        f"for t in {checks}; do "
        'if timeout 1 bash -c "</dev/tcp/$t" 2>/dev/null; then echo "$(hostname) $t open"; '
        'else echo "$(hostname) $t closed"; fi; done'
    )
    if python:
        code = (
            "import socket\n"
            f"for t in {checks.split()!r}:\n"
            "    a, p = t.split('/')\n"
            "    try:\n"
            "        socket.create_connection((a, int(p)), 1).close(); s = 'open'\n"
            "    except OSError:\n"
            "        s = 'closed'\n"
            "    print(socket.gethostname(), t, s)\n"
        )
        script = f"{AGENT_PYTHON} -I -c {shlex.quote(code)}"
    ssh = f"ssh -F {shlex.quote(str(state_dir / 'ssh_config'))} {{}} {shlex.quote(script)}"
    hosts = " ".join(ns.name for ns in lab.hosts if ns.sshd)
    return ["sh", "-c", f"printf '%s\\n' {hosts} | xargs -P {n} -I{{}} {ssh}"]


def run_naive(lab: Lab, state_dir: Path, n: int, python: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    argv = naive_argv(lab, state_dir, n, python)
    proc = lab_exec(lab, "mgmt", argv, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - t0
    opened = [line for line in proc.stdout.splitlines() if line.endswith(" open")]
    if proc.returncode != 0 or len(opened) != 2 * n:
        raise SystemExit(
            f"{'python floor' if python else 'naive fan-out'}: exit {proc.returncode}, {len(opened)}/{2 * n} open: "
            f"{proc.stderr[-2000:]}"
        )
    return {"wall_s": wall}


def bench(n: int, runs: int, warm: bool, workdir: Path) -> dict[str, Any]:
    lab = dataclasses.replace(fleet_lab(n, PREFIX), name=f"fleet-{n}")
    state_dir = workdir / f"state-{n}"
    lab_down(lab, state_dir)
    t0 = time.perf_counter()
    state = lab_up(lab, state_dir=state_dir)
    up_s = time.perf_counter() - t0
    topo = state_dir / "fleet.yaml"
    topo.write_text(fleet_topology(lab, AGENT_PYTHON), encoding="utf-8")
    out: dict[str, Any] = {"hosts": n, "lab_up_s": up_s, "netcheck": [], "naive": [], "python": []}
    try:
        start_targets(lab, AGENT_PYTHON)
        caches = private_caches(state, workdir / f"caches-{n}")
        run_naive(lab, state_dir, n)  # settle: ARP, sshd first start, page cache
        run_naive(lab, state_dir, n, python=True)
        run_netcheck(lab, state_dir, topo, n)
        out["load_before"] = os.getloadavg()
        tools = ["netcheck", "naive", "python"]
        for i in range(runs):
            for tool in tools if i % 2 == 0 else tools[::-1]:
                if tool == "netcheck":
                    if not warm:
                        make_cold(caches)
                    row = run_netcheck(lab, state_dir, topo, n)
                else:
                    row = run_naive(lab, state_dir, n, python=tool == "python")
                out[tool].append(row)
            nc, nv, py = (out[t][-1]["wall_s"] for t in tools)
            print(
                f"{n} hosts, run {i + 1}/{runs}: netcheck {nc:.2f} s, naive {nv:.2f} s, "
                f"python floor {py:.2f} s",
                file=sys.stderr,
            )
    finally:
        lab_down(lab, state_dir)
    return out


def med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--hosts", type=int, nargs="+", default=[30, 60])
    ap.add_argument("--runs", type=int, default=5, help="runs of each tool (default 5)")
    ap.add_argument("--warm", action="store_true", help="keep the agents between runs")
    ap.add_argument("--json", type=Path, help="also write the per-run figures here")
    args = ap.parse_args()
    if not 1 <= args.runs <= 20 or not all(1 <= n <= 120 for n in args.hosts):
        ap.error("--runs must be 1..20, --hosts 1..120")
    if os.geteuid() != 0 or shutil.which("nsenter") is None:
        ap.error("needs root and nsenter (network and mount namespaces)")
    pyz = agent_zipapp()
    results = []
    with tempfile.TemporaryDirectory(prefix="ncf-bench-") as tmp:
        for n in args.hosts:
            results.append(bench(n, args.runs, args.warm, Path(tmp)))
    kind = "warm" if args.warm else "cold (per-host caches emptied before each netcheck run)"
    print(
        f"agent {pyz.name} ({pyz.stat().st_size / 1024:.1f} KiB), python {AGENT_PYTHON} on the "
        f"hosts; {kind}; {args.runs} runs per tool, alternating order; "
        f"{os.cpu_count()} CPUs"
    )
    print()
    print(
        "| hosts | netcheck s | naive s | ratio | python floor s | floor / naive "
        "| agents ready max s | uploads | load before |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        nc, nv, py = (med(r[t], "wall_s") for t in ("netcheck", "naive", "python"))
        uploads = "/".join(str(x["uploaded"]) for x in r["netcheck"])
        load = ", ".join(f"{x:.1f}" for x in r["load_before"])
        print(
            f"| {r['hosts']} | {nc:.2f} | {nv:.2f} | {nc / nv:.2f} | {py:.2f} | {py / nv:.2f} | "
            f"{med(r['netcheck'], 'ready_max_s'):.2f} | {uploads} | {load} |"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
