"""sshd in each host namespace, with keys made for the lab and a strict known_hosts.

No CA: each host gets its own ed25519 host key, and `known_hosts` lists every
address of every host with that key, so a client can run with
StrictHostKeyChecking=yes. One client key pair is accepted for root on all
hosts (the lab has no other accounts, and the machine's /etc/passwd is not
ours to change).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from netcheck.errors import LabError
from netcheck.lab.commands import in_netns, run, sshd_path
from netcheck.lab.model import Lab, Namespace

__all__ = [
    "host_dir",
    "make_client_key",
    "read_pid",
    "sshd_config_text",
    "start_sshd",
    "stop_sshd",
    "write_client_files",
]

_PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it
_START_TIMEOUT_S = 5.0


def host_dir(state_dir: Path, host: str) -> Path:
    return state_dir / "hosts" / host


def _keygen(path: Path, comment: str) -> None:
    if path.exists():
        return
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def make_client_key(lab: Lab, state_dir: Path) -> Path:
    key = state_dir / "id_ed25519"
    _keygen(key, f"netcheck-lab client {lab.name}")
    return key


def sshd_config_text(lab: Lab, host: Namespace, state_dir: Path) -> str:
    hdir = host_dir(state_dir, host.name)
    listen = "".join(f"ListenAddress {a.ip}\n" for a in lab.addresses(host.name))
    return (
        f"# netcheck lab {lab.name}: sshd of {host.name}; every path is in the lab's state dir\n"
        "Port 22\n"
        f"{listen}"
        f"HostKey {hdir / 'ssh_host_ed25519_key'}\n"
        f"PidFile {hdir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {state_dir / 'id_ed25519.pub'}\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        # PAM would consult the machine's own login policy; the lab has none.
        "UsePAM no\n"
        # The key file's directory belongs to the lab, not to root's home.
        "StrictModes no\n"
        # No resolver in the lab: a reverse lookup would only add a timeout.
        "UseDNS no\n"
        "X11Forwarding no\n"
        "PrintMotd no\n"
        "PrintLastLog no\n"
        # The coordinator opens many sessions at once; the default 10:30:100
        # would start refusing them at random.
        "MaxStartups 200:30:400\n"
        "Subsystem sftp internal-sftp\n"
    )


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def start_sshd(lab: Lab, host: Namespace, state_dir: Path) -> int:
    """Write keys and config for `host`, start its sshd, return its pid.

    sshd writes its pid file only after it has bound its sockets, so waiting
    for the file means waiting until it answers.
    """
    hdir = host_dir(state_dir, host.name)
    hdir.mkdir(parents=True, exist_ok=True)
    _keygen(hdir / "ssh_host_ed25519_key", f"netcheck-lab {lab.name} {host.name}")
    config = hdir / "sshd_config"
    config.write_text(sshd_config_text(lab, host, state_dir), encoding="utf-8")
    pid_file = hdir / "sshd.pid"
    pid_file.unlink(missing_ok=True)
    log = hdir / "sshd.log"
    _PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    run(in_netns(lab.netns(host.name), [sshd_path(), "-f", str(config), "-E", str(log)]))
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        pid = read_pid(pid_file)
        if pid is not None:
            return pid
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-600:] if log.exists() else "(no log)"
    raise LabError(f"sshd in {lab.netns(host.name)} did not start within 5 s; {log}: {tail}")


def stop_sshd(pid_file: Path) -> int | None:
    """SIGTERM the sshd named by `pid_file` if it still is that sshd; return its pid."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return None  # already gone
    # A recycled pid would belong to someone else: kill only an sshd that was
    # started with this host's config (sshd keeps it in its process title).
    if b"sshd" not in cmdline or str(pid_file.parent).encode() not in cmdline:
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    return pid


def write_client_files(lab: Lab, state_dir: Path) -> None:
    """known_hosts (strict checking) and an ssh_config naming every host."""
    known: list[str] = []
    config = [
        f"# netcheck lab {lab.name}: from inside a lab namespace, e.g.",
        f"#   ip netns exec NETNS ssh -F {state_dir / 'ssh_config'} HOST true",
    ]
    for host in lab.hosts:
        if not host.sshd:
            continue
        pub = (host_dir(state_dir, host.name) / "ssh_host_ed25519_key.pub").read_text().split()
        addrs = [str(a.ip) for a in lab.addresses(host.name)]
        known.append(f"{','.join([host.name, *addrs])} {pub[0]} {pub[1]}")
        config += [f"Host {host.name}", f"    HostName {addrs[0]}"]
    config += [
        "Host *",
        "    User root",
        f"    IdentityFile {state_dir / 'id_ed25519'}",
        "    IdentitiesOnly yes",
        f"    UserKnownHostsFile {state_dir / 'known_hosts'}",
        "    StrictHostKeyChecking yes",
        "    BatchMode yes",
        "    ConnectTimeout 5",
    ]
    (state_dir / "known_hosts").write_text("\n".join(known) + "\n", encoding="utf-8")
    (state_dir / "ssh_config").write_text("\n".join(config) + "\n", encoding="utf-8")
