"""Sweep rate on loopback for a 1,000-VM failback matrix, side by side with `nmap -sT`.

Method (one run, same listeners for both tools):
1. Generate a topology: 1,000 protected VMs on 127.1.0.0/16 in replication groups of
   four, a configuration server, a process server, a master target and vCenter on
   127.0.20.0/24 (a range no test topology uses, so concurrent test runs do not
   collide with its listeners). Each VM has five cells (→ CS 443, → PS 9443, → three group peers
   20004), plus the CS/PS/MT cells: ≥ 5,000 cells. Documented ports below 1024 are
   remapped (443 → 10443) so no root is needed.
2. A separate listener process opens a plain TCP listener on every destination
   (address, port) of the plan and accepts-and-closes (the agents' responders are
   turned off, so both tools probe the same listeners).
3. netcheck: the full sweep (1 attempt per cell), in-process agents. Timed twice:
   the sweep itself (agents started, every cell probed and reported), and the whole
   `netcheck sweep` command as a process (interpreter start-up included).
4. nmap: `nmap -sT -Pn -n -p <every port of the plan> <every destination address>` —
   a TCP connect scan of the same listeners (its probes also hit closed ports, which
   answer just as fast). Timed as a process, with -T4 and -T5; the faster is used.
5. Print cells/s and probes/s and the ratio netcheck / nmap.

Usage: python benchmarks/bench_sweep_vs_nmap.py [--vms 1000] [--repeat 3]
Traffic: loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netcheck.plan import build_plan
from netcheck.sweep import run_sweep
from netcheck.topology import load_topology
from netcheck.transports.local import LocalTransport

GROUP = 4


def vm_address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def write_topology(path: Path, vms: int) -> None:
    lines = [
        "version: 1",
        "name: bench-1000-vms",
        "ports: {remap: {443: 10443}}",
        "defaults: {agent: {transport: local, responders: false}}",
        "sweep: {samples: 1, interval_ms: 0, timeout_ms: 2000, concurrency: 256}",
        "sites:",
        "  onprem: {networks: {lan: 127.0.20.0/24}}",
        "  azure: {networks: {vnet: 127.1.0.0/16}}",
        "paths:",
        "  s2s-vpn: {kind: vpn, sites: [azure, onprem]}",
        "hosts:",
        "  cs01: {site: onprem, roles: [config_server], address: 127.0.20.10}",
        "  mt01: {site: onprem, roles: [master_target], address: 127.0.20.20}",
        "  vcenter: {site: onprem, roles: [vcenter], address: 127.0.20.30, agent: none}",
        "  ps-azure: {site: azure, roles: [process_server], address: 127.1.250.4}",
    ]
    for i in range(vms):
        lines.append(
            f"  vm{i:04d}: {{site: azure, roles: [protected_vm], groups: [g{i // GROUP}], "
            f"address: {vm_address(i)}}}"
        )
    path.write_text("\n".join(lines) + "\n")


LISTENER_CODE = r"""
import selectors, socket, sys, time
targets = [line.split() for line in sys.stdin.read().split("\n") if line.strip()]
sel = selectors.DefaultSelector()
socks = []
for addr, port in targets:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(4096)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    socks.append(s)
print("ready", flush=True)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    for key, _ in sel.select(0.2):
        try:
            for _ in range(1024):
                c, _ = key.fileobj.accept()
                c.close()
        except BlockingIOError:
            pass
