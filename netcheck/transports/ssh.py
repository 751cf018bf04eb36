"""The SSH transport: upload the agent zipapp by content hash, run it, talk over the channel.

Security rules this module keeps:
- host keys are verified against known_hosts; a host that is not there is refused
  unless the user opted in to trust-on-first-use (`trust_new_host_keys`), and a
  *changed* key is always refused;
- authentication is by key or SSH agent only; no passwords are read or stored;
- the agent opens no port: the SSH channel's stdin/stdout is its only control path,
  and it exits when the channel closes (and by its own `--max-seconds` cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from netcheck.errors import TransportError
from netcheck.topology.model import Host
from netcheck.transports.base import AgentChannel
from netcheck.transports.lines import LineReader

__all__ = ["SshOptions", "SshTransport", "agent_zipapp"]

log = logging.getLogger(__name__)

REMOTE_DIR = ".netcheck"  # relative to the login's home, on Linux and Windows alike
MAX_LINE = 64 * 1024 * 1024


def agent_zipapp(cache_dir: Path | None = None) -> Path:
    """Build (or reuse) the agent zipapp; its name carries its content hash."""
    from netcheck_agent.zipapp_build import build_zipapp

    out = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "netcheck"
    out.mkdir(parents=True, exist_ok=True)
    return build_zipapp(out)


@dataclass(frozen=True, slots=True)
class SshOptions:
    """Everything an SSH connection needs besides the host; validated once."""

    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    identities: tuple[Path, ...] = ()  # none: the SSH agent and ~/.ssh/id_*
    trust_new_host_keys: bool = False
    connect_timeout: float = 10.0
    agent_max_seconds: int = 3600
    zipapp: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def known_hosts_path(self) -> Path:
        return self.known_hosts or Path.home() / ".ssh" / "known_hosts"


class _SshChannel:
    def __init__(
        self, host: str, conn: asyncssh.SSHClientConnection, proc: asyncssh.SSHClientProcess[bytes]
    ) -> None:
        self._host = host
        self._conn = conn
        self._proc = proc
        self._stderr_tail = b""
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())
        self._lines = LineReader(proc.stdout.read)  # bounded: LineTooLong past the limit

    async def _drain_stderr(self) -> None:
        # The agent logs nothing to stderr in normal operation; keep the tail of
        # whatever appears (a Python traceback, "command not found") for error messages.
        try:
            while True:
                chunk = await self._proc.stderr.read(4096)
                if not chunk:
                    return
                self._stderr_tail = (self._stderr_tail + chunk)[-2000:]
        except (asyncssh.Error, OSError):
            return

    @property
    def stderr_tail(self) -> str:
        return self._stderr_tail.decode("utf-8", "replace").strip()

    async def send(self, line: bytes) -> None:
        self._proc.stdin.write(line)
        await self._proc.stdin.drain()

    async def receive(self) -> bytes | None:
        try:
            line = await self._lines.next()
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError):
            return None
        if not line:
            return None
        return bytes(line)

    async def close(self) -> None:
        with contextlib.suppress(asyncssh.Error, OSError, BrokenPipeError):
            self._proc.stdin.write_eof()
        try:
            await asyncio.wait_for(self._proc.wait_closed(), 5.0)
        except (asyncio.TimeoutError, asyncssh.Error, OSError):
            self._proc.close()
        self._conn.close()
        with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
            await asyncio.wait_for(self._conn.wait_closed(), 5.0)
        self._stderr_task.cancel()


class _HelloGuard:
    """Wraps a channel so a failed first read reports the agent's stderr."""

    def __init__(self, channel: _SshChannel) -> None:
        self._channel = channel
        self._first = True
        self.timings: dict[str, float] = {}

    async def send(self, line: bytes) -> None:
        await self._channel.send(line)

    async def receive(self) -> bytes | None:
        line = await self._channel.receive()
        if line is None and self._first:
            await asyncio.sleep(0.2)  # let the stderr drain catch the last words
            tail = self._channel.stderr_tail
            if tail:
                raise TransportError(self._channel._host, _explain_start_failure(tail))
        self._first = False
        return line

    async def close(self) -> None:
        await self._channel.close()


def _explain_start_failure(stderr: str) -> str:
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    low = stderr.lower()
    if "not found" in low or "not recognized" in low or "no such file" in low:
        return f"the agent could not start: Python not found on the host ({last}); set agent.python"
    if "syntaxerror" in low or "requires python" in low:
        return (
            f"the agent could not start: the host's Python is too old, 3.9 or newer needed ({last})"
        )
    return f"the agent could not start: {last}"


