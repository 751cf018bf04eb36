"""The alert rules of monitoring/ fire in a real Prometheus scraping real `netcheck watch`es.

Two watchers on loopback, one Prometheus scraping both every second and evaluating
monitoring/netcheck-rules.yaml every second, with every `for:` cut to 2 s (the rules
are read from the shipped file and rewritten here; the expressions are the file's own):

- site A sweeps the faults demo (moved to 127.93.x): ps-azure → mt01:9443 is refused
  (a required cell down) and the VMs reach the process server's RDP port (a forbidden
  cell open);
- site B's only SSH agent sits behind a port that accepts and then says nothing, so
  no sweep completes within 3 × its 1 s interval (the sweep is stale) while the
  watcher itself keeps serving /metrics.

The alerts are read from Prometheus's /api/v1/alerts.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.integration.private_demo import private_copy
from tests.integration.watch.promkit import get, prometheus, wait_for, watch

RULES = ROOT / "monitoring" / "netcheck-rules.yaml"
SHORT_FOR = "2s"
SILENT_HOST = "127.94.2.10"

STALE_TOPOLOGY = """\
version: 1
name: stale-site
sites:
  onprem: {{networks: {{lan: 127.94.2.0/24}}}}
hosts:
  cs01:
    site: onprem
    roles: [config_server]
    address: {silent}
    agent: {{transport: ssh, user: netcheck, port: {port}}}
  mt01: {{site: onprem, roles: [master_target], address: 127.94.2.20, agent: local}}
"""


def short_rules(dest: Path) -> Path:
    """The shipped rules with every `for:` cut to SHORT_FOR; nothing else changes."""
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    shipped = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = SHORT_FOR
    for ours, theirs in zip(doc["groups"], shipped["groups"], strict=True):
        for a, b in zip(ours["rules"], theirs["rules"], strict=True):
            assert {k: v for k, v in a.items() if k != "for"} == {
                k: v for k, v in b.items() if k != "for"
            }
    dest.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return dest


@contextmanager
def silent_ssh_port(host: str) -> Iterator[int]:
    """A TCP port on `host` that accepts connections and never sends a byte (an SSH server
    that hangs before its banner): at most 32 connections, all closed at the end."""
    server = socket.socket()
    server.bind((host, 0))
    server.listen(8)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def hold() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            if len(held) < 32:
                held.append(conn)
            else:
                conn.close()

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        done.set()
        t.join(5)
        for c in held:
            c.close()
        server.close()


def _firing(prom: int) -> list[dict[str, Any]]:
    try:
        alerts = get(f"http://127.0.0.1:{prom}/api/v1/alerts")["data"]["alerts"]
    except OSError:
        return []
    return [a["labels"] for a in alerts if a["state"] == "firing"]


def test_cell_down_forbidden_open_and_stale_sweep_fire(tmp_path: Path) -> None:
    faults = private_copy("local-demo-faults.yaml", tmp_path / "faults.yaml", 93)
    rules = short_rules(tmp_path / "rules.yaml")
    with silent_ssh_port(SILENT_HOST) as ssh_port:
        stale = tmp_path / "stale.yaml"
        stale.write_text(STALE_TOPOLOGY.format(silent=SILENT_HOST, port=ssh_port))
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text("")
        with (
            watch(faults, tmp_path / "a.log", "--interval", "5s") as (proc_a, port_a),
            watch(
                stale,
                tmp_path / "b.log",
                "--interval",
                "1s",
                "--ssh-timeout",
                "30",
                "--known-hosts",
                str(known_hosts),
            ) as (proc_b, port_b),
            prometheus(tmp_path, [port_a, port_b], [rules]) as prom,
        ):
            site_a, site_b = f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"

            def fired() -> dict[str, list[dict[str, str]]]:
                out: dict[str, list[dict[str, str]]] = {}
                for labels in _firing(prom):
                    out.setdefault(labels["alertname"], []).append(labels)
                return out

            def all_three() -> bool:
                got = fired()
                return all(
                    name in got
                    for name in (
                        "NetcheckRequiredCellDown",
                        "NetcheckForbiddenCellOpen",
                        "NetcheckSweepStale",
                    )
                )

            logs = [tmp_path / n for n in ("a.log", "b.log", "prometheus.log")]
            wait_for(
                all_three,
                90,
                lambda: f"{fired()}\n" + "\n".join(p.read_text() for p in logs),
                proc_a,
                proc_b,
            )
            got = fired()

    down = {
        (a["instance"], a["source"], a["dest"], a["port"]) for a in got["NetcheckRequiredCellDown"]
    }
    assert (site_a, "ps-azure", "mt01", "9443") in down
    assert all(
        a["severity"] == "critical" and a["expect"] == "reachable"
        for a in got["NetcheckRequiredCellDown"]
    )
    assert all(inst == site_a for inst, *_ in down)  # site B measured nothing: not "down"
    forbidden = got["NetcheckForbiddenCellOpen"]
    assert {(a["dest"], a["port"], a["rule"]) for a in forbidden} == {
        ("ps-azure", "13389", "no-rdp-from-vms")
    }
    assert {a["source"] for a in forbidden} == {"vm-app01", "vm-app02"}
    # only site B is stale: site A completes a sweep every 5 s
    assert [(a["instance"], a["topology"]) for a in got["NetcheckSweepStale"]] == [
        (site_b, "stale-site")
    ]
