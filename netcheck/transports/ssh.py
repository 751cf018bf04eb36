"""The SSH transport: put the agent zipapp on the host by content hash, run it, talk to it.

On POSIX hosts one exec checks the agent on the host and receives it only when needed
(`ssh_boot`); Windows hosts get the check and the upload over SFTP (`ssh_upload`).

Security rules this module keeps:
- host keys are verified against known_hosts; a host that is not there is refused
  unless the user opted in to trust-on-first-use (`trust_new_host_keys`), and a
  *changed* key is always refused;
- authentication is by key or SSH agent only; no passwords are read or stored;
- a key marked `@revoked` in known_hosts is refused always, trust-on-first-use or not;
- the agent opens no port: the SSH channel's stdin/stdout is its only control path,
  and it exits when the channel closes (and by its own `--max-seconds` cap);
- an agent file already on the host is run only when its content hash is the one of
  the agent this coordinator carries, and no other user can write it; anything else
  is replaced by a fresh upload;
- the remote command is quoted for the remote shell (`remote_shell`), and every
  text the host sends back is escaped before it reaches a report (`peertext`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from netcheck.errors import TransportError
from netcheck.peertext import escape_control
from netcheck.topology.model import Host
from netcheck.transports.base import AgentChannel
from netcheck.transports.lines import LineReader
from netcheck.transports.remote_shell import QuotingError, agent_command, remote_platform
from netcheck.transports.ssh_boot import boot, boot_command
from netcheck.transports.ssh_upload import LocalAgent, upload_agent
from netcheck.transports.sshlib import asyncssh

__all__ = ["SshOptions", "SshTransport", "agent_zipapp"]

log = logging.getLogger(__name__)

REMOTE_DIR = ".netcheck"  # relative to the login's home, on Linux and Windows alike
MAX_LINE = 64 * 1024 * 1024
#: The agent's interpreter runs isolated (-I): no PYTHON* variables, no user site
#: directory, bytecode written even where PYTHONDONTWRITEBYTECODE is set. The
#: system site-packages stay (scapy, where the host has it, is found there).
AGENT_PYTHON_OPTIONS = ("-I",)
#: Ciphers, most preferred first: AES-GCM (AEAD, in OpenSSH's default set), then
#: asyncssh's defaults. asyncssh drives ChaCha20-Poly1305 from Python with several
#: cryptography calls per packet (~8x the CPU of one AES-GCM call with AES-NI), and
#: a fleet sweep's coordinator is one process doing every host's crypto.
_PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _cipher_order() -> list[str]:
    rest = [a.decode() for a in asyncssh.encryption.get_default_encryption_algs()]
    return [*_PREFERRED_CIPHERS, *(a for a in rest if a not in _PREFERRED_CIPHERS)]


#: How long closing a channel waits for the agent's exit before ending the connection.
_EXIT_GRACE_S = 0.1


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
    # SSH-level keepalives: a peer that answers none of `keepalive_count_max` probes
    # sent `keepalive_interval` s apart is dead, and its channel ends (agent lost)
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    remote_dir: str = REMOTE_DIR  # relative to the login's home

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
        # End of input makes the agent exit by itself (and so does the connection's
        # end). Its exit status says nothing the sweep needs, and waiting for it held
        # the teardown for the hosts' interpreter shutdowns: a second with sixty
        # agents on a busy machine. So it gets a moment only, then the connection ends.
        with contextlib.suppress(asyncssh.Error, OSError, BrokenPipeError):
            self._proc.stdin.write_eof()
        try:
            await asyncio.wait_for(self._proc.wait_closed(), _EXIT_GRACE_S)
        except (asyncio.TimeoutError, asyncssh.Error, OSError):
            self._proc.close()
        self._conn.close()
        with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
            await asyncio.wait_for(self._conn.wait_closed(), 5.0)
        self._stderr_task.cancel()


async def _run_agent(
    conn: asyncssh.SSHClientConnection, host: Host, command: str
) -> asyncssh.SSHClientProcess[bytes]:
    """Run the agent's command; the connection is closed when it cannot run."""
    try:
        return await conn.create_process(command, encoding=None)
    except (asyncssh.Error, OSError) as exc:
        conn.close()
        raise TransportError(
            host.name, f"could not run the agent: {escape_control(str(exc))}"
        ) from None
    except BaseException:
        conn.close()
        raise


