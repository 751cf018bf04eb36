"""Put the agent zipapp on a Windows host over SFTP, or prove the copy there is it.

(POSIX hosts check and receive it in the agent's own exec: `ssh_boot`.)

A file at `~/.netcheck/netcheck-agent-<hash>.pyz` is not trusted because of its
name: anyone who could write it could have put anything there. It is reused only
when it is a regular file (not a symlink) of the right size, writable by its owner
alone (POSIX hosts; Windows SFTP reports no useful modes), and the SHA-256 of its
content, read back, is the one of the agent this coordinator carries. Anything
else is replaced by a fresh upload, moved into place atomically where the server
can. The directory is created 0700, and one that others may write is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from netcheck.errors import TransportError
from netcheck.peertext import escape_control
from netcheck.topology.model import Host
from netcheck.transports.sshlib import asyncssh

__all__ = ["LocalAgent", "log_replacing", "open_dir_refusal", "upload_agent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LocalAgent:
    """The zipapp this coordinator carries, and the SHA-256 of its content."""

    path: Path
    sha256: str

    @classmethod
    def of(cls, path: Path) -> LocalAgent:
        return cls(path, hashlib.sha256(path.read_bytes()).hexdigest())


def open_dir_refusal(remote_dir: str) -> str:
    """Why a host is refused whose agent directory others may write (both ways of
    putting the agent there say it in these words)."""
    return (
        f"~/{remote_dir} on the host is writable by other users, who could swap the agent: "
        f"fix it (chmod 700 ~/{remote_dir})"
    )


def log_replacing(host: str, remote: str) -> None:
    """Log that a file at the agent's path was not this agent and is replaced."""
    log.warning(
        "[host=%s] %s on the host is not this netcheck's agent (content or mode differs): "
        "replacing it",
        host,
        remote,
    )


async def _reusable(sftp: asyncssh.SFTPClient, remote: str, host: Host, agent: LocalAgent) -> bool:
    """Is the file at `remote` this exact agent, writable by its owner only?

    The name carries a hash, but a name proves nothing: anyone who could write
    the file could have put anything there. The content is read back and hashed
    (about the cost of the upload it saves on a slow link is not the point: it
    is the cost of not running a stranger's code).
    """
    try:
        attrs = await sftp.lstat(remote)  # a symlink is not this agent, whatever it names
    except asyncssh.SFTPNoSuchFile:
        return False
    local = agent.path
    if attrs.size is not None and attrs.size != local.stat().st_size:
        return False
    perms = attrs.permissions or 0
    if stat.S_IFMT(perms) and not stat.S_ISREG(perms):  # a link, a fifo, a directory
        return False
    if host.os != "windows" and perms & 0o022:  # Windows SFTP reports no useful modes
        return False
    digest = hashlib.sha256()
    async with sftp.open(remote, "rb") as fh:
        while True:
            chunk = await fh.read(256 * 1024)
            if not chunk:
                break
            digest.update(cast(bytes, chunk))
    return digest.hexdigest() == agent.sha256


async def upload_agent(
    conn: asyncssh.SSHClientConnection, host: Host, agent: LocalAgent, remote_dir: str
) -> tuple[str, bool]:
    """Put the zipapp in ~/.netcheck/ unless this exact agent is there already."""
    local = agent.path
    remote = f"{remote_dir}/{local.name}"
    try:
        async with conn.start_sftp_client() as sftp:
            if not await sftp.exists(remote_dir):
                with contextlib.suppress(asyncssh.SFTPFailure):  # another upload made it
                    await sftp.mkdir(remote_dir, asyncssh.SFTPAttrs(permissions=0o700))
            dir_mode = (await sftp.stat(remote_dir)).permissions or 0
            if host.os != "windows" and dir_mode & 0o022:
                raise TransportError(host.name, open_dir_refusal(remote_dir))
            if await _reusable(sftp, remote, host, agent):
                return remote, False
            if await sftp.exists(remote):
                log_replacing(host.name, remote)
            tmp = f"{remote}.{secrets.token_hex(4)}.part"
            await sftp.put(str(local), tmp)
            if host.os != "windows":
                await sftp.chmod(tmp, 0o700)
            await _install(sftp, tmp, remote, host, agent)
    except (asyncssh.Error, OSError) as exc:
        # an SFTP error carries the server's own words: escaped like all remote text
        raise TransportError(
            host.name, f"uploading the agent failed: {escape_control(str(exc))}"
        ) from None
    return remote, True


async def _install(
    sftp: asyncssh.SFTPClient, tmp: str, remote: str, host: Host, agent: LocalAgent
) -> None:
    """Move the uploaded `tmp` to `remote`, atomically where the server can.

    Hosts sharing a home upload at the same time: the path must always name a
    complete agent, and a stranger's file at it must be replaced, not kept.
    """
    try:
        await sftp.posix_rename(tmp, remote)  # OpenSSH: atomic replace
        return
    except asyncssh.SFTPOpUnsupported:
        pass
    try:
        await sftp.rename(tmp, remote)
        return
    except asyncssh.SFTPError:
        pass
    if await _reusable(sftp, remote, host, agent):  # a concurrent upload won the race
        await sftp.remove(tmp)
        return
    await sftp.remove(remote)
    await sftp.rename(tmp, remote)