class SshTransport:
    name = "ssh"

    def __init__(self, options: SshOptions | None = None) -> None:
        self.options = options or SshOptions()
        self._zipapp: Path | None = options.zipapp if options else None
        self._known_hosts: asyncssh.SSHKnownHosts | None = None
        self._trust_lock = asyncio.Lock()

    def _zip(self) -> Path:
        if self._zipapp is None:
            self._zipapp = agent_zipapp()
        return self._zipapp

    def _load_known_hosts(self) -> asyncssh.SSHKnownHosts:
        if self._known_hosts is None:
            path = self.options.known_hosts_path()
            try:
                self._known_hosts = asyncssh.read_known_hosts(str(path))
            except FileNotFoundError:
                self._known_hosts = asyncssh.import_known_hosts("")
            except (OSError, ValueError) as exc:
                raise TransportError("*", f"cannot read known_hosts {path}: {exc}") from None
        return self._known_hosts

    def _is_known(self, address: str, port: int) -> bool:
        kh = self._load_known_hosts()
        keys = kh.match(address, address, port)
        return bool(keys[0] or keys[1])

    async def _connect(self, host: Host) -> asyncssh.SSHClientConnection:
        spec = host.agent
        address = str(spec.ssh_address or host.nics[0].address)
        opts = self.options
        known: object = self._load_known_hosts()
        is_known = self._is_known(address, spec.port)
        trusting = not is_known and opts.trust_new_host_keys
        if trusting:
            known = None  # trust on first use, then record the key below
        kwargs: dict[str, object] = {
            "port": spec.port,
            "known_hosts": known,
            "connect_timeout": opts.connect_timeout,
            "login_timeout": opts.connect_timeout,
        }
        if spec.user:
            kwargs["username"] = spec.user
        keys = [str(p) for p in opts.identities]
        if spec.identity:  # the host's own key (e.g. ansible_ssh_private_key_file) first
            keys.insert(0, os.path.expanduser(spec.identity))
        if keys:
            kwargs["client_keys"] = keys
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(address, **kwargs),
                opts.connect_timeout + 2,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            if not is_known:
                raise TransportError(
                    host.name,
                    f"{address} is not in {opts.known_hosts_path()}: verify its host key and add "
                    "it (ssh-keyscan, then compare the fingerprint), or pass "
                    "--trust-new-host-keys to trust it on first contact",
                ) from None
            raise TransportError(
                host.name,
                f"host key of {address} does not match {opts.known_hosts_path()} ({exc.reason}): "
                "the host was reinstalled, or someone is in the middle; verify before you trust it",
            ) from None
        except asyncssh.PermissionDenied:
            who = spec.user or "the current user"
            raise TransportError(
                host.name,
                f"SSH authentication refused for {who} at {address}: the key was not accepted "
                "(authorized_keys on the host, or -i/--identity here)",
            ) from None
        except (asyncio.TimeoutError, TimeoutError):
            raise TransportError(
                host.name,
                f"no SSH answer from {address}:{spec.port} within {opts.connect_timeout:g} s "
                "(host down, or the port filtered on the way)",
            ) from None
        except ConnectionRefusedError:
            raise TransportError(
                host.name, f"SSH connection to {address}:{spec.port} refused (no sshd listening)"
            ) from None
        except OSError as exc:
            raise TransportError(
                host.name, f"cannot reach {address}:{spec.port}: {exc.strerror or exc}"
            ) from None
        except asyncssh.Error as exc:
            raise TransportError(host.name, f"SSH to {address} failed: {exc.reason}") from None
        if trusting:
            await self._record_host_key(host.name, address, spec.port, conn)
        return conn

    async def _record_host_key(
        self, name: str, address: str, port: int, conn: asyncssh.SSHClientConnection
    ) -> None:
        key = conn.get_server_host_key()
        if key is None:
            return
        entry = address if port == 22 else f"[{address}]:{port}"
        line = f"{entry} {key.export_public_key().decode().strip()}\n"
        path = self.options.known_hosts_path()
        async with self._trust_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="ascii") as fh:
                fh.write(line)
            self._known_hosts = None
        log.warning(
            "[host=%s] trusted a new host key on first contact: %s %s (added to %s)",
            name,
            key.get_algorithm(),
            key.get_fingerprint(),
            path,
        )

    async def _upload(self, host: Host, conn: asyncssh.SSHClientConnection) -> tuple[str, bool]:
        """Put the zipapp in ~/.netcheck/ unless a file with the same hash is there."""
        local = self._zip()
        remote = f"{REMOTE_DIR}/{local.name}"
        try:
            async with conn.start_sftp_client() as sftp:
                if await sftp.exists(remote):
                    # the name is the content hash, and uploads land under a temporary
                    # name first: a file with this name is this exact agent
                    return remote, False
                if not await sftp.exists(REMOTE_DIR):
                    with contextlib.suppress(asyncssh.SFTPFailure):  # another upload made it
                        await sftp.mkdir(REMOTE_DIR)
                tmp = f"{remote}.{secrets.token_hex(4)}.part"
                await sftp.put(str(local), tmp)
                try:
                    await sftp.rename(tmp, remote)
                except asyncssh.SFTPError:
                    # a concurrent upload of the same agent won the race: same content
                    await sftp.remove(tmp)
                    if not await sftp.exists(remote):
                        raise
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(host.name, f"uploading the agent failed: {exc}") from None
        return remote, True

    def _command(self, host: Host, remote: str) -> str:
        python = host.agent.python
        # A Windows interpreter path has backslashes and maybe spaces: quote it the way
        # both cmd.exe and POSIX shells accept (double quotes, no expansion inside).
        py = f'"{python}"' if "\\" in python or " " in python else shlex.quote(python)
        return f"{py} {remote} --max-seconds {int(self.options.agent_max_seconds)}"

    async def start(self, host: Host) -> AgentChannel:
        t0 = time.perf_counter()
        conn = await self._connect(host)
        t1 = time.perf_counter()
        try:
            remote, uploaded = await self._upload(host, conn)
            t2 = time.perf_counter()
            proc = await conn.create_process(self._command(host, remote), encoding=None)
        except TransportError:
            conn.close()
            raise
        except (asyncssh.Error, OSError) as exc:
            conn.close()
            raise TransportError(host.name, f"could not run the agent: {exc}") from None
        guard = _HelloGuard(_SshChannel(host.name, conn, proc))
        guard.timings = {
            "connect_s": t1 - t0,
            "upload_s": t2 - t1,
            "uploaded": 1.0 if uploaded else 0.0,
            "spawn_s": time.perf_counter() - t2,
        }
        return guard


def parse_identities(paths: Sequence[str]) -> tuple[Path, ...]:
    out = []
    for text in paths:
        p = Path(text).expanduser()
        if not p.is_file():
            raise TransportError("*", f"identity file {p} not found")
        out.append(p)
    return tuple(out)
