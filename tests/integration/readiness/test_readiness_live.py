"""Live readiness facts from a real agent (the local transport: in-process, over the
protocol) on real mounts: ext4 and xfs loop images, tmpfs, and a FAT32 image through
FUSE (fusefat; this kernel has no vfat) that trips the FAT rule for real. Root only
(mount); never skips in CI.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest

from netcheck.cli import main
from netcheck.plan import build_plan
from netcheck.readiness import ReadinessResult, Source, Verdict, evaluate
from netcheck.readiness.live import gather_live_facts
from netcheck.report import render_json, render_table
from netcheck.report.table import Detail
from netcheck.sweep import run_sweep
from netcheck.topology import Topology, load_topology_text
from netcheck.transports.local import LocalTransport
from tests.integration.readiness.readiness_mounts import mounted


def topology(retention: Path, declared_fs: str = "ntfs") -> Topology:
    """mt01 runs an in-process agent; the declared filesystem is deliberately wrong so the
    test sees live facts win."""
    return load_topology_text(
        textwrap.dedent(
            f"""
            version: 1
            name: readiness-live
            ports: {{remap: {{443: 10443}}}}
            sweep: {{samples: 1, interval_ms: 0, timeout_ms: 1000}}
            defaults:
              agent: {{transport: local}}
            sites:
              onprem: {{networks: {{lan: 127.0.2.0/24}}}}
            hosts:
              cs01: {{site: onprem, roles: [config_server], address: 127.0.2.10}}
              mt01:
                site: onprem
                roles: [master_target]
                os: linux
                address: 127.0.2.20
                inventory:
                  retention:
                    path: "{retention}"
                    filesystem: {declared_fs}
                    capacity_gb: 1
                    is_cache_volume: false
                    used_for_other: false
            """
        ),
        "live.yaml",
    )


def live(topo: Topology) -> ReadinessResult:
    facts, status = asyncio.run(gather_live_facts(topo, {"local": LocalTransport()}))
    assert [(s.host, s.state) for s in status] == [("mt01", "live")]
    return evaluate(topo, facts, status, live_requested=True)


def by_check(result: ReadinessResult) -> dict[str, tuple[Verdict, str, dict[str, object]]]:
    out = {}
    for f in result.findings:
        if f.subject == "mt01":
            facts = {x.name: (x.value, x.source) for x in f.facts}
            out[f.check] = (f.verdict, f.message, facts)
    return out


@pytest.mark.parametrize("kind", ["ext4", "xfs", "tmpfs"])
def test_real_mounts_pass_the_retention_rules(kind: str, tmp_path: Path) -> None:
    with mounted(kind, tmp_path) as mnt:
        result = live(topology(mnt))
    checks = by_check(result)
    verdict, message, facts = checks["retention-filesystem"]
    assert verdict is Verdict.PASS, message
    assert facts["retention.filesystem"] == (kind, Source.LIVE)  # declared ntfs lost
    verdict, message, facts = checks["retention-capacity"]
    assert verdict is Verdict.PASS, message
    cap, src = facts["retention.capacity_gb"]  # type: ignore[misc]
    assert src is Source.LIVE and 0.2 < cap <= 0.32  # a 300 MiB volume, minus metadata
    free, _ = facts["retention.free_gb"]  # type: ignore[misc]
    assert 0 < free <= cap
    assert checks["retention-path"][0] is Verdict.PASS
    verdict, message, facts = checks["retention-dedicated"]
    assert verdict is Verdict.PASS, message
    assert facts["retention.is_mount"] == (True, Source.LIVE)
    assert facts["retention.mount_point"] == (str(mnt), Source.LIVE)
    # the host's own facts: this machine runs no VMware Tools
    tools_verdict, _, tools_facts = checks["mt-vmware-tools"]
    assert tools_facts["vmware_tools"][1] is Source.LIVE
    assert tools_verdict is (Verdict.PASS if tools_facts["vmware_tools"][0] else Verdict.FAIL)
    _, _, os_facts = checks["mt-os-match"]
    assert os_facts["os"] == ("linux", Source.LIVE)
    assert os_facts["os_version"][1] is Source.LIVE


def test_a_real_fat32_volume_fails_the_fat_rule(tmp_path: Path) -> None:
    """vfat is not in this kernel: the FAT32 image is mounted through FUSE (fusefat)."""
    with mounted("fat", tmp_path) as mnt:
        result = live(topology(mnt))
    checks = by_check(result)
    verdict, message, facts = checks["retention-filesystem"]
    assert verdict is Verdict.FAIL
    assert facts["retention.filesystem"] == ("fuse.fusefat", Source.LIVE)
    assert "FAT (fuse.fusefat)" in message
    assert checks["retention-capacity"][0] is Verdict.PASS  # FAT alone is the problem
    assert not result.go


def test_a_directory_on_another_volume_is_not_its_own_volume(tmp_path: Path) -> None:
    with mounted("ext4", tmp_path) as mnt:
        sub = mnt / "retention"
        sub.mkdir()
        checks = by_check(live(topology(sub)))
    verdict, message, facts = checks["retention-dedicated"]
    assert verdict is Verdict.WARN
    assert f"lives on {mnt} (ext4)" in message
    assert facts["retention.is_mount"] == (False, Source.LIVE)


def test_a_missing_retention_path_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "mnt" / "retention"
    result = live(topology(missing))
    verdict, message, _ = by_check(result)["retention-path"]
    assert verdict is Verdict.FAIL
    assert message == f"retention path {missing} does not exist on mt01"
    assert not result.go


def test_the_sweep_carries_readiness_and_a_fat_volume_makes_it_no_go(tmp_path: Path) -> None:
    with mounted("fat", tmp_path) as mnt:
        topo = topology(mnt)
        result = asyncio.run(
            run_sweep(build_plan(topo), {"local": LocalTransport()}, readiness=True)
        )
    assert all(v.passed for _, v in result.verdicts())  # mt01 -> cs01 is open
    assert result.readiness is not None and not result.readiness.go
    assert not result.go  # readiness alone makes it no-go
    assert "facts_s" in result.phases
    text = render_table(result, detail=Detail.FULL, width=400)
    failing = result.readiness.count(Verdict.FAIL)  # FAT, and VMware Tools if not installed
    assert failing >= 1
    assert f"NO-GO: 1 of 1 cells pass; readiness: {failing} failing check" in text
    assert "[fail] retention-filesystem on mt01" in text
    doc = json.loads(render_json(result))
    assert doc["verdict"] == "no-go"
    assert doc["readiness"]["live"] == [{"host": "mt01", "state": "live", "reason": ""}]
    fs = next(f for f in doc["readiness"]["findings"] if f["check"] == "retention-filesystem")
    assert fs["facts"][0] == {
        "name": "retention.filesystem",
        "host": "mt01",
        "value": "fuse.fusefat",
        "source": "live",
    }


def test_the_command_reads_live_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with mounted("xfs", tmp_path) as mnt:
        topo_file = tmp_path / "t.yaml"
        topo_file.write_text(
            textwrap.dedent(
                f"""
                version: 1
                name: cli-live
                defaults: {{agent: {{transport: local}}}}
                sites: {{onprem: {{networks: {{lan: 127.0.2.0/24}}}}}}
                hosts:
                  mt01:
                    site: onprem
                    roles: [master_target]
                    address: 127.0.2.20
                    inventory: {{retention: "{mnt}"}}
                """
            )
        )
        code = main(["readiness", str(topo_file), "--live", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "netcheck.readiness"
    fs = next(f for f in doc["findings"] if f["check"] == "retention-filesystem")
    assert (fs["verdict"], fs["facts"][0]["value"], fs["facts"][0]["source"]) == (
        "pass",
        "xfs",
        "live",
    )
    # the exit code follows the failing checks (on this machine: VMware Tools, read live)
    tools = next(f for f in doc["findings"] if f["check"] == "mt-vmware-tools")
    assert tools["facts"][0]["source"] == "live"
    assert code == (1 if doc["summary"]["fail"] else 0)
    assert doc["verdict"] == ("no-go" if code else "go")
