"""netcheck's bandwidth test side by side with iperf3, in the same run, on the same links.

Method:

- **Shaped link.** Builds its own failback lab (prefix `ncw-`, never the tests'
  `nct-` or a developer's `nc-`) once per rate (`--set vpn_rate=50mbit`, then
  200mbit: the VPN router's `tc tbf`), and measures process server → master
  target (198.19.1.4 → 198.18.2.20, across the VPN) with
  1. netcheck: two real agent processes (`python -m netcheck_agent`, stdio
     protocol as over SSH) started in the ps-azure and mt01 namespaces and
     driven through `netcheck.bandwidth.run_bandwidth_check`;
  2. iperf3: `iperf3 -s -1` in mt01, `iperf3 -c 198.18.2.20 -t D -J` in ps-azure;
     the figure is iperf3's receiver line (`end.sum_received`).
- **Loopback, unshaped.** The same two tools on 127.0.0.1: one stream
  (`iperf3 -P 1`) and four (`iperf3 -P 4`).
- **CPU.** Both sides of both tools: user+system time from /proc/PID/stat of
  the agent processes (all threads) across the test, and `wait4` rusage of the
  iperf3 client and server processes. Cost = CPU seconds per second of test per
  Gbit/s carried (cores per Gbit/s), sender + receiver.
- Runs alternate tool order, are repeated (`--repeats`, default 3) and the
  medians are reported; the load average and the machine's idle share during
  the runs are printed, since others' jobs share the 2 cores.

Traffic goes only to 127.0.0.1 and to lab namespaces this script creates.
Needs root (namespaces) for the lab part; `--no-lab` runs loopback only.

Usage: python benchmarks/bench_bandwidth_vs_iperf3.py [--duration 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netcheck.agentclient import AgentClient  # noqa: E402
from netcheck.bandwidth import run_bandwidth_check  # noqa: E402
from netcheck.lab import Lab, lab_down, lab_spawn, lab_up, load_lab  # noqa: E402
from netcheck.lab.commands import in_netns  # noqa: E402
from netcheck.topology import load_topology  # noqa: E402
from netcheck.topology.bandwidth import BandwidthCheck  # noqa: E402

LAB_FILE = ROOT / "topologies" / "lab" / "failback-lab.yaml"
LAB_TOPOLOGY = ROOT / "topologies" / "lab" / "failback-topology.yaml"
PREFIX = "ncw-"
SRC, DST = "198.19.1.4", "198.18.2.20"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (all threads)


def machine_idle() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return parts[3] + parts[4], sum(parts)


class ProcChannel:
    """An agent subprocess's stdin/stdout as an AgentChannel."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    async def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        await self.proc.stdin.drain()

    async def receive(self) -> bytes | None:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        return line or None

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def start_agent(netns: str | None, name: str) -> tuple[AgentClient, int]:
    argv = [sys.executable, "-m", "netcheck_agent", "--max-seconds", "600"]
    if netns is not None:
        argv = in_netns(netns, argv)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "agents"))
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    client = await AgentClient.connect(name, ProcChannel(proc))
    return client, proc.pid


@dataclasses.dataclass
class Figure:
    mbps: float
    cpu_s: float  # sender + receiver CPU seconds during the test
    seconds: float
    retrans: int | None = None

    @property
    def cores_per_gbit(self) -> float:
        return self.cpu_s / self.seconds / (self.mbps / 1000) if self.mbps else float("nan")


async def netcheck_run(
    topo: Any, src_ns: str | None, dst_ns: str | None, check: BandwidthCheck
) -> Figure:
    src, src_pid = await start_agent(src_ns, check.source)
    dst, dst_pid = await start_agent(dst_ns, check.dest)
    try:
        before = cpu_s(src_pid) + cpu_s(dst_pid)
        out = await run_bandwidth_check(topo, check, src, dst)
        used = cpu_s(src_pid) + cpu_s(dst_pid) - before
    finally:
        await src.close()
        await dst.close()
    if out.mbps is None or out.reason != "completed":
        raise RuntimeError(f"netcheck test failed: {out.status.value}: {out.reason}")
    return Figure(out.mbps, used, out.seconds, out.retransmits)


def _spawn(lab: Lab | None, host: str | None, argv: Sequence[str]) -> subprocess.Popen[str]:
    if lab is not None and host is not None:
        return lab_spawn(lab, host, list(argv), stdout=subprocess.PIPE, text=True)
    return subprocess.Popen(list(argv), stdout=subprocess.PIPE, text=True)


