"""The failback lab, built for real: reachability, path MTU, ExpressRoute, faults, sshd.

Every packet is sent from inside a lab namespace to a lab address; every
ping, connect and listener is bounded.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netcheck.lab import Lab, LabState, lab_down, lab_exec, lab_fault, lab_spawn, lab_status, lab_up

pytestmark = pytest.mark.lab

AZURE = ("vm-app01", "vm-app02", "ps-azure")
ONPREM = ("cs01", "mt01", "vcenter", "esxi01", "mgmt")

LISTENER = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    try:
        s.accept()[0].close()
    except socket.timeout:
        pass
"""

# Accepts connections and reads each to EOF, so a sender can time a delivery.
SINK = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(8)
s.settimeout(0.2)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    try:
        c = s.accept()[0]
    except socket.timeout:
        continue
    c.settimeout(10)
    while c.recv(65536):
        pass
    c.close()
"""

# Sends N bytes and waits for the sink to close: prints the elapsed seconds.
SEND = """
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
start = time.monotonic()
c.sendall(b"x" * int(sys.argv[3]))
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
print(time.monotonic() - start)
"""

CONNECT = """
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("ok")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"""


def target(src: str, dst: str) -> str:
    """The NIC of `dst` a flow from `src` aims at: Azure reaches cs01 on its failback NIC."""
    if dst == "cs01" and src in AZURE:
        return "198.18.3.10"
    return {
        "vm-app01": "198.19.1.10",
        "vm-app02": "198.19.1.11",
        "ps-azure": "198.19.1.4",
        "cs01": "198.18.2.10",
        "mt01": "198.18.2.20",
        "vcenter": "198.18.2.30",
        "esxi01": "198.18.2.31",
        "mgmt": "198.18.2.100",
    }[dst]


def ping(lab: Lab, src: str, dst: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return lab_exec(
        lab,
        src,
        ["ping", "-n", "-c", "1", "-W", "1", *extra, dst],
        capture_output=True,
        text=True,
        timeout=5,
    )


def route_get(lab: Lab, ns: str, dst: str) -> str:
    out = lab_exec(lab, ns, ["ip", "route", "get", dst], capture_output=True, text=True, check=True)
    return str(out.stdout)


def connect(lab: Lab, src: str, addr: str, port: int, timeout: float = 1.5) -> str:
    proc = lab_exec(
        lab,
        src,
        [sys.executable, "-c", CONNECT, addr, str(port), str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
    )
    return str(proc.stdout).strip() or f"error: {proc.stderr.strip()}"


@pytest.fixture
def listener(lab: Lab) -> Iterator[object]:
    """Start a TCP listener (20 s at most) inside a namespace; stopped after the test."""
    procs: list[subprocess.Popen[str]] = []

    def start(host: str, addr: str, port: int, script: str = LISTENER) -> None:
        proc = lab_spawn(
            lab,
            host,
            [sys.executable, "-c", script, addr, str(port), "20"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=5), f"listener on {host} {addr}:{port} did not start"
        line = proc.stdout.readline().strip()
        assert line == "ready", (
            f"listener on {host}: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=5)


def test_every_host_reaches_every_other(lab: Lab, lab_state: LabState) -> None:
    failed = [
        f"{src} -> {dst} ({target(src, dst)})"
        for src in AZURE + ONPREM
        for dst in AZURE + ONPREM
        if src != dst and ping(lab, src, target(src, dst)).returncode != 0
    ]
    assert failed == []


def test_the_wrong_cs_nic_is_unreachable(lab: Lab, lab_state: LabState) -> None:
    # cs01 answers Azure from its failback NIC, so with strict rp_filter a
    # flow that targets the source NIC from Azure (or the failback NIC from
    # the LAN) dies: exactly what the dual-NIC rule is about.
    assert ping(lab, "vm-app01", "198.18.2.10").returncode != 0
    assert ping(lab, "mgmt", "198.18.3.10").returncode != 0


def test_vpn_path_mtu_is_1400(lab: Lab, lab_state: LabState) -> None:
    lab_exec(lab, "vm-app01", ["ip", "route", "flush", "cache"], check=True)
    assert ping(lab, "vm-app01", "198.18.2.20", "-M", "do", "-s", "1372").returncode == 0
    too_big = ping(lab, "vm-app01", "198.18.2.20", "-M", "do", "-s", "1373")
    assert too_big.returncode != 0
    assert "1400" in too_big.stdout + too_big.stderr  # "Frag needed ... (mtu = 1400)"


def test_vpn_is_shaped_and_expressroute_is_not(lab: Lab, lab_state: LabState) -> None:
    for dev in ("azure", "onprem"):
        vpn = lab_exec(lab, "vpn-rtr", ["tc", "qdisc", "show", "dev", dev], capture_output=True)
        assert b"tbf" in vpn.stdout and b"rate 100Mbit" in vpn.stdout
        er = lab_exec(lab, "er-rtr", ["tc", "qdisc", "show", "dev", dev], capture_output=True)
        assert b"tbf" not in er.stdout


def test_expressroute_switch_moves_both_directions(lab: Lab, lab_state: LabState) -> None:
    assert "via 198.18.200.2 dev vpn" in route_get(lab, "azure-gw", "198.18.2.20")
    assert "via 198.18.200.5 dev vpn" in route_get(lab, "onprem-gw", "198.19.1.10")
    lab_fault(lab, "route_via_expressroute", on=True)
    try:
        assert lab_status(lab, lab_state.state_dir).faults_on == ("route_via_expressroute",)
        assert "via 198.18.201.2 dev er" in route_get(lab, "azure-gw", "198.18.2.20")
        assert "via 198.18.201.5 dev er" in route_get(lab, "onprem-gw", "198.19.1.10")
        # The full 1500 bytes pass now: no tunnel on this path.
        assert ping(lab, "vm-app01", "198.18.2.20", "-M", "do", "-s", "1472").returncode == 0
        assert ping(lab, "ps-azure", "198.18.3.10").returncode == 0
    finally:
        lab_fault(lab, "route_via_expressroute", on=False)
    assert "via 198.18.200.2 dev vpn" in route_get(lab, "azure-gw", "198.18.2.20")
    assert lab_status(lab, lab_state.state_dir).faults_on == ()


def mbit_per_s(lab: Lab, src: str, addr: str, port: int, size: int) -> float:
    proc = lab_exec(
        lab,
        src,
        [sys.executable, "-c", SEND, addr, str(port), str(size)],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return size * 8 / float(proc.stdout) / 1e6


def test_the_vpn_caps_throughput_and_expressroute_does_not(
    lab: Lab, lab_state: LabState, listener: object
) -> None:
    listener("mt01", "198.18.2.20", 9443, SINK)  # type: ignore[operator]
    size = 3_000_000  # 0.24 s at the VPN's 100 Mbit/s
    vpn = mbit_per_s(lab, "ps-azure", "198.18.2.20", 9443, size)
    assert 20 < vpn < 115, f"VPN carried {vpn:.0f} Mbit/s, shaped to 100"
    lab_fault(lab, "route_via_expressroute", on=True)
    try:
        er = mbit_per_s(lab, "ps-azure", "198.18.2.20", 9443, size)
    finally:
        lab_fault(lab, "route_via_expressroute", on=False)
    assert er > 2 * vpn, f"ExpressRoute {er:.0f} Mbit/s vs VPN {vpn:.0f} Mbit/s"


@pytest.mark.parametrize(
    ("fault", "src", "dst", "addr", "port", "outcome"),
    [
        ("vpn_drops_replication", "ps-azure", "mt01", "198.18.2.20", 9443, "timeout"),
        ("cs_https_reset", "vm-app01", "cs01", "198.18.3.10", 443, "ECONNREFUSED"),
        ("ps_cs_prohibited", "ps-azure", "cs01", "198.18.3.10", 443, "EHOSTUNREACH"),
    ],
)
def test_fault_gives_its_behaviour(
    lab: Lab,
    lab_state: LabState,
    listener: object,
    fault: str,
    src: str,
    dst: str,
    addr: str,
    port: int,
    outcome: str,
) -> None:
    listener(dst, addr, port)  # type: ignore[operator]
    assert connect(lab, src, addr, port) == "ok"
    lab_fault(lab, fault, on=True)
    try:
        assert connect(lab, src, addr, port) == outcome
    finally:
        lab_fault(lab, fault, on=False)
    assert connect(lab, src, addr, port) == "ok"


def _ssh(
    lab: Lab, state: LabState, addr: str, known_hosts: Path
) -> subprocess.CompletedProcess[str]:
    return lab_exec(
        lab,
        "mgmt",
        [
            *("ssh", "-i", str(state.client_key), "-o", f"UserKnownHostsFile={known_hosts}"),
            *("-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"),
            *("-o", "ConnectTimeout=5", "-o", "GlobalKnownHostsFile=/dev/null"),
            f"root@{addr}",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=15,
    )


def test_sshd_answers_on_every_host_with_strict_host_keys(lab: Lab, lab_state: LabState) -> None:
    # All at once, as the coordinator will log in.
    with ThreadPoolExecutor(max_workers=8) as pool:
        procs = dict(
            zip(
                AZURE + ONPREM,
                pool.map(
                    lambda h: _ssh(lab, lab_state, target("mgmt", h), lab_state.known_hosts),
                    AZURE + ONPREM,
                ),
            )
        )
    assert {h: p.stderr.strip() for h, p in procs.items() if p.returncode != 0} == {}
    # Azure hosts are reached from mgmt across the VPN, like a real admin.
    assert "dev vpn" in route_get(lab, "onprem-gw", "198.19.1.10")
    by_config = lab_exec(
        lab, "mgmt", ["ssh", "-F", str(lab_state.ssh_config), "ps-azure", "true"], timeout=15
    )
    assert by_config.returncode == 0


def test_a_wrong_host_key_is_refused(lab: Lab, lab_state: LabState, tmp_path: Path) -> None:
    lines = lab_state.known_hosts.read_text().splitlines()
    keys = {line.split()[0].split(",")[0]: line.split(None, 1)[1] for line in lines}
    forged = tmp_path / "known_hosts"
    forged.write_text(f"198.19.1.10 {keys['vm-app02']}\n")
    proc = _ssh(lab, lab_state, "198.19.1.10", forged)
    assert proc.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stderr


def test_state_dir_describes_the_lab(lab: Lab, lab_state: LabState) -> None:
    sdir = lab_state.state_dir
    for name in ("known_hosts", "id_ed25519", "id_ed25519.pub", "lab.json", "ssh_config"):
        assert (sdir / name).is_file(), name
    assert oct((sdir / "id_ed25519").stat().st_mode & 0o777) == "0o600"
    info = json.loads((sdir / "lab.json").read_text())
    assert info["namespaces"]["cs01"]["addresses"] == ["198.18.2.10/24", "198.18.3.10/24"]
    assert info["namespaces"]["cs01"]["netns"] == lab.netns("cs01")
    for host in AZURE + ONPREM:
        pid = info["namespaces"][host]["sshd_pid"]
        assert b"sshd" in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert lab_status(lab, sdir).up


def _lab_sshd_pids(state_dir: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"sshd" in cmdline and str(state_dir).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def _netns_with_prefix(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.startswith(prefix)]


# Runs last in this file: it takes the session's lab down and builds it again.
def test_down_leaves_nothing_and_up_works_again(lab: Lab, lab_state: LabState) -> None:
    sdir = lab_state.state_dir
    assert _lab_sshd_pids(sdir)
    lab_down(lab, sdir)
    assert _netns_with_prefix(lab.prefix) == []
    assert _lab_sshd_pids(sdir) == []
    assert not sdir.exists()
    lab_down(lab, sdir)  # idempotent
    assert lab_status(lab, sdir).down

    again = lab_up(lab, state_dir=sdir)
    assert again.namespace("vm-app01").sshd_pid in _lab_sshd_pids(sdir)
    assert ping(lab, "vm-app01", target("vm-app01", "cs01")).returncode == 0
    assert os.path.exists(again.known_hosts)
