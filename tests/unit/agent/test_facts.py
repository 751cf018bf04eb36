"""Host facts on the agent side, pure: the facts messages, mountinfo and os-release
parsing, the longest-prefix mount lookup, VMware Tools detection over a crafted tree.

Agent-only imports (runs under scripts/test-agent-py39 too).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from netcheck_agent import protocol as p
from netcheck_agent.facts import (
    linux_os,
    linux_vmware_tools,
    mount_of,
    parse_mountinfo,
    parse_os_release,
    windows_path,
)

MOUNTINFO = r"""22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
40 22 0:35 / /mnt rw shared:2 - tmpfs tmpfs rw
41 40 7:0 / /mnt/retention rw,relatime shared:3 - xfs /dev/loop0 rw,attr2
42 40 7:1 / /mnt/retention\040old rw - ext4 /dev/loop1 rw
43 41 0:50 / /mnt/retention rw,nosuid - fuse.fusefat fusefat rw,user_id=0
bad line without separator
"""


def test_mountinfo_is_parsed_with_escapes() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mounts[0] == ("/", "ext4", "/dev/vda1")
    assert ("/mnt/retention old", "ext4", "/dev/loop1") in mounts
    assert len(mounts) == 5


def test_the_longest_prefix_wins_and_a_later_mount_hides_an_earlier_one() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_of("/mnt/retention", mounts) == ("/mnt/retention", "fuse.fusefat", "fusefat")
    assert mount_of("/mnt/retention/x/y", mounts)[1] == "fuse.fusefat"  # type: ignore[index]
    assert mount_of("/mnt/retentionX", mounts)[0] == "/mnt"  # type: ignore[index]
    assert mount_of("/mnt/retention old/a", mounts)[1] == "ext4"  # type: ignore[index]
    assert mount_of("/etc", mounts)[0] == "/"  # type: ignore[index]
    assert mount_of("/etc", []) is None


def test_os_release_quotes_and_comments() -> None:
    info = parse_os_release(
        "# c\nID=ubuntu\nVERSION_ID=\"20.04\"\nPRETTY_NAME='Ubuntu 20.04.6 LTS'\n"
    )
    assert info == {"ID": "ubuntu", "VERSION_ID": "20.04", "PRETTY_NAME": "Ubuntu 20.04.6 LTS"}


def test_linux_os_reads_etc_then_usr_lib(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text('ID=rhel\nVERSION_ID="8.6"\nNAME="RHEL"\n')
    assert linux_os(str(tmp_path)) == ("rhel", "RHEL", "8.6")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\nPRETTY_NAME=Debian 12\n")
    assert linux_os(str(tmp_path)) == ("debian", "Debian 12", "12")


def test_vmware_tools_by_path_or_files(tmp_path: Path) -> None:
    nothing = linux_vmware_tools(str(tmp_path), which=lambda name: None)
    assert nothing[0] is False and "no vmtoolsd on PATH" in nothing[1]
    on_path = linux_vmware_tools(str(tmp_path), which=lambda name: f"/opt/bin/{name}")
    assert on_path == (True, "vmtoolsd on PATH: /opt/bin/vmtoolsd")
    unit = tmp_path / "lib/systemd/system/open-vm-tools.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Unit]\n")
    assert linux_vmware_tools(str(tmp_path), which=lambda name: None) == (
        True,
        "found /lib/systemd/system/open-vm-tools.service",
    )


@pytest.mark.parametrize(
    ("given", "full"), [("R", "R:\\"), ("r:", "R:\\"), ("R:\\ret", "R:\\ret"), ("/x", "/x")]
)
def test_a_drive_letter_means_its_volume_root(given: str, full: str) -> None:
    assert windows_path(given) == full


def test_facts_messages_round_trip() -> None:
    req = p.FactsRequest(id="f1", retention_path="/mnt/retention")
    assert p.decode(p.encode(req)) == req
    facts = p.Facts(
        id="f1",
        os_family="linux",
        os_id="debian",
        os_name="Debian GNU/Linux 12 (bookworm)",
        os_version="12",
        retention=p.VolumeFacts(
            path="/mnt/retention",
            exists=True,
            is_dir=True,
            filesystem="xfs",
            mount_point="/mnt/retention",
            is_mount=True,
            device="/dev/loop0",
            total_bytes=300 * 2**20,
            free_bytes=2**20,
        ),
        vmware_tools=None,
        vmware_tools_detail="`sc query VMTools` exited 5",
    )
    assert p.decode(p.encode(facts)) == facts
    assert p.decode(p.encode(p.FactsRequest(id="f2"))).retention_path is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b'{"type":"facts_request","id":""}', "facts_request.id"),
        (b'{"type":"facts_request","id":"f","retention_path":""}', "facts_request.retention_path"),
        (b'{"type":"facts","id":"f"}', "facts.os_family"),
        (
            b'{"type":"facts","id":"f","os_family":"linux","retention":{"path":"/r"}}',
            "facts.retention.exists",
        ),
        (
            b'{"type":"facts","id":"f","os_family":"linux","retention":'
            b'{"path":"/r","exists":true,"total_bytes":-1}}',
            "facts.retention.total_bytes",
        ),
        (b'{"type":"facts","id":"f","os_family":"linux","retention":[]}', "facts.retention"),
        (
            b'{"type":"facts","id":"f","os_family":"linux","vmware_tools":"yes"}',
            "facts.vmware_tools",
        ),
    ],
)
def test_bad_facts_messages_name_the_field(line: bytes, field: str) -> None:
    with pytest.raises(p.ProtocolError) as exc:
        p.decode(line)
    assert exc.value.field == field
    if b'"id":"f"' in line:
        assert exc.value.ref == "f"
