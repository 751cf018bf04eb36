"""Whole `netcheck sweep` against whole `nmap -sT`, on loopback, on equal work.

Method (one listener process for both tools, alternating order, medians):
1. Generate a topology: VMS protected VMs on 127.1.0.0/16 in replication groups of
   four, a configuration server, a process server, a master target and vCenter on
   127.0.20.0/24 (a range no test topology uses). Each VM has five cells (→ CS 443,
   → PS 9443, → three group peers 20004), plus the CS/PS/MT cells: ≥ 5,000 cells.
   Documented ports below 1024 are remapped (443 → 10443) so no root is needed.
2. nmap cannot be given (address, port) pairs, only addresses × ports. So the
   listener process listens on **every** address × port of the plan (all open) and
   counts each connect it accepts: nmap scans exactly those (1,004 × 3 = 3,012 at
   1,000 VMs), netcheck probes its cells (5,005), each from its own source address;
   both counts are printed. Responders are off, so both tools complete plain TCP
   handshakes.
3. netcheck: `netcheck sweep T --format json -o /dev/null --no-store --no-diagnose
   --no-progress` as a process (interpreter start-up, imports, topology load, plan,
   sweep and rendering included), 1 attempt per cell, its bytecode cached as an
   installed package has it (the script unsets PYTHONDONTWRITEBYTECODE for it; one
   settling run first writes the cache).
4. nmap: `nmap -sT -n -Pn -T5 --max-retries 0 -p PORTS -iL ADDRESSES -oG -` as a
   process.
5. The ratio is rate over rate (connects per second of netcheck / of nmap): ≥ 1.0
   means netcheck is as fast.
6. A floor for Python: the same 5,005 (source, destination, port) connects made by a
   25-line stdlib script (`FLOOR_CODE`: read the triples, bind, connect, wait with
   epoll, write a JSON line per cell), as one process and as two (half the triples
   each, both cores). No topology, plan, verdict or report: what any Python
   implementation of this sweep pays at least. A breakdown of netcheck's own time (from its JSON
   `phases_s` and a separate in-process run) is printed below, never as the headline.

Usage: python benchmarks/bench_sweep_vs_nmap.py [--vms 1000] [--runs 5]
Traffic: loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GROUP = 4


def vm_address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def write_topology(path: Path, vms: int) -> None:
    lines = [
        "version: 1",
        "name: bench-1000-vms",
        "ports: {remap: {443: 10443}}",
        "defaults: {agent: {transport: local, responders: false}}",
        "sweep: {samples: 1, interval_ms: 0, timeout_ms: 2000}",
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


# Listens on every (address, port) given on stdin; accepts and closes; on a line
# "count" on its stdin it prints how many it accepted since the last count.
LISTENER_CODE = r"""
import selectors, socket, sys, time
lines = iter(sys.stdin.readline, "")
targets = []
for line in lines:
    if not line.strip():
        break
    addr, port = line.split()
    targets.append((addr, int(port)))
sel = selectors.DefaultSelector()
for addr, port in targets:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4096)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, "listener")
sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
print("ready", flush=True)
accepted = 0
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    for key, _ in sel.select(0.2):
        if key.data == "stdin":
            cmd = sys.stdin.readline()
            if not cmd:
                sys.exit(0)
            # drain what is still queued before answering
            for k2, _ in sel.select(0.05):
                if k2.data == "listener":
                    try:
                        for _ in range(100000):
                            k2.fileobj.accept()[0].close()
                            accepted += 1
                    except BlockingIOError:
                        pass
            print(accepted, flush=True)
            accepted = 0
            continue
        try:
            for _ in range(4096):
                c, _ = key.fileobj.accept()
                c.close()
                accepted += 1
        except BlockingIOError:
            pass
"""


# The least a Python process can do for the same connects (see step 6 above).
FLOOR_CODE = r"""
import errno, json, select, socket, sys, time
triples = [line.split() for line in open(sys.argv[1])][int(sys.argv[3])::int(sys.argv[4])]
ep = select.epoll()
pending, results = {}, []
for src, dst, port in triples:
    s = socket.socket()
    s.setblocking(False)
    s.bind((src, 0))
    t = time.perf_counter()
    rc = s.connect_ex((dst, int(port)))
    if rc == 0:
        results.append((src, dst, port, 0, time.perf_counter() - t))
        s.close()
    else:
        ep.register(s.fileno(), select.EPOLLOUT)
        pending[s.fileno()] = (s, src, dst, port, t)
deadline = time.monotonic() + 10
while pending and time.monotonic() < deadline:
    for fd, _ in ep.poll(1.0):
        s, src, dst, port, t = pending.pop(fd)
        ep.unregister(fd)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        results.append((src, dst, port, err, time.perf_counter() - t))
        s.close()
with open(sys.argv[2], "w") as out:
    for src, dst, port, err, rtt in results:
        state = "open" if err == 0 else errno.errorcode.get(err, str(err))
        out.write(json.dumps({"source": src, "dest": dst, "port": int(port),
                              "state": state, "rtt_ms": round(rtt * 1000, 3)}) + "\n")
