"""What storing costs a sweep: the store observer's time per result, and a real demo sweep
with and without the store.

1. Observer cost: a plan of ~39,000 cells (800 protected VMs in replication groups of
   50, the most a group holds is 64: every VM probes every other VM of its group on TCP
   20004) with crafted results (3 samples each), fed
   through `StoreObserver` as `run_sweep` would, into a fresh database file. The peer is
   the same loop through a no-op `SweepObserver`, and through the JSON report renderer
   (what a sweep without the store already pays to print its result).
2. Real sweeps: `topologies/local-demo.yaml` run in-process (local agents, loopback),
   alternately with and without the store, N times each; median wall time.

Usage: python benchmarks/bench_store.py [--vms 800] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from netcheck.plan import build_plan
from netcheck.report.json_report import render_json
from netcheck.result.cells import CellResult, CellStatus, Outcome, Sample
from netcheck.result.events import SweepObserver
from netcheck.result.model import SweepResult
from netcheck.store import StoreObserver
from netcheck.sweep import run_sweep
from netcheck.topology import load_topology, load_topology_text

ROOT = Path(__file__).resolve().parent.parent


GROUP = 50  # VMs per replication group (the loader caps a group at 64)


def big_topology(vms: int) -> str:
    hosts = "\n".join(
        f"  vm{i:04d}: {{site: azure, roles: [protected_vm], groups: [g{i // GROUP}], "
        f"address: 127.0.{4 + i // 250}.{1 + i % 250}}}"
        for i in range(vms)
    )
    return (
        "version: 1\nname: store-bench\ndefaults: {agent: {transport: local}}\n"
        "sites:\n  azure: {networks: {vnet: 127.0.0.0/8}}\nhosts:\n" + hosts + "\n"
    )


def observer_cost(vms: int) -> None:
    text = big_topology(vms)
    plan = build_plan(load_topology_text(text, "store-bench.yaml"))
    samples = tuple(
        Sample(Outcome.OPEN, rtt_us=80 + i, rtt_source="tcp_info", proven=True, t=1.7e9 + i)
        for i in range(3)
    )
    results = [CellResult(s, CellStatus.MEASURED, samples) for s in plan.specs]
    sweep = SweepResult("bench", plan, tuple(results), (), (), 1.7e9, 1.7e9 + 1)

    async def feed_in_loop(obs: SweepObserver) -> float:  # as in run_sweep: inside the loop
        t0 = time.perf_counter()
        obs.on_start(plan, "bench")
        for r in results:
            obs.on_result(r)
        obs.on_finish(sweep)
        return time.perf_counter() - t0

    def feed(obs: SweepObserver) -> float:
        return asyncio.run(feed_in_loop(obs))

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        noop = feed(SweepObserver())
        stored = feed(StoreObserver(db, warn=print, topology_text=text))
        size = db.stat().st_size
    t0 = time.perf_counter()
    render_json(sweep)
    json_s = time.perf_counter() - t0
    n = len(results)
    print(f"observer: {n} cells, 3 samples each")
    print(f"  no-op observer     {noop * 1e6 / n:8.2f} µs/result")
    print(
        f"  StoreObserver      {stored * 1e6 / n:8.2f} µs/result  ({stored:.2f} s total, "
        f"database {size / 1e6:.1f} MB, {size / n:.0f} B/cell)"
    )
    print(
        f"  render_json (peer) {json_s * 1e6 / n:8.2f} µs/cell    "
        f"(store / json = {stored / json_s:.2f}x)"
    )


def demo_sweeps(runs: int) -> None:
    plan = build_plan(load_topology(ROOT / "topologies" / "local-demo.yaml"))
    from netcheck.transports.local import LocalTransport

    async def once(store: bool, db: Path) -> float:
        obs = StoreObserver(db, warn=print) if store else None
        t0 = time.perf_counter()
        await run_sweep(plan, {"local": LocalTransport()}, observer=obs)
        return time.perf_counter() - t0

    with_store: list[float] = []
    without: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        for _ in range(runs):
            without.append(asyncio.run(once(False, db)))
            with_store.append(asyncio.run(once(True, db)))
    a, b = statistics.median(without), statistics.median(with_store)
    print(f"demo sweep ({len(plan.specs)} cells), median of {runs}:")
    print(f"  without store {a * 1000:7.1f} ms")
    print(f"  with store    {b * 1000:7.1f} ms  (ratio {b / a:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vms", type=int, default=800)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    observer_cost(args.vms)
    demo_sweeps(args.runs)


if __name__ == "__main__":
    main()
