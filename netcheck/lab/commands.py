"""The one place the lab runs commands: `ip`, `tc`, `nft`, `sysctl`, `sshd`.

Every call is bounded by a timeout, and a failure becomes a LabError that
quotes the command and its stderr, which is what a user needs to fix a host.
Commands that change anything run inside a lab namespace (`ip -n`,
`tc -n`, `ip netns exec`); only `ip netns add/del/list/pids` act on the
machine's own namespace, and they touch no address, route or firewall.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from netcheck.errors import LabError

__all__ = [
    "DEPS_HINT",
    "in_netns",
    "list_netns",
    "netns_pids",
    "require_root",
    "require_tools",
    "run",
    "sshd_path",
]

DEPS_HINT = "install the lab's packages with scripts/lab-deps (needs root)"
_TOOLS = {
    "ip": "iproute2",
    "tc": "iproute2",
    "nft": "nftables",
    "ssh-keygen": "openssh-client",
}


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = 20.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `argv`; on a non-zero exit (when `check`) raise LabError with stderr."""
    cmd = shlex.join(argv)
    try:
        proc = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise LabError(f"`{cmd}`: {argv[0]} is not installed; {DEPS_HINT}") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"`{cmd}` did not finish within {timeout:g} s") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or "no output"
        raise LabError(f"`{cmd}` failed (exit {proc.returncode}): {detail}")
    return proc


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """`argv` run inside `netns` (with /sys of that namespace)."""
    return ["ip", "netns", "exec", netns, *argv]


def list_netns() -> list[str]:
    """Names of every named network namespace on the machine."""
    out = run(["ip", "netns", "list"]).stdout
    # Lines look like "nc-mgmt (id: 3)" or just "nc-mgmt".
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_pids(netns: str) -> list[int]:
    """Processes living in `netns`; an absent namespace has none."""
    proc = run(["ip", "netns", "pids", netns], check=False)
    if proc.returncode != 0:
        return []
    return [int(word) for word in proc.stdout.split() if word.isdigit()]


def sshd_path() -> str:
    """sshd by absolute path: it re-executes itself and refuses a relative one."""
    for candidate in ("/usr/sbin/sshd", shutil.which("sshd")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise LabError(f"sshd is not installed (package openssh-server); {DEPS_HINT}")


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates network namespaces); run it with sudo")


def require_tools(need_sshd: bool) -> None:
    """Fail before building anything when a tool is missing."""
    missing = [f"{tool} ({pkg})" for tool, pkg in _TOOLS.items() if shutil.which(tool) is None]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)}; {DEPS_HINT}")
    if need_sshd:
        sshd_path()
