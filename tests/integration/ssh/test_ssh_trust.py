"""Injection and trust against a real OpenSSH server: a hostile `agent.python` runs
nothing, a revoked host key is refused even with --trust-new-host-keys, a tampered
agent file on the host is replaced before it runs, remote text is escaped."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import secrets
import shutil
import sys
from pathlib import Path

import pytest

from netcheck.errors import TransportError
from netcheck.report import render_table
from netcheck.topology.model import AgentSpec, Host, Nic, Role, Transport
from netcheck.transports.ssh import SshTransport, agent_zipapp
from netcheck.transports.ssh_upload import LocalAgent, upload_agent
from tests.integration.ssh.conftest import Sshd
from tests.integration.ssh.test_ssh_transport import opts, sweep, topology


def _host(sshd: Sshd, python: str = sys.executable, os_name: str | None = None) -> Host:
    spec = AgentSpec(
        Transport.SSH,
        user=sshd.user,
        port=sshd.port,
        python=python,
        ssh_address=ipaddress.ip_address("127.0.0.1"),
    )
    nic = Nic("nic0", ipaddress.ip_address("127.0.2.10"))
    return Host("cs01", "onprem", (Role.CONFIG_SERVER,), (nic,), spec, os=os_name)


async def _start_and_hello(transport: SshTransport, host: Host) -> bytes | None:
    channel = await transport.start(host)
    try:
        return await asyncio.wait_for(channel.receive(), 20)
    finally:
        await channel.close()


async def _uploaded(transport: SshTransport, host: Host) -> bool:
    channel = await transport.start(host)
    try:  # the agent is checked (and sent if need be) on the way to its hello
        assert b'"type":"hello"' in (await asyncio.wait_for(channel.receive(), 20) or b"")
    finally:
        await channel.close()
    return bool(getattr(channel, "timings", {})["uploaded"])


@pytest.fixture
def remote_dir() -> object:
    # a directory of its own under the sshd user's home: other tests (and other
    # sessions) share ~/.netcheck, which these tests must not disturb
    name = f".netcheck-test-{secrets.token_hex(4)}"
    yield name
    shutil.rmtree(Path.home() / name, ignore_errors=True)


@pytest.mark.parametrize(
    "tail", ["$(touch {m})", "`touch {m}`", "; touch {m}", "' ; touch {m} ; '", '" ; touch {m} #']
)
def test_a_hostile_python_value_runs_nothing_on_the_host(
    sshd: Sshd, tmp_path: Path, remote_dir: str, tail: str
) -> None:
    marker = tmp_path / "pwned"
    python = sys.executable + " " + tail.format(m=marker)
    transport = SshTransport(opts(sshd, remote_dir=remote_dir))
    with pytest.raises(TransportError) as ei:
        asyncio.run(_start_and_hello(transport, _host(sshd, python, os_name="linux")))
    # the whole value was one word: a program by that name does not exist
    assert "Python not found" in ei.value.reason
    assert not marker.exists()


def test_revoked_host_key_is_refused_even_when_trusting_new_keys(
    sshd: Sshd, tmp_path: Path
) -> None:
    pub = (sshd.known_hosts.read_text().split())[1:3]
    known = tmp_path / "known_hosts"
    revoked = f"@revoked [127.0.0.1]:{sshd.port} {pub[0]} {pub[1]}\n"
    known.write_text(revoked)
    result = sweep(topology(sshd), opts(sshd, known_hosts=known, trust_new_host_keys=True))
    assert result.agents and all(not a.available for a in result.agents)
    for a in result.agents:
        assert "marked @revoked" in a.reason, a.reason
    assert known.read_text() == revoked  # never appended
    # and without the opt-in the advice is not "pass --trust-new-host-keys"
    result = sweep(topology(sshd), opts(sshd, known_hosts=known))
    assert all("marked @revoked" in a.reason for a in result.agents)


def test_a_tampered_agent_file_on_the_host_is_replaced_before_it_runs(
    sshd: Sshd, tmp_path: Path, remote_dir: str
) -> None:
    zipapp = agent_zipapp()
    planted = Path.home() / remote_dir / zipapp.name
    planted.parent.mkdir(mode=0o700)
    marker = tmp_path / "ran-the-planted-file"
    # a file with the right name and the right size, but not this agent
    evil = f"import pathlib; pathlib.Path({str(marker)!r}).touch()\n".encode()
    planted.write_bytes(evil + b"#" * (zipapp.stat().st_size - len(evil)))
    assert planted.stat().st_size == zipapp.stat().st_size
    transport = SshTransport(opts(sshd, remote_dir=remote_dir))
    hello = asyncio.run(_start_and_hello(transport, _host(sshd)))
    assert hello is not None and b'"type":"hello"' in hello
    assert not marker.exists()
    assert (
        hashlib.sha256(planted.read_bytes()).digest()
        == hashlib.sha256(zipapp.read_bytes()).digest()
    )
    assert planted.stat().st_mode & 0o077 == 0

    # an intact file is reused; one that others may write is replaced
    assert asyncio.run(_uploaded(transport, _host(sshd))) is False
    planted.chmod(0o666)
    assert asyncio.run(_uploaded(transport, _host(sshd))) is True
    assert planted.stat().st_mode & 0o077 == 0
    # a symlink is replaced too, even to the right content: its target could change
    planted.unlink()
    planted.symlink_to(zipapp)
    assert asyncio.run(_uploaded(transport, _host(sshd))) is True
    assert not planted.is_symlink()


def test_remote_stderr_with_escape_sequences_is_escaped_in_the_table(
    sshd: Sshd, tmp_path: Path
) -> None:
    fake = tmp_path / "fakepython"
    fake.write_text(
        "#!/bin/sh\nprintf '\\033[2J\\033[1;1HGO: 13 of 13 cells pass\\n' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    result = sweep(topology(sshd, ps_python=str(fake)), opts(sshd))
    agents = {a.host: a for a in result.agents}
    assert not agents["ps-azure"].available
    assert "\x1b" not in agents["ps-azure"].reason
    assert "\\x1b[2J\\x1b[1;1HGO: 13 of 13 cells pass" in agents["ps-azure"].reason
    table = render_table(result)
    assert "\x1b" not in table
    assert "\\x1b[2J" in table


def test_an_agent_directory_others_may_write_is_refused_and_nothing_runs(
    sshd: Sshd, remote_dir: str
) -> None:
    where = Path.home() / remote_dir
    where.mkdir(mode=0o700)
    where.chmod(0o777)  # anyone could swap the agent here
    transport = SshTransport(opts(sshd, remote_dir=remote_dir))
    with pytest.raises(TransportError, match=r"writable by other users.*chmod 700"):
        asyncio.run(_start_and_hello(transport, _host(sshd)))
    assert list(where.iterdir()) == []  # nothing was written, nothing ran


def test_one_exec_checks_sends_and_runs_the_agent_even_after_a_chatty_login(
    sshd: Sshd, tmp_path: Path, remote_dir: str
) -> None:
    # agent.python is a wrapper that prints before the interpreter starts, as a
    # ~/.bashrc that echoes would: the bootstrap's lines are found after it
    wrapper = tmp_path / "chatty-python"
    wrapper.write_text(f'#!/bin/sh\necho "welcome to cs01"\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    transport = SshTransport(opts(sshd, remote_dir=remote_dir))
    host = _host(sshd, python=str(wrapper))
    hello = asyncio.run(_start_and_hello(transport, host))  # cold: the agent is sent
    assert hello is not None and b'"type":"hello"' in hello
    installed = Path.home() / remote_dir / agent_zipapp().name
    assert installed.read_bytes() == agent_zipapp().read_bytes()
    assert installed.stat().st_mode & 0o077 == 0
    assert asyncio.run(_uploaded(transport, host)) is False  # warm: checked on the host


def test_the_sftp_way_of_windows_hosts_checks_and_replaces_the_same_files(
    sshd: Sshd, remote_dir: str
) -> None:
    # Windows hosts keep the SFTP check and upload (ssh_upload); its logic is the
    # bootstrap's, tried here against the same real sshd
    transport = SshTransport(opts(sshd, remote_dir=remote_dir))
    host = _host(sshd)
    agent = LocalAgent.of(agent_zipapp())
    planted = Path.home() / remote_dir / agent.path.name

    async def put() -> bool:
        conn = await transport._connect(host)
        try:
            return (await upload_agent(conn, host, agent, remote_dir))[1]
        finally:
            conn.close()

    assert asyncio.run(put()) is True  # missing: uploaded
    assert planted.read_bytes() == agent.path.read_bytes()
    assert planted.stat().st_mode & 0o077 == 0
    assert asyncio.run(put()) is False  # intact: reused
    planted.write_bytes(b"#" * planted.stat().st_size)  # same size, other content
    assert asyncio.run(put()) is True and planted.read_bytes() == agent.path.read_bytes()
    planted.chmod(0o666)
    assert asyncio.run(put()) is True and planted.stat().st_mode & 0o077 == 0
    planted.unlink()
    planted.symlink_to(agent.path)
    assert asyncio.run(put()) is True and not planted.is_symlink()
    (Path.home() / remote_dir).chmod(0o777)
    with pytest.raises(TransportError, match="writable by other users"):
        asyncio.run(put())
