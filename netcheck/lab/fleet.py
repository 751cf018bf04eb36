"""A fleet lab: N hosts with their own sshd on one switch, for fan-out tests and benchmarks.

    lab = fleet_lab(60, prefix="ncf-")
    state = lab_up(lab)
    topology_text = fleet_topology(lab)          # every host: an agent over SSH

One switch (`sw`), one management namespace (`mgmt`, where the coordinator or
the plain ssh fan-out runs), two target namespaces that play the configuration
server (`cs`, TCP 443) and the process server (`ps`, TCP 9443), and hosts
`h01`...`hNN`, each with its own sshd. Every address lies in 198.18.10.0/24
(inside 198.18.0.0/15, like every lab address). `fleet_lab` and `fleet_topology`
are pure; `start_targets` starts the targets' listeners in a lab that is up.
"""

from __future__ import annotations

import subprocess
import time
from ipaddress import IPv4Interface

from netcheck.lab.model import Lab, Link, LinkEnd, Namespace
from netcheck.lab.runtime import lab_spawn

__all__ = [
    "FLEET_MAX",
    "FLEET_NET",
    "MGMT_ADDRESS",
    "TARGETS",
    "fleet_hosts",
    "fleet_lab",
    "fleet_topology",
    "start_targets",
]

FLEET_NET = "198.18.10"
FLEET_MAX = 240  # h001..h240 keep .241-.254 for mgmt and the targets
MGMT_ADDRESS = f"{FLEET_NET}.250"
# target namespace -> (address, port, role): what every fleet host checks
TARGETS: dict[str, tuple[str, int, str]] = {
    "cs": (f"{FLEET_NET}.251", 443, "config_server"),
    "ps": (f"{FLEET_NET}.252", 9443, "process_server"),
}


def fleet_hosts(n: int) -> list[tuple[str, str]]:
    """(name, address) of the fleet's `n` hosts, in order."""
    if not 1 <= n <= FLEET_MAX:
        raise ValueError(f"a fleet lab has 1 to {FLEET_MAX} hosts, not {n}")
    width = max(2, len(str(n)))
    return [(f"h{i:0{width}d}", f"{FLEET_NET}.{i}") for i in range(1, n + 1)]


def fleet_lab(n: int, prefix: str) -> Lab:
    """`n` hosts with sshd, a management namespace and two targets, on one switch."""
    spokes = [(name, addr, True) for name, addr in fleet_hosts(n)]
    spokes.append(("mgmt", MGMT_ADDRESS, False))
    spokes += [(name, addr, False) for name, (addr, _, _) in TARGETS.items()]
    namespaces = [Namespace("sw", "switch")]
    links = []
    for name, addr, sshd in spokes:
        namespaces.append(Namespace(name, "host", sshd=sshd))
        links.append(
            Link(
                name,
                LinkEnd(name, "eth0", IPv4Interface(f"{addr}/24")),
                LinkEnd("sw", name),
            )
        )
    return Lab(
        name=f"fleet-{n}",
        prefix=prefix,
        namespaces=tuple(namespaces),
        links=tuple(links),
        source=f"<fleet lab of {n} hosts>",
    )


def fleet_topology(lab: Lab, python: str = "/usr/bin/python3", samples: int = 1) -> str:
    """The netcheck topology of `lab`: every host a protected VM with an SSH agent that
    checks the configuration server's 443 and the process server's 9443 (real listeners
    the caller starts in `cs` and `ps`; no agent runs there)."""
    hosts = [ns.name for ns in lab.hosts if ns.sshd]
    lines = [
        "version: 1",
        f"name: {lab.name}",
        "defaults:",
        f"  agent: {{transport: ssh, user: root, python: {python}}}",
        "sweep:",
        f"  samples: {samples}",
        "  timeout_ms: 1000",
        "sites:",
        "  lan:",
        f"    networks: {{lan: {FLEET_NET}.0/24}}",
        "hosts:",
    ]
    for name in hosts:
        lines.append(f"  {name}: {{site: lan, roles: [protected_vm], address: {_addr(lab, name)}}}")
    for name, (addr, _, role) in TARGETS.items():
        lines.append(f"  {name}: {{site: lan, roles: [{role}], address: {addr}, agent: none}}")
    return "\n".join(lines) + "\n"


def _addr(lab: Lab, name: str) -> str:
    return str(lab.addresses(name)[0].ip)


# accept and close, for at most an hour (lab_down ends it before that)
_LISTENER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4096); s.settimeout(5)
end = time.monotonic() + 3600
while time.monotonic() < end:
    try:
        s.accept()[0].close()
    except socket.timeout:
        pass
"""


def start_targets(lab: Lab, python: str = "/usr/bin/python3") -> None:
    """Start an accept-and-close listener on each target's port (bounded: one hour)."""
    for name, (addr, port, _) in TARGETS.items():
        lab_spawn(
            lab,
            name,
            [python, "-c", _LISTENER, addr, str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    time.sleep(0.3)  # the listeners' interpreters start
