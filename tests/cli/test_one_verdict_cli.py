"""One result, every output: a NO-GO stays NO-GO in every format, live or stored.

Fixtures that each fail in exactly one way — a connectivity cell, a bandwidth test, a
readiness rule, a NIC finding, an application (DNS) probe, a path-MTU diagnostic — are
swept by the real CLI (local agents, real sockets on 127.61.x.y only) and read back with
`netcheck report`. For every fixture and each of the six formats, live and stored:
the output says NO-GO, names the failing findings by id, the exit code is 1, and the
set of failing ids is the same in all twelve outputs. The stored report is the live one,
byte for byte.

The path-MTU fixture can't be swept on loopback (its MTU is 65,536 and no router sends
frag-needed there; the namespace lab's test_lab_diagnose does that): its result is
crafted, stored through the real store, and read back by the real `netcheck report`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from tests.integration.appservers import app_servers, free_port

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("table", "json", "junit", "prom", "md", "html", "csv")
OCTET = "127.61."


def netcheck(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netcheck", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "80"},  # the table's width: the same live and stored
    )


# the table names each failing item's finding id in its details (-v / --details)
DETAILS = {"table": ("--details",)}


# --- what each format says -------------------------------------------------------------


def read_verdict(fmt: str, text: str) -> tuple[str, set[str]]:
    """(the verdict word the output shows, the ids of the failing findings it names)."""
    if fmt == "json":
        doc = json.loads(text)
        ids = {f["id"] for f in doc["findings"] if f["verdict"] == "fail"}
        assert ids == set(doc["summary"]["failing"])
        return ("NO-GO" if doc["verdict"] == "no-go" else "GO"), ids
    if fmt == "junit":
        root = ET.fromstring(text.encode())
        ids = set()
        for failure in root.iter("failure"):
            m = re.match(r"finding:\s+(\S+)", failure.text or "")
            assert m, failure.text
            ids.add(m.group(1))
        assert int(root.get("failures", "-1")) == len(ids)
        verdicts = {p.get("value") for p in root.iter("property") if p.get("name") == "verdict"}
        (word,) = verdicts
        return ("NO-GO" if word == "no-go" else "GO"), ids
    if fmt == "prom":
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        ids = {s.labels["finding"] for s in fams["netcheck_finding_failing"].samples if s.value}
        counted = sum(s.value for s in fams["netcheck_failing_findings"].samples)
        assert counted == len(ids)
        go = fams["netcheck_sweep_go"].samples[0].value
        return ("GO" if go == 1 else "NO-GO"), ids
    if fmt == "csv":
        head, *rows = csv.DictReader(io.StringIO(text, newline=""))
        assert head["row"] == "sweep"
        return head["verdict"].upper(), {r["id"] for r in rows if r["verdict"] == "fail"}
    if fmt == "table":
        word = text.splitlines()[0].split(":")[0]
        if word == "GO":
            return word, set()
        ids = set(re.findall(r"^     id:   (\S+)$", text, flags=re.M))
        (head,) = [ln for ln in text.splitlines() if ln.startswith("Failing (")]
        assert head == f"Failing ({len(ids)}):", (head, ids)
        return word, ids
    if fmt == "md":
        word = text.splitlines()[0].split()[2].rstrip(":")
        ids = set(re.findall(r"^- `([^`]+)` \(", text, flags=re.M))
        return word, ids
    if fmt == "html":
        word = re.search(r'<div class="word">([A-Z-]+)</div>', text)
        assert word
        ids = set(re.findall(r'<li class="finding [a-z]+"><code>([^<]+)</code>', text))
        return word.group(1), {i.replace("&gt;", ">").replace("&amp;", "&") for i in ids}
    raise AssertionError(fmt)


def _report_text(fmt: str, stdout: str) -> str:
    """A table on a terminal ends with where the sweep was stored: not part of the report."""
    if fmt == "table":
        return re.sub(r"\nSweep \w+ stored in .*\Z", "", stdout, flags=re.S)  # may wrap
    return stdout


# --- the fixtures ----------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]


def _demo(tmp: Path, name: str, edit: Edit) -> Path:
    text = (ROOT / "topologies" / "local-demo.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text.replace("127.0.", OCTET))
    edit(doc)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _cell(doc: dict[str, Any]) -> None:
    # a port that must be closed, where the sweep's responder listens: reachable
    doc["rules"] = [
        {
            "id": "no-4444-to-mt",
            "from": "host:ps-azure",
            "to": "host:mt01",
            "port": 4444,
            "expect": "blocked",
            "hint": "Close TCP 4444 to the master target.",
        }
    ]


def _bandwidth(doc: dict[str, Any]) -> None:
    doc["bandwidth"] = [{"from": "ps-azure", "to": "mt01", "duration_s": 0.5, "streams": 1}]
    doc["paths"]["s2s-vpn"]["expect"]["min_mbps"] = 10_000_000  # no loopback gives this


def _readiness(doc: dict[str, Any]) -> None:
    doc["hosts"]["mt01"]["inventory"] = {"scsi_controller": "paravirtual"}


def _nic(doc: dict[str, Any]) -> None:
    # Azure's network overlaps the on-premises LAN that cs01's failback NIC must tell apart
    doc["sites"]["azure"]["networks"] = {"vnet": f"{OCTET}0.0/16"}


FIXTURES: dict[str, tuple[Edit, str, str]] = {
    # name: (edit, the one failing kind, a failing id it must name)
    "cell": (_cell, "cell", "cell:ps-azure/nic0>mt01/nic0:tcp/4444"),
    "bandwidth": (_bandwidth, "bandwidth", "bandwidth:ps-azure>mt01"),
    "readiness": (_readiness, "readiness", "readiness:mt-scsi-controller:mt01"),
    "nic": (_nic, "nic", "nic:nic-overlap-topology:cs01"),
}


@pytest.fixture(scope="module")
def dns_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo with a resolver that answers NXDOMAIN for the name every host must resolve."""
    tmp = tmp_path_factory.mktemp("one-verdict-dns")
    address = f"{OCTET}2.53"
    with app_servers() as srv:
        port = free_port(address)
        srv.dns(address, port, {})  # every name: NXDOMAIN

        def edit(doc: dict[str, Any]) -> None:
            doc["ports"]["remap"][53] = port
            doc["hosts"]["dns01"] = {
                "site": "onprem",
                "roles": ["dns_server"],
                "address": address,
                "agent": "none",
                "dns": {"query": "failback.contoso.example"},
            }

        yield _demo(tmp, "app", edit)