sys.exit(0 if len(results) == len(triples) else 1)
"""


class Listeners:
    def __init__(self, targets: list[tuple[str, int]], lifetime_s: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LISTENER_CODE, str(lifetime_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("".join(f"{a} {p}\n" for a, p in targets) + "\n")
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("listener process failed")

    def count(self) -> int:
        assert self.proc.stdin and self.proc.stdout
        time.sleep(0.3)  # let the last connects land in the accept queues
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run_netcheck(topology: Path, out: Path) -> float:
    cmd = [
        *(sys.executable, "-m", "netcheck", "sweep", str(topology)),
        *("--format", "json", "-o", str(out), "--no-store", "--no-diagnose", "--no-progress"),
    ]
    # with its bytecode cached, as `pip install` leaves it, even where the environment
    # says PYTHONDONTWRITEBYTECODE (this one does): else every run compiles ~300 modules
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"netcheck sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took


def run_floor(triples: Path, out: Path, procs: int) -> float:
    """FLOOR_CODE over the triples, split across `procs` processes; wall seconds."""
    t0 = time.perf_counter()
    running = [
        subprocess.Popen(
            [sys.executable, "-c", FLOOR_CODE, str(triples), f"{out}.{i}", str(i), str(procs)]
        )
        for i in range(procs)
    ]
    codes = [p.wait(60) for p in running]
    took = time.perf_counter() - t0
    if any(codes):
        raise SystemExit(f"the Python floor failed: exit codes {codes}")
    return took


def run_nmap(target_file: str, ports: list[int]) -> tuple[float, int]:
    cmd = [
        *("nmap", "-sT", "-n", "-Pn", "-T5", "--max-retries", "0"),
        *("-p", ",".join(map(str, ports)), "-iL", target_file, "-oG", "-"),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"nmap failed: {proc.stderr}")
    return took, proc.stdout.count("/open/tcp/")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if shutil.which("nmap") is None:
        raise SystemExit("nmap is not installed (apt-get install nmap)")
    import json

    from netcheck.plan import build_plan
    from netcheck.topology import load_topology

    with tempfile.TemporaryDirectory() as tmp:
        topo_path = Path(tmp) / "bench.yaml"
        write_topology(topo_path, args.vms)
        plan = build_plan(load_topology(topo_path))
        cells = len(plan.specs)
        addresses = sorted({s.dest_address for s in plan.specs})
        ports = sorted({s.port for s in plan.specs})
        target_file = Path(tmp) / "targets.txt"
        target_file.write_text("\n".join(addresses) + "\n")
        listeners = Listeners([(a, p) for a in addresses for p in ports], lifetime_s=1800)
        report = Path(tmp) / "report.json"
        triples = Path(tmp) / "triples.txt"
        triples.write_text(
            "".join(f"{s.source_address} {s.dest_address} {s.port}\n" for s in plan.specs)
        )
        floor_out = Path(tmp) / "floor.jsonl"
        nc_s, nm_s, nc_conn, nm_conn, phases = [], [], [], [], []
        floor_s: dict[int, list[float]] = {1: [], 2: []}
        floor_conn: dict[int, list[int]] = {1: [], 2: []}
        try:
            run_netcheck(topo_path, report)  # settle: the bytecode cache, the page cache
            listeners.count()
            for i in range(args.runs):
                tools = ["netcheck", "nmap", "floor1", "floor2"]
                order = tools if i % 2 == 0 else tools[::-1]
                for tool in order:
                    if tool == "netcheck":
                        nc_s.append(run_netcheck(topo_path, report))
                        nc_conn.append(listeners.count())
                        doc = json.loads(report.read_text())
                        if doc["summary"]["passed"] != cells:
                            raise SystemExit(f"netcheck: {doc['summary']} (all should pass)")
                        phases.append(doc["phases_s"])
                    elif tool == "nmap":
                        took, opened = run_nmap(str(target_file), ports)
                        nm_s.append(took)
                        nm_conn.append(listeners.count())
                        if opened != len(addresses) * len(ports):
                            raise SystemExit(f"nmap saw {opened} open ports")
                    else:
                        procs = int(tool[-1])
                        floor_s[procs].append(run_floor(triples, floor_out, procs))
                        floor_conn[procs].append(listeners.count())
        finally:
            listeners.close()
    med = statistics.median
    nc_rate = med(nc_conn) / med(nc_s)
    nm_rate = med(nm_conn) / med(nm_s)
    print(
        f"plan: {args.vms} VMs, {cells} cells; nmap: {len(addresses)} addresses x {len(ports)} ports"
    )
    print(f"connects counted by the listener: netcheck {nc_conn}, nmap {nm_conn}")
    print(
        f"netcheck sweep (whole process): {med(nc_s):6.3f} s {nc_rate:8.0f} connects/s  runs {[round(x, 3) for x in nc_s]}"
    )
    print(
        f"nmap -sT -T5 (whole process):   {med(nm_s):6.3f} s {nm_rate:8.0f} connects/s  runs {[round(x, 3) for x in nm_s]}"
    )
    print(f"ratio netcheck / nmap (rate, whole process): {nc_rate / nm_rate:.2f}")
    for procs in (1, 2):
        fl_rate = med(floor_conn[procs]) / med(floor_s[procs])
        print(
            f"Python floor, {procs} process(es): {med(floor_s[procs]):6.3f} s {fl_rate:8.0f} "
            f"connects/s  connects {floor_conn[procs]}  ratio to nmap {fl_rate / nm_rate:.2f}"
        )
    keys = sorted({k for p in phases for k in p})
    print(
        "netcheck phases (median s): "
        + ", ".join(f"{k} {med([p.get(k, 0) for p in phases]):.3f}" for k in keys)
    )
    print(f"median of {args.runs} alternating runs; load average before: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