def _reap(proc: subprocess.Popen[str], timeout: float) -> tuple[str, float]:
    """Wait for `proc` (bounded) and return its stdout and CPU seconds (wait4 rusage)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.stdout.read(), ru.ru_utime + ru.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{proc.args} did not finish")
        time.sleep(0.05)


def iperf3_run(
    lab: Lab | None, src_host: str | None, dst_host: str | None,
    src: str, dst: str, port: int, duration: float, streams: int,
) -> Figure:  # fmt: skip
    server = _spawn(lab, dst_host, ["iperf3", "-s", "-1", "-B", dst, "-p", str(port)])
    time.sleep(0.5)  # let it listen
    client = _spawn(
        lab,
        src_host,
        ["iperf3", "-c", dst, "-B", src, "-p", str(port), "-t", f"{duration:g}",
         "-P", str(streams), "-J"],
    )  # fmt: skip
    out, client_cpu = _reap(client, duration + 30)
    _, server_cpu = _reap(server, 30)
    doc = json.loads(out)
    if "error" in doc:
        raise RuntimeError(f"iperf3: {doc['error']}")
    recv = doc["end"]["sum_received"]
    sent = doc["end"]["sum_sent"]
    return Figure(
        recv["bits_per_second"] / 1e6,
        client_cpu + server_cpu,
        recv["seconds"],
        sent.get("retransmits"),
    )


def median_figure(figs: list[Figure]) -> Figure:
    return Figure(
        statistics.median(f.mbps for f in figs),
        statistics.median(f.cpu_s for f in figs),
        statistics.median(f.seconds for f in figs),
    )


def compare(
    label: str, reps: int, run_nc: Any, run_ip: Any, shaped: float | None
) -> dict[str, Any]:
    nc: list[Figure] = []
    ip: list[Figure] = []
    idle0 = machine_idle()
    for i in range(reps):
        order = (("nc", run_nc), ("ip", run_ip)) if i % 2 == 0 else (("ip", run_ip), ("nc", run_nc))
        for name, fn in order:
            (nc if name == "nc" else ip).append(fn())
    idle1 = machine_idle()
    idle = (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1])
    n, p = median_figure(nc), median_figure(ip)
    row = {
        "case": label,
        "netcheck_mbps": round(n.mbps, 1),
        "iperf3_mbps": round(p.mbps, 1),
        "ratio": round(n.mbps / p.mbps, 4),
        "netcheck_runs": [round(f.mbps, 1) for f in nc],
        "iperf3_runs": [round(f.mbps, 1) for f in ip],
        "netcheck_cores_per_gbit": round(n.cores_per_gbit, 4),
        "iperf3_cores_per_gbit": round(p.cores_per_gbit, 4),
        "cpu_ratio": round(n.cores_per_gbit / p.cores_per_gbit, 3),
        "machine_idle_pct": round(100 * idle, 1),
        "loadavg": os.getloadavg()[0],
    }
    if shaped is not None:
        row["shaped_mbps"] = shaped
        row["netcheck_vs_shaped"] = round(n.mbps / shaped, 4)
        row["iperf3_vs_shaped"] = round(p.mbps / shaped, 4)
    print(json.dumps(row), flush=True)
    return row


def lab_part(rate: str, args: argparse.Namespace) -> dict[str, Any]:
    lab = dataclasses.replace(load_lab(LAB_FILE, params={"vpn_rate": rate}), prefix=PREFIX)
    state_dir = Path(tempfile.mkdtemp(prefix="ncw-state-"))
    topo = load_topology(LAB_TOPOLOGY)
    shaped = next(e.shape.rate_bit for lk in lab.links for e in lk.ends if e.shape) / 1e6
    lab_down(lab, state_dir)
    lab_up(lab, state_dir=state_dir)
    try:
        check = BandwidthCheck("ps-azure", "mt01", args.duration, args.streams)
        return compare(
            f"lab VPN tbf {rate}, {args.streams} stream(s), ps-azure -> mt01",
            args.repeats,
            lambda: asyncio.run(
                netcheck_run(topo, lab.netns("ps-azure"), lab.netns("mt01"), check)
            ),
            lambda: iperf3_run(
                lab, "ps-azure", "mt01", SRC, DST, 5201, args.duration, args.streams
            ),
            shaped,
        )
    finally:
        lab_down(lab, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


LOOP_TOPOLOGY = """\
version: 1
name: loop
sites: {a: {networks: {n: 127.0.0.0/8}}}
hosts:
  snd: {site: a, roles: [process_server], address: 127.0.0.1, agent: local}
  rcv: {site: a, roles: [master_target], address: 127.0.0.2, agent: local}
"""


def loopback_part(streams: int, args: argparse.Namespace) -> dict[str, Any]:
    from netcheck.topology import load_topology_text

    topo = load_topology_text(LOOP_TOPOLOGY, "loop.yaml")
    check = BandwidthCheck("snd", "rcv", args.loop_duration, streams)
    return compare(
        f"loopback, {streams} stream(s)",
        args.repeats,
        lambda: asyncio.run(netcheck_run(topo, None, None, check)),
        lambda: iperf3_run(
            None, None, None, "127.0.0.1", "127.0.0.2", 5299, args.loop_duration, streams
        ),
        None,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per lab test")
    ap.add_argument("--loop-duration", type=float, default=5.0, help="seconds per loopback test")
    ap.add_argument("--streams", type=int, default=1, help="streams on the shaped link")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rates", default="50mbit,200mbit")
    ap.add_argument("--no-lab", action="store_true")
    args = ap.parse_args()
    if shutil.which("iperf3") is None:
        print("iperf3 is not installed", file=sys.stderr)
        return 2
    print(f"# cores {os.cpu_count()}, load average at start {os.getloadavg()}", flush=True)
    rows = [loopback_part(1, args), loopback_part(4, args)]
    if not args.no_lab:
        rows += [lab_part(rate, args) for rate in args.rates.split(",")]
    print("\n# summary (medians)")
    for r in rows:
        extra = ""
        if "shaped_mbps" in r:
            extra = (
                f", vs shaped {r['shaped_mbps']:g}: netcheck {r['netcheck_vs_shaped']:.3f}, "
                f"iperf3 {r['iperf3_vs_shaped']:.3f}"
            )
        print(
            f"{r['case']}: netcheck {r['netcheck_mbps']:.1f} Mbit/s, iperf3 "
            f"{r['iperf3_mbps']:.1f} Mbit/s, ratio {r['ratio']:.3f}{extra}; CPU cores per "
            f"Gbit/s netcheck {r['netcheck_cores_per_gbit']:.3f} vs iperf3 "
            f"{r['iperf3_cores_per_gbit']:.3f} (x{r['cpu_ratio']:.2f}); machine idle "
            f"{r['machine_idle_pct']:.0f}%, load {r['loadavg']:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
