"""An -i key that can't be used is named with its real cause (not "cannot reach")."""

from __future__ import annotations

from pathlib import Path

import asyncssh
import pytest

from netcheck.errors import TransportError
from netcheck.transports.ssh import SshOptions, SshTransport, _key_problem

KEY = Path("/home/u/.ssh/id_x")


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (PermissionError(13, "Permission denied"), "permission denied (the file is not readable"),
        (IsADirectoryError(21, "Is a directory"), "is a directory"),
        (FileNotFoundError(2, "No such file"), "no such file"),
        (
            asyncssh.KeyImportError(
                "Passphrase must be specified to import encrypted private keys"
            ),
            "passphrase-protected; load it into ssh-agent (ssh-add)",
        ),
        (asyncssh.KeyImportError("Invalid private key"), "not a private key netcheck can read"),
    ],
)
def test_key_problem_names_the_cause(exc: BaseException, says: str) -> None:
    text = _key_problem(KEY, exc)
    assert text.startswith(f"could not load SSH key {KEY}: ")
    assert says in text


def test_a_pub_file_is_called_a_public_key(tmp_path: Path) -> None:
    pub = tmp_path / "id.pub"
    pub.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0kXwIRQYfN6y4v0fGn7cO2m3b0Cq0yJ4b0 x\n")
    t = SshTransport(SshOptions(identities=(pub,)))
    with pytest.raises(TransportError) as ei:
        t._keypairs(pub, "mt01")
    assert ei.value.host == "mt01"
    assert "this is a public key; -i takes the private key file" in ei.value.reason
    with pytest.raises(TransportError):  # loaded once, the same reason for every host
        t._keypairs(pub, "cs01")


def test_an_agent_that_cannot_be_built_is_a_transport_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(TransportError) as ei:
        SshTransport(SshOptions())._zip()
    assert ei.value.reason.startswith("could not build the agent zipapp")
