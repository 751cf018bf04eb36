"""Start the agent on a POSIX host in one SSH exec: check it there, send it only if needed.

The SFTP way (`ssh_upload`) opens a session for the check, reads the whole agent back
to hash it, then opens a second session to run it: about ten round trips per host
before the agent starts, and on most servers a login shell more (sshd runs an external
`sftp-server` through the user's shell). Here one exec runs the host's Python on a
short bootstrap (BOOT_SOURCE, passed base64-encoded in the command so no shell
quoting can change it) that does the same checks on the host itself:

- `~/REMOTE_DIR` is created 0700, and refused when group or others may write it
  (they could swap the agent);
- the file is reused only when it is a regular file (not a symlink), writable by its
  owner alone, of the right size, and the SHA-256 of its content is the agent's;
- otherwise the bootstrap says `send <why>`, the coordinator writes the zipapp on the
  same channel's stdin, the bootstrap checks its SHA-256, writes it to a private
  temporary file and renames it into place (atomic: hosts sharing a home may race);
- then it runs the verified file in the same interpreter, and the agent's hello
  follows on the same stdout.

Its lines start with `NETCHECK-BOOT ` so no agent line can be mistaken for them. What
the check proves is what the SFTP check proved (nothing runs that is not this agent,
byte for byte), with the hash taken on the host instead of over the wire. Windows hosts
keep the SFTP way (cmd.exe cannot be trusted to pass the bootstrap through intact).
The bootstrap runs on Python 3.6+ so an old interpreter fails with a clear message from
the agent's own version check, not a syntax error here.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from netcheck.errors import TransportError
from netcheck.peertext import escape_control
from netcheck.transports.remote_shell import agent_command
from netcheck.transports.ssh_upload import log_replacing, open_dir_refusal

__all__ = ["BOOT_SOURCE", "BootOutcome", "boot", "boot_command"]

PREFIX = b"NETCHECK-BOOT "
#: Lines the login may print before the bootstrap's first (a chatty ~/.bashrc).
MAX_NOISE_LINES = 100

BOOT_SOURCE = """\
import hashlib, os, stat, sys
def say(*words):
    os.write(1, ("NETCHECK-BOOT " + " ".join(words) + "\\n").encode())
rel, name, want, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
home = os.path.expanduser("~")
d = os.path.join(home, rel)
p = os.path.join(d, name)
try:
    os.mkdir(d, 0o700)
except FileExistsError:
    pass
if os.stat(d).st_mode & 0o022:
    say("refuse", "dir-writable")
    sys.exit(3)
why = ""
try:
    st = os.lstat(p)
except FileNotFoundError:
    why = "missing"
else:
    if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o022 or st.st_size != size:
        why = "differs"
    else:
        with open(p, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != want:
                why = "differs"
if why:
    say("send", why)
    buf = bytearray()
    while len(buf) < size:
        chunk = os.read(0, size - len(buf))
        if not chunk:
            sys.exit(4)
        buf += chunk
    if hashlib.sha256(bytes(buf)).hexdigest() != want:
        say("refuse", "transfer-corrupt")
        sys.exit(5)
    tmp = "%s.%s.part" % (p, os.urandom(4).hex())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, "wb") as f:
        f.write(buf)
    os.replace(tmp, p)
say("run")
sys.argv = [p] + sys.argv[5:]
import runpy
runpy.run_path(p, run_name="__main__")
"""

_BOOT_ARG = base64.b64encode(BOOT_SOURCE.encode()).decode()


def boot_command(
    python: str,
    options: tuple[str, ...],
    remote_dir: str,
    name: str,
    sha256: str,
    size: int,
    args: list[str],
) -> str:
    """The one POSIX command line that checks, maybe receives, and runs the agent."""
    code = f"import base64;exec(base64.b64decode('{_BOOT_ARG}'))"
    boot_args = [code, remote_dir, name, sha256, str(size), *args]
    return agent_command(python, "-c", boot_args, "posix", options)


@dataclass(frozen=True, slots=True)
class BootOutcome:
    """What the bootstrap did: whether it received the agent, and why (a stranger's
    file, a missing one)."""

    uploaded: bool
    why: str = ""


_CORRUPT = "the agent arrived corrupted on the host (SHA-256 mismatch)"


async def boot(
    host: str,
    remote_dir: str,
    next_line: Callable[[], Awaitable[bytes | None]],
    send: Callable[[bytes], Awaitable[None]],
    zipapp: Callable[[], bytes],
    name: str,
) -> BootOutcome | None:
    """Answer the bootstrap until it runs the agent `name` (`zipapp()` is read only
    when the host asks for it).

    None: the channel ended before the bootstrap said anything (Python missing or too
    old: the caller explains from stderr). TransportError: the host refused.
    """
    uploaded, why = False, ""
    noise = 0
    while True:
        line = await next_line()
        if line is None:
            return None
        if not line.startswith(PREFIX):
            noise += 1
            if noise > MAX_NOISE_LINES:
                raise TransportError(
                    host, "the login prints too much before the agent starts (check ~/.bashrc)"
                )
            continue
        word, _, rest = line[len(PREFIX) :].strip().decode("ascii", "replace").partition(" ")
        if word == "run":
            return BootOutcome(uploaded, why)
        if word == "send":
            uploaded, why = True, rest
            if why != "missing":
                log_replacing(host, f"{remote_dir}/{name}")
            await send(zipapp())
        elif word == "refuse":
            if rest == "dir-writable":
                raise TransportError(host, open_dir_refusal(remote_dir))
            if rest == "transfer-corrupt":
                raise TransportError(host, _CORRUPT)
            raise TransportError(host, f"the host refused the agent: {escape_control(rest)}")
        else:
            raise TransportError(host, f"unexpected bootstrap answer {escape_control(word)!r}")