class _HelloGuard:
    """Wraps a channel so a failed first read reports the agent's stderr.

    `before_hello`, if given, runs at the first read: the bootstrap's dialogue
    (ssh_boot), so the wait for the hello, and its deadline, cover it too. It returns
    False when the channel ended before the bootstrap said anything.
    """

    def __init__(
        self,
        channel: _SshChannel,
        before_hello: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._channel = channel
        self._first = True
        self._before_hello = before_hello
        self.timings: dict[str, float] = {}

    async def send(self, line: bytes) -> None:
        await self._channel.send(line)

    async def receive(self) -> bytes | None:
        if self._before_hello is not None:
            before, self._before_hello = self._before_hello, None
            line: bytes | None = None if not await before() else await self._channel.receive()
        else:
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
    # the host wrote this: escape it before it reaches a report (no ESC, no newline)
    last = escape_control(stderr.strip().splitlines()[-1]) if stderr.strip() else ""
    low = stderr.lower()
    if "not found" in low or "not recognized" in low or "no such file" in low:
        return f"the agent could not start: Python not found on the host ({last}); set agent.python"
    if "unknown option" in low:  # -I (AGENT_PYTHON_OPTIONS) is Python 3.4+
        first = escape_control(stderr.strip().splitlines()[0])
        return f"the agent could not start: the host's Python is too old, 3.9 or newer needed ({first})"
    if "syntaxerror" in low or "requires python" in low:
        return (
            f"the agent could not start: the host's Python is too old, 3.9 or newer needed ({last})"
        )
    return f"the agent could not start: {last}"


class _TofuClient(asyncssh.SSHClient):
    """Accepts a host key not in known_hosts (the user opted in to trust on first use);
    asyncssh still refuses a revoked key before asking. Notes whether TCP connected,
    so a timeout can say "something answered, but not sshd"."""

    def __init__(self, trusting: bool) -> None:
        self.trusting = trusting
        self.tcp_connected = False

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self.tcp_connected = True

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self.trusting


def _key_problem(path: Path, exc: BaseException) -> str:
    """Why a private key file can't be used, in words a user can act on."""
    text = str(exc)
    if isinstance(exc, PermissionError):
        why = "permission denied (the file is not readable by this user)"
    elif isinstance(exc, IsADirectoryError):
        why = "is a directory"
    elif isinstance(exc, FileNotFoundError):
        why = "no such file"
    elif isinstance(exc, OSError):
        why = exc.strerror or text
    elif "passphrase" in text.lower():
        why = "passphrase-protected; load it into ssh-agent (ssh-add) and leave out -i"
    elif path.suffix == ".pub" or "public" in text.lower():
        why = "this is a public key; -i takes the private key file (without .pub)"
    else:
        why = f"not a private key netcheck can read ({text})"
    return f"could not load SSH key {path}: {why}"


class SshTransport:
    name = "ssh"

    def __init__(self, options: SshOptions | None = None) -> None:
        self.options = options or SshOptions()
        self._zipapp: Path | None = options.zipapp if options else None
        self._local_agent: LocalAgent | None = None
        self._known_hosts: asyncssh.SSHKnownHosts | None = None
        self._revoked_entries: list[asyncssh.SSHKnownHosts] = []
        self._loaded_keys: dict[Path, list[asyncssh.SSHKeyPair] | str] = {}  # str: why not
        self._trust_lock = asyncio.Lock()

    def _zip(self) -> Path:
        if self._zipapp is None:
            try:
                self._zipapp = agent_zipapp()
            except OSError as exc:
                where = f" {exc.filename}" if exc.filename else ""
                raise TransportError(
                    "*", f"could not build the agent zipapp{where}: {exc.strerror or exc}"
                ) from None
        return self._zipapp

    def _agent(self) -> LocalAgent:
        if self._local_agent is None:
            self._local_agent = LocalAgent.of(self._zip())
        return self._local_agent

    def _load_known_hosts(self) -> asyncssh.SSHKnownHosts:
        if self._known_hosts is None:
            path = self.options.known_hosts_path()
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            except (OSError, ValueError) as exc:
                raise TransportError("*", f"cannot read known_hosts {path}: {exc}") from None
            try:
                self._known_hosts = asyncssh.import_known_hosts(text)
            except ValueError as exc:
                raise TransportError("*", f"cannot read known_hosts {path}: {exc}") from None
            # each @revoked entry on its own, as if trusted: matching it then says
            # whether it names this host (asyncssh's own match drops a revoked entry
            # with a port when no trusted key matches that port)
            self._revoked_entries = []
            for line in text.splitlines():
                marker, _, entry = line.strip().partition(" ")
                if marker == "@revoked":
                    with contextlib.suppress(ValueError):
                        self._revoked_entries.append(asyncssh.import_known_hosts(entry))
        return self._known_hosts

    def _host_keys(
        self, address: str, port: int
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        """Trusted host keys, CA keys and revoked keys for this host from known_hosts."""
        kh = self._load_known_hosts()
        match_port = None if port == 22 else port  # as asyncssh matches
        trusted, ca = kh.match(address, address, match_port)[:2]
        revoked = [
            key
            for entry in self._revoked_entries
            for key in entry.match(address, address, match_port)[0]
        ]
        return list(trusted), list(ca), revoked

    def _keypairs(self, path: Path, host: str) -> list[asyncssh.SSHKeyPair]:
        """One key file's keys (with its certificate, KEY-cert.pub, when there is one),
        loaded once; a key that can't be loaded fails each SSH host that uses it with
        the real cause (local hosts are not affected)."""
        loaded = self._loaded_keys.get(path)
        if loaded is None:
            try:
                loaded = list(asyncssh.load_keypairs(str(path)))
            except (OSError, ValueError, asyncssh.Error) as exc:  # KeyImportError: ValueError
                loaded = _key_problem(path, exc)
            self._loaded_keys[path] = loaded
        if isinstance(loaded, str):
            raise TransportError(host, loaded)
        return loaded

    def _keys(self, host: Host) -> list[asyncssh.SSHKeyPair] | None:
        """The host's own key (e.g. ansible_ssh_private_key_file) first, then the -i
        keys; None (the SSH agent and ~/.ssh/id_*) when neither is given."""
        paths = list(self.options.identities)
        if host.agent.identity:
            paths.insert(0, Path(os.path.expanduser(host.agent.identity)))
        if not paths:
            return None
        return [key for path in paths for key in self._keypairs(path, host.name)]

    async def _connect(self, host: Host) -> asyncssh.SSHClientConnection:
        spec = host.agent
        address = str(spec.ssh_address or host.nics[0].address)
        opts = self.options
        client_keys = self._keys(host)
        trusted, ca, revoked = self._host_keys(address, spec.port)
        is_known = bool(trusted or ca)
        trusting = not is_known and opts.trust_new_host_keys
        # revoked keys are refused in every case: asyncssh checks them before the
        # trusted ones, and before it asks the client (which says yes when trusting)
        known = (trusted, ca, revoked)
        client = _TofuClient(trusting)
        kwargs: dict[str, object] = {
            "port": spec.port,
            "known_hosts": known,
            "connect_timeout": opts.connect_timeout,
            "login_timeout": opts.connect_timeout,
            "keepalive_interval": opts.keepalive_interval,
            "keepalive_count_max": opts.keepalive_count_max,
            "client_factory": lambda: client,
            "encryption_algs": _cipher_order(),
        }
        if spec.user:
            kwargs["username"] = spec.user
        if client_keys is not None:
            kwargs["client_keys"] = client_keys
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(address, **kwargs),
                opts.connect_timeout + 2,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            if "revoked" in str(exc.reason).lower():
                raise TransportError(
                    host.name,
                    f"host key of {address} is marked @revoked in {opts.known_hosts_path()}: "
                    "refused (always, whatever --trust-new-host-keys says)",
                ) from None
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
            if client.tcp_connected:
                raise TransportError(
                    host.name,
                    f"{address}:{spec.port} accepted the connection but no SSH server answered "
                    f"within {opts.connect_timeout:g} s (another service on that port, or a "
                    "proxy in the way)",
                ) from None
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
            raise TransportError(
                host.name, f"SSH to {address} failed: {escape_control(str(exc.reason))}"
            ) from None
        except ValueError as exc:  # a key asyncssh could not use after all
            raise TransportError(host.name, f"SSH to {address} failed: {exc}") from None
        if trusting:
            try:
                await self._record_host_key(host.name, address, spec.port, conn)
            except TransportError:
                conn.close()
                raise
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
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="ascii") as fh:
                    fh.write(line)
            except OSError as exc:
                raise TransportError(
                    name,
                    f"could not add the new host key of {address} to {path}: "
                    f"{exc.strerror or exc}; make the file writable or add the key yourself "
                    f"({key.get_algorithm()} {key.get_fingerprint()})",
                ) from None
            self._known_hosts = None
        log.warning(
            "[host=%s] trusted a new host key on first contact: %s %s (added to %s)",
            name,
            key.get_algorithm(),
            key.get_fingerprint(),
            path,
        )

    def _command(self, host: Host, remote: str) -> str:
        python = host.agent.python
        platform = remote_platform(host.os, python)
        try:
            return agent_command(
                python,
                remote,
                ["--max-seconds", str(int(self.options.agent_max_seconds))],
                platform,
                AGENT_PYTHON_OPTIONS,
            )
        except QuotingError as exc:
            raise TransportError(host.name, f"agent.python {exc}; give a plain path") from None

    async def start(self, host: Host) -> AgentChannel:
        if remote_platform(host.os, host.agent.python) == "posix":
            return await self._start_posix(host)
        return await self._start_with_sftp(host)

    async def _start_posix(self, host: Host) -> AgentChannel:
        """One exec: the host checks the agent, receives it only if needed, runs it."""
        t0 = time.perf_counter()
        agent = self._agent()
        try:
            command = boot_command(
                host.agent.python,
                AGENT_PYTHON_OPTIONS,
                self.options.remote_dir,
                agent.path.name,
                agent.sha256,
                agent.path.stat().st_size,
                ["--max-seconds", str(int(self.options.agent_max_seconds))],
            )
        except QuotingError as exc:
            raise TransportError(host.name, f"agent.python {exc}; give a plain path") from None
        conn = await self._connect(host)
        t1 = time.perf_counter()
        proc = await _run_agent(conn, host, command)
        channel = _SshChannel(host.name, conn, proc)
        timings = {"connect_s": t1 - t0, "spawn_s": time.perf_counter() - t1}

        async def check_send_run() -> bool:
            t2 = time.perf_counter()
            outcome = await boot(
                host.name,
                self.options.remote_dir,
                channel.receive,
                channel.send,
                agent.path.read_bytes,
                agent.path.name,
            )
            if outcome is None:
                return False
            timings["upload_s"] = time.perf_counter() - t2  # the check, and the transfer
            timings["uploaded"] = 1.0 if outcome.uploaded else 0.0
            return True

        # The dialogue runs at the first read, under the hello's deadline (StartPace):
        # a host whose Python hangs before saying a word is given up like a silent agent.
        guard = _HelloGuard(channel, check_send_run)
        guard.timings = timings
        return guard

    async def _start_with_sftp(self, host: Host) -> AgentChannel:
        """Windows: put or check the agent over SFTP, then run it (cmd.exe quoting)."""
        t0 = time.perf_counter()
        command = self._command(host, f"{self.options.remote_dir}/{self._zip().name}")
        conn = await self._connect(host)
        t1 = time.perf_counter()
        try:
            _, uploaded = await upload_agent(conn, host, self._agent(), self.options.remote_dir)
        except BaseException:  # a TransportError that says why, or an interrupt
            conn.close()
            raise
        t2 = time.perf_counter()
        proc = await _run_agent(conn, host, command)
        guard = _HelloGuard(_SshChannel(host.name, conn, proc))
        guard.timings = {
            "connect_s": t1 - t0,
            "upload_s": t2 - t1,
            "uploaded": 1.0 if uploaded else 0.0,
            "spawn_s": time.perf_counter() - t2,
        }
        return guard