"""


def start_listeners(targets: list[tuple[str, int]], lifetime_s: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTENER_CODE, str(lifetime_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("\n".join(f"{a} {p}" for a, p in targets))
    proc.stdin.close()
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit("listener process failed")
    return proc


def time_netcheck_inprocess(topology: Path) -> tuple[float, int, int]:
    plan = build_plan(load_topology(topology))
    t0 = time.perf_counter()
    result = asyncio.run(run_sweep(plan, {"local": LocalTransport()}, host_concurrency=64))
    took = time.perf_counter() - t0
    opened = sum(1 for _, v in result.verdicts() if v.verdict.value == "open")
    return took, len(plan.specs), opened


def time_netcheck_command(topology: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "netcheck",
            "sweep",
            str(topology),
            "--format",
            "json",
            "-o",
            os.devnull,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"netcheck sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took


def time_nmap(addresses: list[str], ports: list[int], timing: str) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(addresses))
        target_file = fh.name
    try:
        cmd = [
            "nmap",
            "-sT",
            "-Pn",
            "-n",
            timing,
            "-p",
            ",".join(map(str, ports)),
            "-iL",
            target_file,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run([*cmd, "-oG", "-"], capture_output=True, text=True, timeout=300)
        took = time.perf_counter() - t0
    finally:
        os.unlink(target_file)
    if proc.returncode != 0:
        raise SystemExit(f"nmap failed: {proc.stderr}")
    opened = proc.stdout.count("/open/tcp/")
    return took, opened


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("nmap") is None:
        raise SystemExit("nmap is not installed (apt-get install nmap)")
    with tempfile.TemporaryDirectory() as tmp:
        topo_path = Path(tmp) / "bench.yaml"
        write_topology(topo_path, args.vms)
        plan = build_plan(load_topology(topo_path))
        targets = sorted({(s.dest_address, s.port) for s in plan.specs})
        addresses = sorted({a for a, _ in targets})
        ports = sorted({p for _, p in targets})
        listeners = start_listeners(targets, lifetime_s=600)
        try:
            by_port: dict[int, list[str]] = {}
            for a, port in targets:
                by_port.setdefault(port, []).append(a)
            sweeps, commands, nmaps, nmaps_open = [], [], [], []
            for _ in range(args.repeat):
                took, cells, opened = time_netcheck_inprocess(topo_path)
                if opened != cells:
                    raise SystemExit(f"netcheck: only {opened} of {cells} cells open")
                sweeps.append(took)
                commands.append(time_netcheck_command(topo_path))
                best = min(time_nmap(addresses, ports, t)[0] for t in ("-T4", "-T5"))
                nmaps.append(best)
                # the same listeners and nothing else: one scan per port over the
                # addresses that listen on it (every probe meets an open port)
                nmaps_open.append(
                    sum(
                        min(time_nmap(addrs, [port], t)[0] for t in ("-T4", "-T5"))
                        for port, addrs in by_port.items()
                    )
                )
            _, nmap_open = time_nmap(addresses, ports, "-T4")
        finally:
            listeners.terminate()
            listeners.wait(10)
    cells = len(plan.specs)
    probes = len(addresses) * len(ports)
    sweep_s, cmd_s, nmap_s, open_s = (
        statistics.median(x) for x in (sweeps, commands, nmaps, nmaps_open)
    )
    open_rate = len(targets) / open_s
    print(
        f"plan: {args.vms} VMs, {cells} cells, {len(targets)} listeners; nmap: {probes} probes "
        f"({nmap_open} open)"
    )
    print(f"netcheck sweep (in-process):  {sweep_s:6.3f} s  {cells / sweep_s:9.0f} cells/s")
    print(f"netcheck sweep (command):     {cmd_s:6.3f} s  {cells / cmd_s:9.0f} cells/s")
    print(f"nmap -sT (command, best T4/T5): {nmap_s:6.3f} s  {probes / nmap_s:9.0f} probes/s")
    print(
        f"nmap -sT, open targets only ({len(by_port)} scans): {open_s:6.3f} s  "
        f"{open_rate:9.0f} probes/s"
    )
    print(
        f"ratio netcheck/nmap (sweep vs all ports):   {(cells / sweep_s) / (probes / nmap_s):.2f}"
    )
    print(f"ratio netcheck/nmap (command vs all ports): {(cells / cmd_s) / (probes / nmap_s):.2f}")
    print(f"ratio netcheck/nmap (sweep vs open only):   {(cells / sweep_s) / open_rate:.2f}")
    print(f"ratio netcheck/nmap (command vs open only): {(cells / cmd_s) / open_rate:.2f}")
    print(
        f"median of {args.repeat} runs each; 1,000-VM matrix under 5 s: {'yes' if cmd_s < 5 else 'NO'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
