"""Live readiness facts over the SSH transport: the uploaded zipapp agent, run by a real
sshd on 127.0.0.1, reads a loop-mounted xfs retention volume (root only)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

from netcheck.readiness import Source, Verdict, evaluate
from netcheck.readiness.live import gather_live_facts
from netcheck.topology import load_topology_text
from netcheck.transports.ssh import SshOptions, SshTransport
from tests.integration.readiness.readiness_mounts import mounted
from tests.integration.ssh.conftest import Sshd


def test_facts_over_ssh_from_a_real_mount(sshd: Sshd, tmp_path: Path) -> None:
    with mounted("xfs", tmp_path) as mnt:
        topo = load_topology_text(
            textwrap.dedent(
                f"""
                version: 1
                name: readiness-ssh
                sites: {{onprem: {{networks: {{lan: 127.0.2.0/24}}}}}}
                hosts:
                  mt01:
                    site: onprem
                    roles: [master_target]
                    os: linux
                    address: 127.0.2.20
                    agent: {{transport: ssh, address: 127.0.0.1, port: {sshd.port},
                            user: {sshd.user}, python: {sys.executable}}}
                    inventory:
                      retention: {{path: "{mnt}", filesystem: vfat, used_for_other: false}}
                """
            ),
            "ssh.yaml",
        )
        ssh = SshTransport(SshOptions(known_hosts=sshd.known_hosts, identities=(sshd.client_key,)))
        facts, status = asyncio.run(gather_live_facts(topo, {"ssh": ssh}))
    assert [(s.host, s.state, s.reason) for s in status] == [("mt01", "live", "")]
    result = evaluate(topo, facts, status, live_requested=True)
    fs = next(f for f in result.findings if f.check == "retention-filesystem")
    # declared vfat would fail; the agent saw xfs, and live wins
    assert fs.verdict is Verdict.PASS
    assert [(x.value, x.source) for x in fs.facts] == [("xfs", Source.LIVE)]
    dedicated = next(f for f in result.findings if f.check == "retention-dedicated")
    assert dedicated.verdict is Verdict.PASS
    assert facts["mt01"].retention is not None and facts["mt01"].retention.is_mount is True


def test_an_unreachable_agent_leaves_declared_facts(sshd: Sshd, tmp_path: Path) -> None:
    topo = load_topology_text(
        textwrap.dedent(
            f"""
            version: 1
            name: readiness-ssh-down
            sites: {{onprem: {{networks: {{lan: 127.0.2.0/24}}}}}}
            hosts:
              mt01:
                site: onprem
                roles: [master_target]
                address: 127.0.2.20
                agent: {{transport: ssh, address: 127.0.0.1, port: {sshd.port},
                        user: {sshd.user}, python: {sys.executable}}}
                inventory: {{retention: {{path: /r, filesystem: ext4}}}}
            """
        ),
        "ssh.yaml",
    )
    ssh = SshTransport(SshOptions(known_hosts=sshd.known_hosts, identities=(sshd.other_key,)))
    facts, status = asyncio.run(gather_live_facts(topo, {"ssh": ssh}))
    assert facts == {}
    assert [(s.host, s.state) for s in status] == [("mt01", "unavailable")]
    result = evaluate(topo, facts, status, live_requested=True)
    fs = next(f for f in result.findings if f.check == "retention-filesystem")
    assert (fs.verdict, fs.facts[0].source) == (Verdict.PASS, Source.DECLARED)
