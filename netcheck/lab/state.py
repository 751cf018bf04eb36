"""The lab's state directory and what `lab up` reports.

Default: /run/netcheck-lab/<lab name>/ (tmpfs, so a reboot clears it). Layout:

    .netcheck-lab          marker: `lab down` deletes the directory only if present
    lab.json               namespaces, addresses, sshd pids, the files below
    id_ed25519[.pub]       the client key every lab sshd accepts for root
    known_hosts            every host's addresses (and name) with its host key
    ssh_config             `ssh -F ssh_config vm-app01` from the mgmt namespace
    hosts/<name>/          ssh_host_ed25519_key[.pub], sshd_config, sshd.pid, sshd.log
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netcheck.lab.model import Lab, NsKind

__all__ = [
    "DEFAULT_STATE_ROOT",
    "MARKER",
    "LabState",
    "LabStatus",
    "NamespaceState",
    "state_dir_for",
    "write_lab_json",
]

DEFAULT_STATE_ROOT = Path("/run/netcheck-lab")
MARKER = ".netcheck-lab"
LAB_JSON = "lab.json"


def state_dir_for(lab: Lab, state_dir: str | Path | None) -> Path:
    return Path(state_dir) if state_dir is not None else DEFAULT_STATE_ROOT / lab.name


@dataclass(frozen=True, slots=True)
class NamespaceState:
    name: str
    netns: str
    kind: NsKind
    addresses: tuple[str, ...]  # with prefix length, primary NIC first
    sshd_pid: int | None = None


@dataclass(frozen=True, slots=True)
class LabState:
    """What `lab_up` built; also written to `state_dir/lab.json`."""

    lab: str
    source: str
    state_dir: Path
    namespaces: tuple[NamespaceState, ...]
    faults_on: tuple[str, ...]

    @property
    def client_key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.state_dir / "ssh_config"

    def namespace(self, name: str) -> NamespaceState:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "lab": self.lab,
            "source": self.source,
            "state_dir": str(self.state_dir),
            "faults_on_at_up": list(self.faults_on),
            "ssh": {
                "user": "root",
                "identity_file": str(self.client_key),
                "known_hosts": str(self.known_hosts),
                "config": str(self.ssh_config),
            },
            "namespaces": {
                ns.name: {
                    "netns": ns.netns,
                    "kind": ns.kind,
                    "addresses": list(ns.addresses),
                    "sshd_pid": ns.sshd_pid,
                }
                for ns in self.namespaces
            },
        }


@dataclass(frozen=True, slots=True)
class LabStatus:
    """What the kernel says about a lab right now (see `lab_status`)."""

    lab: str
    state_dir: Path
    present: tuple[str, ...]  # lab namespaces that exist
    missing: tuple[str, ...]
    sshd_down: tuple[str, ...]  # hosts declared with sshd whose daemon is not running
    faults_on: tuple[str, ...]
    strays: tuple[str, ...] = ()  # namespaces with the lab's prefix the lab does not declare

    @property
    def up(self) -> bool:
        return bool(self.present) and not self.missing and not self.sshd_down

    @property
    def down(self) -> bool:
        return not self.present and not self.strays


def write_lab_json(state: LabState) -> None:
    path = state.state_dir / LAB_JSON
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
