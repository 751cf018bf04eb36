"""One bad SSH host never costs the others' results, and every failure names its
real cause: an unusable -i key, a known_hosts that can't be written, a server
that answers garbage, a peer that goes silent (SSH keepalives), Ctrl-C at start."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netcheck.cli import main
from netcheck.results import CellStatus
from netcheck.stats import Verdict
from netcheck.transports.ssh import SshTransport
from tests.conftest import require
from tests.integration.ssh.conftest import Sshd
from tests.integration.ssh.test_ssh_transport import opts, sweep
from tests.integration.ssh.test_ssh_trust import _host

NETCHECK = [sys.executable, "-m", "netcheck"]


def _sweep_cmd(topo: Path, known: Path, *more: str) -> list[str]:
    return [
        *NETCHECK,
        "sweep",
        str(topo),
        "--no-store",
        "--no-progress",
        "--known-hosts",
        str(known),
        *more,
    ]


def mixed(sshd: Sshd, port: int | None = None) -> str:
    """cs01 runs a local agent; mt01 logs in over SSH."""
    return textwrap.dedent(
        f"""
        version: 1
        name: mixed
        sweep: {{samples: 1, interval_ms: 10, timeout_ms: 300}}
        rules:
          - {{id: cs-to-mt, from: host:cs01, to: host:mt01, port: 9443}}
        sites:
          onprem: {{networks: {{lan: 127.0.2.0/24}}}}
        hosts:
          cs01: {{site: onprem, roles: [config_server], address: 127.0.2.10, agent: local}}
          mt01:
            site: onprem
            roles: [master_target]
            address: 127.0.2.20
            agent: {{transport: ssh, address: 127.0.0.1, port: {port or sshd.port},
                     user: {sshd.user}, python: {sys.executable}}}
        """
    )


def _bad_keys(tmp_path: Path, sshd: Sshd) -> dict[str, tuple[Path, str]]:
    locked = tmp_path / "locked_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "sesame", "-f", str(locked)], check=True
    )
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(300))
    return {
        "passphrase": (locked, "passphrase-protected; load it into ssh-agent"),
        "public": (Path(f"{sshd.client_key}.pub"), "this is a public key"),
        "garbage": (garbage, "not a private key netcheck can read"),
    }


@pytest.mark.parametrize("kind", ["passphrase", "public", "garbage"])
def test_an_unusable_key_is_the_ssh_hosts_reason_and_local_cells_are_kept(
    sshd: Sshd, tmp_path: Path, kind: str
) -> None:
    key, says = _bad_keys(tmp_path, sshd)[kind]
    result = sweep(mixed(sshd), opts(sshd, identities=(key,)))
    agents = {a.host: a for a in result.agents}
    assert not agents["mt01"].available
    assert agents["mt01"].reason.startswith(f"could not load SSH key {key}: ")
    assert says in agents["mt01"].reason
    assert agents["cs01"].available
    cells = {(r.spec.source_host, r.spec.dest_host): (r, v) for r, v in result.verdicts()}
    local = [(dst, r) for (src, dst), (r, _) in cells.items() if src == "cs01"]
    assert local, cells
    for dst, r in local:  # probed; into mt01 nothing of ours could listen (its agent is down)
        want = CellStatus.NO_LISTENER if dst == "mt01" else CellStatus.MEASURED
        assert r.status is want and r.samples, (dst, r)
    remote = [v for (src, _), (_, v) in cells.items() if src == "mt01"]
    assert remote and all(v.verdict is Verdict.AGENT_UNAVAILABLE for v in remote)


def test_cli_with_a_passphrase_key_reports_instead_of_a_traceback(
    sshd: Sshd, tmp_path: Path
) -> None:
    key, _ = _bad_keys(tmp_path, sshd)["passphrase"]
    topo = tmp_path / "mixed.yaml"
    topo.write_text(mixed(sshd))
    out = subprocess.run(
        _sweep_cmd(topo, sshd.known_hosts, "-i", str(key)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr  # NO-GO: a report, not a crash
    assert "Traceback" not in out.stderr
    assert "passphrase-protected" in out.stdout


def test_a_read_only_known_hosts_with_trust_names_the_real_cause(
    sshd: Sshd, tmp_path: Path
) -> None:
    require(shutil.which("chattr") is not None, "chattr is not installed")
    known = tmp_path / "known_hosts"
    known.write_text("")
    if subprocess.run(["chattr", "+i", str(known)], capture_output=True).returncode != 0:
        require(False, "this file system cannot make a file immutable (chattr +i)")
    try:
        topo = tmp_path / "mixed.yaml"
        topo.write_text(mixed(sshd))
        out = subprocess.run(
            _sweep_cmd(topo, known, "-i", str(sshd.client_key), "--trust-new-host-keys"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        subprocess.run(["chattr", "-i", str(known)], check=True)
    assert out.returncode == 1, out.stderr
    assert "silent ports" not in out.stderr and "Traceback" not in out.stderr
    said = " ".join(out.stdout.split())  # the table folds long lines to the width
    assert f"could not add the new host key of 127.0.0.1 to {known}" in said
    assert known.read_text() == ""


class _Listener:
    """A TCP server on loopback that is not sshd: it says `greeting` and then nothing."""

    def __init__(self, greeting: bytes) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = threading.Event()
        self._conns: list[socket.socket] = []
        self._greeting = greeting
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            if self._greeting:
                conn.sendall(self._greeting)
            self.accepted.set()

    def close(self) -> None:
        self.sock.close()
        for c in self._conns:
            c.close()


@pytest.fixture
def garbage_server() -> Iterator[_Listener]:
    server = _Listener(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    yield server
    server.close()


def test_a_server_answering_garbage_is_not_called_filtered(
    sshd: Sshd, garbage_server: _Listener
) -> None:
    result = sweep(mixed(sshd, port=garbage_server.port), opts(sshd, connect_timeout=1.0))
    reason = next(a.reason for a in result.agents if a.host == "mt01")
    assert "accepted the connection but no SSH server answered" in reason, reason
    assert "filtered" not in reason
    assert next(a for a in result.agents if a.host == "cs01").available


def test_ctrl_c_while_connecting_exits_130_without_a_traceback(sshd: Sshd, tmp_path: Path) -> None:
    silent = _Listener(b"")
    try:
        topo = tmp_path / "mixed.yaml"
        topo.write_text(mixed(sshd, port=silent.port))
        proc = subprocess.Popen(
            _sweep_cmd(topo, sshd.known_hosts, "-i", str(sshd.client_key)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert silent.accepted.wait(60), "netcheck never connected"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        silent.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_ctrl_c_during_start_up_imports_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(argv: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("netcheck.cli._build_parser", interrupted)
    assert main(["validate", "x.yaml"]) == 130
    assert capsys.readouterr().err == "netcheck: interrupted\n"


class _FreezableProxy:
    """Forwards TCP to sshd until frozen; then swallows everything (a dead link)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = False
        self.port = 0
        self.writers: list[asyncio.StreamWriter] = []

    def close_links(self) -> None:
        """End both sides, so sshd sees the client go and the agent behind it exits
        now (not when the sockets are collected, after the next tests began)."""
        for w in self.writers:
            w.close()

    async def start(self) -> asyncio.AbstractServer:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(server.sockets[0].getsockname()[1])
        return server

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while data := await r.read(65536):
            if not self.frozen:
                w.write(data)
                await w.drain()

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [w, uw]
        await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w), return_exceptions=True)


def test_ssh_keepalives_detect_a_dead_peer(sshd: Sshd, tmp_path: Path) -> None:
    async def run() -> float:
        proxy = _FreezableProxy(sshd.port)
        server = await proxy.start()
        known = tmp_path / "known_hosts"
        known.write_text(sshd.known_hosts.read_text().replace(f":{sshd.port} ", f":{proxy.port} "))
        try:
            transport = SshTransport(
                opts(sshd, known_hosts=known, keepalive_interval=0.5, keepalive_count_max=2)
            )
            host = _host(sshd)
            spec = host.agent.__class__(**{**_fields(host.agent), "port": proxy.port})
            channel = await transport.start(host.__class__(**{**_fields(host), "agent": spec}))
            assert await asyncio.wait_for(channel.receive(), 30) is not None  # hello
            proxy.frozen = True
            t0 = time.monotonic()
            # the link is dead, not closed: only keepalives can tell
            assert await asyncio.wait_for(channel.receive(), 15) is None
            took = time.monotonic() - t0
            await channel.close()
            return took
        finally:
            proxy.close_links()
            server.close()

    took = asyncio.run(run())
    assert took < 5.0


def _fields(obj: object) -> dict[str, object]:
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
