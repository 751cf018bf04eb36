"""Hostile and nonsensical values a topology must refuse, each with file:line:column."""

from __future__ import annotations

import pytest

from netcheck.errors import ConfigError, Location
from netcheck.topology import load_topology_text

HEAD = """\
version: 1
name: t
sites:
  onprem: {networks: {lan: 127.0.2.0/24}}
  v6: {networks: {lan6: 'fd00::/64'}}
hosts:
"""


def _err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        load_topology_text(text, "t.yaml")
    return ei.value


@pytest.mark.parametrize(
    ("python", "says"),
    [
        ("'python3 $(id >&2)'", "which a shell would interpret"),
        ("'python3;id'", "which a shell would interpret"),
        ("'C:\\Py\"\\python.exe'", "which a shell would interpret"),
        ("'C:\\%TEMP%\\python.exe'", "which a shell would interpret"),
        ('"py\\e[2J"', "control character"),
        ("'-c'", "starts with '-'"),
    ],
)
def test_agent_python_must_be_a_path_or_command_name(python: str, says: str) -> None:
    text = HEAD + "  cs01: {site: onprem, roles: [vcenter], address: 127.0.2.10,\n"
    text += f"         agent: {{transport: ssh, python: {python}}}}}\n"
    err = _err(text)
    assert err.field == "hosts.cs01.agent.python"
    assert err.location == Location("t.yaml", 8, 42)
    assert says in err.message and "expected the path of a Python" in err.message


def test_agent_python_in_defaults_is_checked_too() -> None:
    text = "defaults:\n  agent: {python: 'python3 `id`'}\n" + HEAD
    text += "  cs01: {site: onprem, roles: [vcenter], address: 127.0.2.10}\n"
    err = _err(text)
    assert err.field == "defaults.agent.python"
    assert err.location == Location("t.yaml", 2, 19)


def test_windows_and_posix_paths_are_accepted() -> None:
    text = HEAD + (
        "  cs01: {site: onprem, roles: [vcenter], address: 127.0.2.10,\n"
        "         agent: {python: 'C:\\Program Files (x86)\\Python39\\python.exe'}}\n"
        "  mt01: {site: onprem, roles: [vcenter], address: 127.0.2.11,\n"
        "         agent: {python: /opt/py-3.11/bin/python3}}\n"
    )
    topo = load_topology_text(text, "t.yaml")
    assert topo.host("cs01").agent.python == r"C:\Program Files (x86)\Python39\python.exe"


@pytest.mark.parametrize(
    ("site", "address", "says"),
    [
        ("v6", "'::'", "unspecified address"),
        ("v6", "'ff02::1'", "multicast address"),
        ("onprem", "127.0.2.255", "broadcast address of lan 127.0.2.0/24"),
    ],
)
def test_host_addresses_that_are_not_one_machine_are_refused(
    site: str, address: str, says: str
) -> None:
    err = _err(HEAD + f"  h: {{site: {site}, roles: [vcenter], address: {address}}}\n")
    assert err.location == Location("t.yaml", 7, 44 + len(site) - 2)
    assert says in err.message


@pytest.mark.parametrize(
    ("net", "address", "says"),
    [
        ("0.0.0.0/8", "0.0.0.0", "unspecified address"),
        ("224.0.0.0/4", "224.0.0.1", "multicast address"),
        ("255.255.255.255/32", "255.255.255.255", "broadcast address"),
    ],
)
def test_unspecified_multicast_and_broadcast_ipv4(net: str, address: str, says: str) -> None:
    text = f"version: 1\nname: t\nsites:\n  s: {{networks: {{n: {net}}}}}\nhosts:\n"
    text += f"  h: {{site: s, roles: [vcenter], address: {address}}}\n"
    err = _err(text)
    assert err.field == "hosts.h.address"
    assert err.location == Location("t.yaml", 6, 43)
    assert says in err.message


def test_control_characters_in_a_host_name_are_refused() -> None:
    err = _err(HEAD + '  "cs\\e[2J01": {site: onprem, roles: [vcenter], address: 127.0.2.10}\n')
    assert "control characters" in err.message
    assert err.location is not None and err.location.line == 7


# --- smaller things -------------------------------------------------------------------

SITE = "version: 1\nname: t\nsites:\n  onprem: {networks: {lan: 127.0.2.0/24}}\n"


def test_duplicate_key_names_the_line_of_the_first_key_not_of_its_value() -> None:
    text = SITE + (
        "hosts:\n"
        "  cs01:\n"
        "    site: onprem\n"
        "    roles: [vcenter]\n"
        "    address: 127.0.2.10\n"
        "  cs01:\n"
        "    site: onprem\n"
    )
    err = _err(text)
    assert err.message == "duplicate key 'cs01' (first given at line 6)"
    assert err.location == Location("t.yaml", 10, 3)


def test_an_error_in_defaults_agent_is_reported_once_not_per_host() -> None:
    from netcheck.errors import ConfigErrors

    hosts = "".join(
        f"  h{i}: {{site: onprem, roles: [vcenter], address: 127.0.2.{10 + i}}}\n" for i in range(5)
    )
    text = SITE + "defaults:\n  agent: {port: abc}\nhosts:\n" + hosts
    err = _err(text)
    assert not isinstance(err, ConfigErrors)
    assert str(err) == "t.yaml:6:17: defaults.agent.port: expected an integer, found string 'abc'"
    # with a host error besides it: both, each once
    text = text.replace("address: 127.0.2.12", "address: 198.18.0.1")
    err = _err(text)
    assert isinstance(err, ConfigErrors)
    assert [e.field for e in err.errors] == ["defaults.agent.port", "hosts.h2.address"]


def test_empty_roles_are_refused() -> None:
    err = _err(SITE + "hosts:\n  cs01: {site: onprem, roles: [], address: 127.0.2.10}\n")
    assert err.field == "hosts.cs01.roles"
    assert err.message.startswith("a host needs at least one role")
    assert err.location == Location("t.yaml", 6, 31)


@pytest.mark.parametrize(
    ("remap", "column", "says"),
    [
        ("{443: 10443, '0443': 10444}", 29, "remap key '0443' is port 443 again (as '443')"),
        ("{443: 10443, 9443: 10443}", 35, "ports 443 and 9443 are both remapped to 10443"),
    ],
)
def test_remap_collisions_are_refused(remap: str, column: int, says: str) -> None:
    text = SITE + f"ports: {{remap: {remap}}}\nhosts:\n"
    text += "  cs01: {site: onprem, roles: [vcenter], address: 127.0.2.10}\n"
    err = _err(text)
    assert says in err.message
    assert err.location == Location("t.yaml", 5, column)
