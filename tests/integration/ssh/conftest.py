"""A real OpenSSH server on 127.0.0.1 with generated keys, for the SSH transport tests."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class Sshd:
    port: int
    known_hosts: Path
    client_key: Path
    other_key: Path  # a key sshd does not accept
    user: str
    home: Path
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netcheck-test", "-f", str(path)],
        check=True,
    )


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require(os.path.exists(SSHD), "openssh-server is not installed (scripts/test installs it)")
    d = tmp_path_factory.mktemp("sshd")
    os.chmod(d, 0o700)
    host_key = d / "host_ed25519"
    client_key = d / "client_ed25519"
    other_key = d / "other_ed25519"
    for k in (host_key, client_key, other_key):
        _keygen(k)
    authorized = d / "authorized_keys"
    shutil.copy(f"{client_key}.pub", authorized)
    port = _free_port()
    known_hosts = d / "known_hosts"
    pub = (d / "host_ed25519.pub").read_text().split()
    known_hosts.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    config = d / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile {authorized}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
"""
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"sshd exited: {err}")
            time.sleep(0.05)
    home = Path.home()
    try:
        yield Sshd(port, known_hosts, client_key, other_key, getpass.getuser(), home, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