def _check_outputs(
    name: str, outputs: dict[tuple[str, str], str], kind: str, must: str, failing: set[str]
) -> None:
    seen = {}
    for (fmt, where), text in outputs.items():
        word, ids = read_verdict(fmt, text)
        assert word == "NO-GO", (name, fmt, where)
        assert must in ids, (name, fmt, where, ids)
        seen[(fmt, where)] = ids
    assert all(ids == failing for ids in seen.values()), (name, seen)
    assert {i.split(":", 1)[0] for i in failing} == {kind}, (name, failing)


def _sweep_every_format(path: Path, db: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    outputs: dict[tuple[str, str], str] = {}
    for fmt in FORMATS:
        live = netcheck(
            "sweep", str(path), "--format", fmt, "--db", str(db), "--no-progress", "--no-diagnose",
            *DETAILS.get(fmt, ()), *extra,
        )  # fmt: skip
        assert live.returncode == 1, (fmt, live.stderr, live.stdout[-2000:])
        assert "Traceback" not in live.stderr
        m = re.search(r"[Ss]weep (\w+) stored in ", live.stdout + live.stderr)
        assert m, live.stderr
        stored_id = m.group(1)
        stored = netcheck(
            "report", stored_id, "--db", str(db), "--format", fmt, *DETAILS.get(fmt, ())
        )
        assert stored.returncode == 1, (fmt, stored.stderr)
        live_text = _report_text(fmt, live.stdout)
        assert stored.stdout == live_text, fmt  # byte for byte, every format
        outputs[(fmt, "live")] = live_text
        outputs[(fmt, "stored")] = stored.stdout
    return outputs


@pytest.mark.parametrize("name", list(FIXTURES))
def test_a_single_failure_is_no_go_everywhere(name: str, tmp_path: Path) -> None:
    edit, kind, must = FIXTURES[name]
    path = _demo(tmp_path, name, edit)
    outputs = _sweep_every_format(path, tmp_path / "nc.db")
    failing = read_verdict("json", outputs[("json", "live")])[1]
    _check_outputs(name, outputs, kind, must, failing)


def test_a_failing_application_probe_is_no_go_everywhere(dns_fixture: Path, tmp_path: Path) -> None:
    outputs = _sweep_every_format(dns_fixture, tmp_path / "nc.db")
    failing = read_verdict("json", outputs[("json", "live")])[1]
    assert any(i.startswith("app:cs01/") and "dns01" in i for i in failing), failing
    _check_outputs("app", outputs, "app", sorted(failing)[0], failing)
    doc = json.loads(outputs[("json", "live")])
    reasons = {f["reason"] for f in doc["findings"] if f["verdict"] == "fail"}
    assert all("NXDOMAIN" in r for r in reasons), reasons


def test_a_failing_path_mtu_is_no_go_everywhere(tmp_path: Path) -> None:
    """A crafted result (the path MTU a router reported is below the path's `mtu`),
    stored by the real store, rendered live in-process and by `netcheck report`."""
    from netcheck.diagnose.model import (
        Diagnostics,
        Finding,
        FindingLevel,
        Hop,
        Measurement,
        Method,
        PathCheck,
        PathDirection,
    )
    from netcheck.report.formats import render
    from netcheck.report.table import Detail, render_table
    from netcheck.result.cells import CellStatus
    from netcheck.store import StoreObserver
    from tests.unit.report.reportkit import RDP, TOPOLOGY, make_sweep

    pmtu = Measurement(
        "pmtu", "ps-azure", "127.0.3.4", "mt01", "127.0.2.20", "tcp", 9443, Method.SCAPY,
        hops=(Hop(1, "unreachable", "198.18.200.2", icmp="frag-needed", mtu=1380, size=1400),),
        pmtu=1380,
    )  # fmt: skip
    direction = PathDirection("ps-azure", "mt01", "127.0.2.20", None, None, pmtu, "s2s-vpn")
    finding = Finding(
        FindingLevel.FAIL, "pmtu-below-expect", "ps-azure → mt01: path MTU 1380 is below 1400"
    )
    diag = Diagnostics(paths=(PathCheck("s2s-vpn", True, (direction,), (finding,)),))
    from dataclasses import replace

    sweep = replace(make_sweep({RDP: "refused"}), diagnostics=diag)  # every cell passes
    assert [f.id for f in sweep.failing()] == ["path:s2s-vpn:pmtu-below-expect"]
    db = tmp_path / "nc.db"
    obs = StoreObserver(db, warn=pytest.fail, topology_text=TOPOLOGY)
    obs.on_start(sweep.plan, sweep.sweep_id)
    for r in sweep.results:
        assert r.status is CellStatus.MEASURED
        obs.on_result(r)
    obs.on_finish(sweep)
    outputs: dict[tuple[str, str], str] = {}
    for fmt in FORMATS:
        live = render_table(sweep, detail=Detail.FULL) if fmt == "table" else render(sweep, fmt)
        outputs[(fmt, "live")] = live
        stored = netcheck(
            "report", sweep.sweep_id, "--db", str(db), "--format", fmt, *DETAILS.get(fmt, ())
        )
        assert stored.returncode == 1, stored.stderr
        assert stored.stdout == outputs[(fmt, "live")], fmt
        outputs[(fmt, "stored")] = stored.stdout
    _check_outputs(
        "path",
        outputs,
        "path",
        "path:s2s-vpn:pmtu-below-expect",
        {"path:s2s-vpn:pmtu-below-expect"},
    )
