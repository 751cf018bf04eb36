"""The agent's footprint: zipapp size, time to ready (hello), idle memory.

Method: build the zipapp, then N times start `PYTHON netcheck-agent-*.pyz` as a
process with pipes for stdin/stdout (as the SSH transport does), time from spawn
until its hello line arrives, read its RSS from /proc after an idle second, then
close stdin and time its exit (it must exit by itself when its channel closes).
The zipapp extracts itself once into a per-user cache (here a fresh temporary
directory per interpreter, via NETCHECK_AGENT_CACHE_DIR): "cold" is the first
start after clearing that cache (extract + compile), "warm" the median of the
later ones (bytecode cached). Peer for comparison: the bare interpreter
(`PYTHON -c pass`), so the figure says how much of the start-up is the agent's own.

Usage: python benchmarks/bench_agent_footprint.py [--runs 10] [--python PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from netcheck_agent.zipapp_build import build_zipapp


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one_run(python: str, pyz: Path, cache: Path) -> tuple[float, int, float]:
    env = dict(os.environ, NETCHECK_AGENT_CACHE_DIR=str(cache))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [python, str(pyz)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    assert proc.stdout and proc.stdin
    line = proc.stdout.readline()
    ready = time.perf_counter() - t0
    hello = json.loads(line)
    assert hello["type"] == "hello", hello
    time.sleep(1.0)
    rss = rss_kib(proc.pid)
    t1 = time.perf_counter()
    proc.stdin.close()
    proc.wait(timeout=10)
    exited = time.perf_counter() - t1
    return ready, rss, exited


def bare(python: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([python, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--python", action="append", default=[])
    args = ap.parse_args()
    pythons = args.python or [sys.executable]
    with tempfile.TemporaryDirectory() as tmp:
        pyz = build_zipapp(Path(tmp))
        print(f"zipapp: {pyz.name}, {pyz.stat().st_size / 1024:.1f} KiB (limit 200 KiB)")
        for n, python in enumerate(pythons):
            cache = Path(tmp) / f"cache{n}"  # empty: the first run is cold
            runs = [one_run(python, pyz, cache) for _ in range(max(2, args.runs + 1))]
            cold = runs[0][0] * 1000
            warm = runs[1:]
            ready = statistics.median(r[0] for r in warm) * 1000
            rss = statistics.median(r[1] for r in warm) / 1024
            exit_ms = statistics.median(r[2] for r in warm) * 1000
            base = statistics.median(bare(python) for _ in range(args.runs)) * 1000
            version = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
            print(
                f"{version}: ready warm {ready:.0f} ms, cold {cold:.0f} ms (bare interpreter "
                f"{base:.0f} ms, limit 300 ms); idle RSS {rss:.1f} MiB (limit 30 MiB); "
                f"exit after channel close {exit_ms:.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
