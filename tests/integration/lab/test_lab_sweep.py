"""Real multi-host sweeps over SSH in the failback lab.

The coordinator is the real CLI (`python -m netcheck sweep ... --format json`),
run inside the lab's management namespace (the admin workstation on the
on-premises LAN), so SSH and probes to the Azure side cross the lab's VPN.
Agents are uploaded to and started on every lab host by the SSH transport,
against each namespace's own sshd, with strict host-key checking.

Every packet goes to a lab address from inside a lab namespace; every wait is
bounded; every fault, stopped sshd and listener is undone in a `finally`.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netcheck.lab import Lab, LabState, lab_exec, lab_fault, lab_spawn
from netcheck.lab.commands import netns_pids
from netcheck.lab.sshd import host_dir, read_pid, start_sshd, stop_sshd
from tests.integration.lab.conftest import AGENT_PYTHON

pytestmark = pytest.mark.lab

TOPOLOGY = Path(__file__).resolve().parents[3] / "topologies" / "lab" / "failback-topology.yaml"
AZURE = {"vm-app01", "vm-app02", "ps-azure"}
AGENT_HOSTS = ("cs01", "mt01", "vcenter", "esxi01", "ps-azure", "vm-app01", "vm-app02")
SWEEP_TIMEOUT_S = 60

Report = dict[str, Any]


# --- helpers ------------------------------------------------------------------


def sweep(
    lab: Lab,
    state: LabState,
    topology: Path = TOPOLOGY,
    known_hosts: Path | None = None,
    *extra: str,
) -> tuple[int, Report]:
    """`netcheck sweep` in the mgmt namespace; (exit code, JSON report)."""
    proc = lab_exec(lab, "mgmt", sweep_argv(state, topology, known_hosts, *extra), **_PIPES)
    return proc.returncode, parse_report(proc)


def sweep_argv(
    state: LabState, topology: Path, known_hosts: Path | None = None, *extra: str
) -> list[str]:
    return [
        *(sys.executable, "-m", "netcheck", "sweep", str(topology)),
        *("--known-hosts", str(known_hosts or state.known_hosts)),
        *("-i", str(state.client_key), "--format", "json", "--no-progress", *extra),
    ]


_PIPES: dict[str, Any] = {"capture_output": True, "text": True, "timeout": SWEEP_TIMEOUT_S}


def parse_report(proc: Any) -> Report:
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    report: Report = json.loads(proc.stdout)
    assert report["schema"] == "netcheck.sweep"
    return report


def cells(report: Report) -> dict[str, Report]:
    return {c["cell_id"]: c for c in report["cells"]}


def agents(report: Report) -> dict[str, Report]:
    return {a["host"]: a for a in report["agents"]}


def failing(report: Report) -> dict[str, str]:
    return {
        c["cell_id"]: f"{c['verdict']}: {c['reason']}" for c in report["cells"] if not c["passed"]
    }


def agent_pids(lab: Lab, host: str) -> list[int]:
    """netcheck agents running in lab namespace `host` (found by namespace, not by name)."""
    found = []
    for pid in netns_pids(lab.netns(host)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"netcheck-agent" in cmdline and b"python" in cmdline:
            found.append(pid)
    return found


def assert_no_agents_left(lab: Lab, timeout: float = 5.0) -> None:
    """No agent (and so no responder: they live in the agent) on any lab namespace."""
    deadline = time.monotonic() + timeout
    while True:
        left = {ns.name: pids for ns in lab.namespaces if (pids := agent_pids(lab, ns.name))}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left == {}, f"netcheck-agent processes left behind: {left}"


def accepted(listener: subprocess.Popen[str]) -> int:
    """Stop a `listen` listener and return how many connections it accepted."""
    listener.kill()
    out, _ = listener.communicate(timeout=5)
    counts = [int(line) for line in out.split() if line.isdigit()]
    return max(counts, default=0)


def variant(tmp_path: Path, name: str, edit: Any) -> Path:
    """A copy of the lab topology with `edit(doc)` applied."""
    doc = yaml.safe_load(TOPOLOGY.read_text())
    edit(doc)
    out = tmp_path / f"{name}.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


@pytest.fixture
def listen(lab: Lab) -> Iterator[Any]:
    """A real TCP listener (not a netcheck responder) inside a lab host, 60 s at most."""
    procs: list[subprocess.Popen[str]] = []
    script = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64); s.settimeout(0.2)\n"
        "print('ready', flush=True)\n"
        "n = 0; end = time.monotonic() + 60\n"
        "while time.monotonic() < end:\n"
        "    try:\n"
        "        s.accept()[0].close(); n += 1\n"
        "        print(n, flush=True)\n"
        "    except socket.timeout:\n"
        "        pass\n"
    )

    def start(host: str, addr: str, port: int) -> subprocess.Popen[str]:
        proc = lab_spawn(
            lab,
            host,
            [sys.executable, "-c", script, addr, str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=5), f"listener on {host} {addr}:{port} did not start"
        assert proc.stdout.readline().strip() == "ready"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=5)


# --- the tests ------------------------------------------------------------------


def test_full_sweep_without_faults_is_go_and_proven(lab: Lab, lab_state: LabState) -> None:
    code, report = sweep(lab, lab_state)
    assert failing(report) == {}
    assert (code, report["verdict"], report["partial"]) == (0, "go", False)
    assert report["summary"]["cells"] == 13
    assert sorted(agents(report)) == sorted(AGENT_HOSTS)
    for a in report["agents"]:
        assert a["available"] and a["transport"] == "ssh", a
        assert a["pid"] and a["reason"] == ""
    # Every destination port had our responder, so every open is nonce-proven.
    assert {r["state"] for r in report["responders"]} == {"responder"}
    for c in report["cells"]:
        assert (c["status"], c["verdict"]) == ("measured", "open"), c["cell_id"]
        assert len(c["samples"]) == 3
        assert all(s["outcome"] == "open" and s["proven"] for s in c["samples"]), c
    # The dual-NIC rule: Azure reaches cs01 on its failback NIC, on-prem on its source NIC.
    to_cs01 = {
        (c["source_host"], c["dest_address"]) for c in report["cells"] if c["dest_host"] == "cs01"
    }
    assert to_cs01 == {
        ("vm-app01", "198.18.3.10"),
        ("vm-app02", "198.18.3.10"),
        ("ps-azure", "198.18.3.10"),
        ("mt01", "198.18.2.10"),
    }
    # Cross-site cells run over the declared VPN, from the right source addresses.
    for c in report["cells"]:
        crosses = (c["source_host"] in AZURE) != (c["dest_host"] in AZURE)
        assert c["path"] == ("s2s-vpn" if crosses else None), c["cell_id"]
    by_cell = cells(report)
    assert by_cell["cs01/source>vcenter/nic0:tcp/443"]["source_address"] == "198.18.2.10"
    assert by_cell["ps-azure/nic0>cs01/failback:tcp/443"]["source_address"] == "198.19.1.4"
    assert_no_agents_left(lab)


@pytest.mark.parametrize(
    ("fault", "hit", "verdict", "outcome", "errno", "detail"),
    [
        # nft drop on the VPN router: nothing comes back
        (
            "vpn_drops_replication",
            {"ps-azure/nic0>mt01/nic0:tcp/9443"},
            "filtered",
            "timeout",
            None,
            "no answer",
        ),
        # reject with TCP reset on the on-prem gateway, for all of Azure -> CS failback 443
        (
            "cs_https_reset",
            {
                "vm-app01/nic0>cs01/failback:tcp/443",
                "vm-app02/nic0>cs01/failback:tcp/443",
                "ps-azure/nic0>cs01/failback:tcp/443",
            },
            "refused",
            "refused",
            111,
            "ECONNREFUSED",
        ),
        # ICMP admin-prohibited (type 3 code 13): Linux reports EHOSTUNREACH to connect()
        (
            "ps_cs_prohibited",
            {"ps-azure/nic0>cs01/failback:tcp/443"},
            "unreachable",
            "unreachable",
            113,
            "EHOSTUNREACH",
        ),
    ],
)
def test_planted_fault_gives_its_verdict(
    lab: Lab,
    lab_state: LabState,
    fault: str,
    hit: set[str],
    verdict: str,
    outcome: str,
    errno: int | None,
    detail: str,
) -> None:
    lab_fault(lab, fault, on=True)
    try:
        code, report = sweep(lab, lab_state)
    finally:
        lab_fault(lab, fault, on=False)
    assert (code, report["verdict"]) == (1, "no-go")
    assert set(failing(report)) == hit
    for cell_id, c in cells(report).items():
        assert c["status"] == "measured", cell_id
        if cell_id not in hit:
            assert c["verdict"] == "open", cell_id
            continue
        assert c["verdict"] == verdict, c
        assert c["hint"], cell_id
        for s in c["samples"]:
            assert (s["outcome"], s["errno"], s["proven"]) == (outcome, errno, False), s
            assert detail in s["detail"], s
        if verdict == "unreachable":
            assert f"({detail})" in c["reason"] and "ICMP unreachable" in c["reason"]
    assert_no_agents_left(lab)


def test_wrong_replication_port_override_is_refused_on_the_real_port(
    lab: Lab, lab_state: LabState, tmp_path: Path, listen: Any
) -> None:
    # The process server and the master target really listen on 9443 (a service,
    # not our responder); the topology says the data port is 9444.
    def real_services(port: int) -> Any:
        def edit(doc: dict[str, Any]) -> None:
            doc["ports"]["replication_data"] = port
            for host in ("ps-azure", "mt01"):
                doc["hosts"][host]["agent"] = {
                    "transport": "ssh",
                    "user": "root",
                    "python": AGENT_PYTHON,
                    "responders": False,
                }

        return edit

    ps = listen("ps-azure", "198.19.1.4", 9443)
    mt = listen("mt01", "198.18.2.20", 9443)
    data_cells = {
        "vm-app01/nic0>ps-azure/nic0",
        "vm-app02/nic0>ps-azure/nic0",
        "ps-azure/nic0>mt01/nic0",
    }

    _, wrong = sweep(lab, lab_state, variant(tmp_path, "port-9444", real_services(9444)))
    assert wrong["verdict"] == "no-go"
    assert set(failing(wrong)) == {f"{c}:tcp/9444" for c in data_cells}
    for cell_id in failing(wrong):
        c = cells(wrong)[cell_id]
        assert (c["verdict"], c["port"], c["documented_port"]) == ("refused", 9444, 9444)
        assert "replication data port" in c["hint"]
        assert {s["outcome"] for s in c["samples"]} == {"refused"}
    none = {(r["host"], r["port"], r["state"]) for r in wrong["responders"] if r["port"] == 9444}
    assert none == {("ps-azure", 9444, "none"), ("mt01", 9444, "none")}

    # The same services, with the port the hosts really use: reachable (not
    # nonce-proven: it is their service that answers, not our responder).
    _, right = sweep(lab, lab_state, variant(tmp_path, "port-9443", real_services(9443)))
    assert failing(right) == {}
    for cell_id in (f"{c}:tcp/9443" for c in data_cells):
        c = cells(right)[cell_id]
        assert c["verdict"] == "open"
        assert not any(s["proven"] for s in c["samples"])
    # The real listeners took the probes: 3 attempts per cell, 2 cells to the PS, 1 to the MT.
    assert (accepted(ps), accepted(mt)) == (6, 3)
    assert_no_agents_left(lab)


def test_unreachable_sshd_and_wrong_host_key_are_agent_unavailable(
    lab: Lab, lab_state: LabState, tmp_path: Path
) -> None:
    # vm-app02's sshd is stopped; mt01's known_hosts entry carries vcenter's key.
    lines = lab_state.known_hosts.read_text().splitlines()
    keys = {line.split()[0].split(",")[0]: line.split(None, 1)[1] for line in lines}
    forged = tmp_path / "known_hosts"
    forged.write_text(
        "\n".join(
            f"{line.split()[0]} {keys['vcenter']}" if line.startswith("mt01,") else line
            for line in lines
        )
        + "\n"
    )
    pid_file = host_dir(lab_state.state_dir, "vm-app02") / "sshd.pid"
    stopped = stop_sshd(pid_file)
    assert stopped is not None
    try:
        deadline = time.monotonic() + 5
        while Path(f"/proc/{stopped}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        code, report = sweep(lab, lab_state, TOPOLOGY, forged)
    finally:
        start_sshd(lab, lab.namespace("vm-app02"), lab_state.state_dir)
    assert read_pid(pid_file) in netns_pids(lab.netns("vm-app02"))

    assert code == 1
    by_agent = agents(report)
    down = {h: a["reason"] for h, a in by_agent.items() if not a["available"]}
    assert set(down) == {"vm-app02", "mt01"}
    assert "198.19.1.11:22 refused (no sshd listening)" in down["vm-app02"]
    assert "host key of 198.18.2.20 does not match" in down["mt01"]
    assert str(forged) in down["mt01"]

    for cell_id, c in cells(report).items():
        if c["source_host"] in down:
            assert (c["status"], c["verdict"]) == ("agent_unavailable", "agent-unavailable")
            assert c["reason"].startswith(f"agent unavailable on {c['source_host']}: ")
            assert down[c["source_host"]] in c["reason"]
            assert c["samples"] == []
            continue
        # Everything else is probed; into the two hosts nothing of ours listened, and
        # that is said as such (no listener), not blamed on a firewall (refused).
        if c["dest_host"] in down:
            assert (c["status"], c["verdict"]) == ("no_listener", "no-listener"), cell_id
            assert f"agent on {c['dest_host']} unavailable" in c["reason"], c["reason"]
        else:
            assert (c["status"], c["verdict"]) == ("measured", "open"), (cell_id, c["reason"])
    assert {c["source_host"] for c in report["cells"] if c["status"] == "agent_unavailable"} == {
        "vm-app02",
        "mt01",
    }
    assert_no_agents_left(lab)


def test_agent_killed_mid_sweep_keeps_finished_cells_and_marks_the_rest_lost(
    lab: Lab, lab_state: LabState
) -> None:
    # ps-azure's PS -> MT cell is dropped on the VPN, so it waits out its timeouts
    # (3 x 1000 ms) while ps-azure's other cell (PS -> CS) finishes at once.
    slow = "ps-azure/nic0>mt01/nic0:tcp/9443"
    fast = "ps-azure/nic0>cs01/failback:tcp/443"
    lab_fault(lab, "vpn_drops_replication", on=True)
    try:
        proc = lab_spawn(
            lab,
            "mgmt",
            sweep_argv(lab_state, TOPOLOGY),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # The drop rule's counter moves when the slow cell's first SYN passes
            # the VPN router: probing has started.
            deadline = time.monotonic() + 20
            while drop_counter(lab) == 0:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the PS -> MT probe never reached the VPN"
                time.sleep(0.05)
            time.sleep(1.0)  # the fast cells are done (~0.2 s); the slow one has ~2 s to go
            victims = agent_pids(lab, "ps-azure")
            assert victims, "no agent process in ps-azure"
            for pid in victims:
                lab_exec(lab, "ps-azure", ["kill", "-KILL", str(pid)], check=True, timeout=5)
            out, err = proc.communicate(timeout=SWEEP_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
    finally:
        lab_fault(lab, "vpn_drops_replication", on=False)
    assert proc.returncode == 1, err[-2000:]
    report = json.loads(out)

    ps = agents(report)["ps-azure"]
    assert ps["available"] and ps["lost"] and ps["reason"], ps
    assert ps["pid"] in victims
    by_cell = cells(report)
    assert (by_cell[fast]["status"], by_cell[fast]["verdict"]) == ("measured", "open")
    assert all(s["proven"] for s in by_cell[fast]["samples"])
    assert (by_cell[slow]["status"], by_cell[slow]["verdict"]) == ("agent_lost", "agent-lost")
    assert by_cell[slow]["reason"].startswith("agent lost on ps-azure: ")
    assert by_cell[slow]["samples"] == []
    # Every other source's cells were measured, and only the killed agent was lost.
    for cell_id, c in by_cell.items():
        if cell_id != slow:
            assert c["status"] == "measured", cell_id
    assert [h for h, a in agents(report).items() if a["lost"]] == ["ps-azure"]
    assert_no_agents_left(lab)


def drop_counter(lab: Lab) -> int:
    """Packets the vpn_drops_replication rule has dropped so far (its nft counter)."""
    out = lab_exec(
        lab,
        "vpn-rtr",
        ["nft", "-j", "list", "table", "inet", "fault_vpn_drops_replication"],
        capture_output=True,
        text=True,
        check=True,
        timeout=5,
    ).stdout
    for item in json.loads(out)["nftables"]:
        rule = item.get("rule")
        if rule:
            for expr in rule["expr"]:
                if "counter" in expr:
                    return int(expr["counter"]["packets"])
    return 0
