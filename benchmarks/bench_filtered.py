"""Filtered cells: do their timeouts overlap, or queue in waves?

Method: a network namespace of the benchmark's own (`ncf-bench`, loopback only inside
it), the VMS-VM failback matrix of bench_sweep_vs_nmap (≥ 5,000 cells, 1 attempt
each), a listener process in the namespace accepting on every destination, and an
nftables rule in the namespace that silently drops the SYNs of PCT % of the cells
(every tenth VM's peer port, plus as many more as needed): those cells can only time
out. netcheck runs inside the namespace with `--timeout-ms TIMEOUT --samples 1` and
the defaults otherwise; the figure is the JSON report's `probes_s` divided by one
timeout (1.0 = every timeout overlapped; 2.4 = they queued in waves) and the
report's `queuing` entries. `--concurrency N` repeats the run with an explicit
limit for comparison. Root, Linux. Runs RUNS times; medians.

Usage: sudo python benchmarks/bench_filtered.py [--vms 1000] [--runs 5]
       [--timeout-ms 1000] [--pct 10] [--concurrency 256]
Traffic: only inside the namespace this script creates (its loopback); it deletes
the namespace at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sweep_vs_nmap import LISTENER_CODE, write_topology

NS = "ncf-bench"


def sh(*cmd: str, stdin: str | None = None) -> str:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc.stdout


def sweep(topology: Path, out: Path, timeout_ms: int, extra: list[str]) -> dict[str, object]:
    cmd = [
        *("ip", "netns", "exec", NS, sys.executable, "-m", "netcheck", "sweep", str(topology)),
        *("--format", "json", "-o", str(out), "--no-store", "--no-diagnose", "--no-progress"),
        *("--samples", "1", "--timeout-ms", str(timeout_ms), *extra),
    ]
    # bytecode cached, as installed (see bench_sweep_vs_nmap.run_netcheck)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"netcheck sweep failed ({proc.returncode}): {proc.stderr[-2000:]}")
    doc: dict[str, object] = json.loads(out.read_text())
    return doc


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--vms", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout-ms", type=int, default=1000)
    ap.add_argument("--pct", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=256, help="the explicit limit compared")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (a network namespace and nftables)")
    from netcheck.plan import build_plan
    from netcheck.topology import load_topology

    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    sh("ip", "netns", "add", NS)
    listener = None
    try:
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        with tempfile.TemporaryDirectory() as tmp:
            topo = Path(tmp) / "bench.yaml"
            write_topology(topo, args.vms)
            plan = build_plan(load_topology(topo))
            specs = plan.specs
            want = round(len(specs) * args.pct / 100)
            # drop whole (address, port) destinations until PCT % of the cells are hit
            by_dest: dict[tuple[str, int], int] = {}
            for s in specs:
                by_dest[(s.dest_address, s.port)] = by_dest.get((s.dest_address, s.port), 0) + 1
            dropped, hit = [], 0
            for dest, n in sorted(by_dest.items(), key=lambda x: (x[0][1] != 20004, x[0])):
                if hit >= want:
                    break
                if n <= want - hit:
                    dropped.append(dest)
                    hit += n
            rules = "\n".join(f"add element inet ncf drop4 {{ {a} . {p} }}" for a, p in dropped)
            sh(
                "ip",
                "netns",
                "exec",
                NS,
                "nft",
                "-f",
                "-",
                stdin=(
                    "table inet ncf {\n"
                    "  set drop4 { type ipv4_addr . inet_service; }\n"
                    "  chain in { type filter hook input priority 0; "
                    "tcp flags syn ip daddr . tcp dport @drop4 drop; }\n"
                    "}\n" + rules + "\n"
                ),
            )
            listener = subprocess.Popen(
                ["ip", "netns", "exec", NS, sys.executable, "-c", LISTENER_CODE, "1800"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert listener.stdin and listener.stdout
            targets = sorted(by_dest)
            listener.stdin.write("".join(f"{a} {p}\n" for a, p in targets) + "\n")
            listener.stdin.flush()
            if listener.stdout.readline().strip() != "ready":
                raise SystemExit("listener failed")
            out = Path(tmp) / "r.json"
            default, limited = [], []
            for i in range(args.runs):
                for which in ("default", "limited") if i % 2 == 0 else ("limited", "default"):
                    extra = [] if which == "default" else ["--concurrency", str(args.concurrency)]
                    doc = sweep(topo, out, args.timeout_ms, extra)
                    cells = doc["cells"]
                    assert isinstance(cells, list)
                    filtered = sum(1 for c in cells if c["verdict"] == "filtered")
                    if filtered != hit:
                        raise SystemExit(f"{filtered} cells filtered, {hit} dropped")
                    phases = doc["phases_s"]
                    assert isinstance(phases, dict)
                    ratio = phases["probes_s"] / (args.timeout_ms / 1000)
                    (default if which == "default" else limited).append((ratio, doc["queuing"]))
    finally:
        if listener is not None:
            listener.terminate()
            listener.wait(10)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    med = statistics.median
    print(
        f"plan: {len(specs)} cells, {hit} filtered ({100 * hit / len(specs):.1f} %), "
        f"timeout {args.timeout_ms} ms, 1 attempt each"
    )
    for name, runs in (("defaults", default), (f"--concurrency {args.concurrency}", limited)):
        ratios = [r for r, _ in runs]
        print(
            f"{name:>20}: probe phase = {med(ratios):.2f} x one timeout "
            f"(runs {[round(r, 2) for r in ratios]}); queuing: {runs[-1][1]}"
        )
    print(f"median of {args.runs} alternating runs; load average before: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
