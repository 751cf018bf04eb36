"""The topology's `bandwidth:` section: parsed checks, and errors at file:line:column."""

from __future__ import annotations

import pytest

from netcheck.errors import ConfigError
from netcheck.topology import load_topology_text
from netcheck.topology.bandwidth import BandwidthCheck

HEAD = """\
version: 1
name: bw
sites:
  onprem: {networks: {lan: 198.18.2.0/24}}
  azure: {networks: {vnet: 198.19.1.0/24}}
hosts:
  mt01: {site: onprem, roles: [master_target], address: 198.18.2.20}
  vcenter: {site: onprem, roles: [vcenter], address: 198.18.2.30, agent: none}
  ps-azure: {site: azure, roles: [process_server], address: 198.19.1.4}
bandwidth:
"""


def error(body: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_topology_text(HEAD + body, "bw.yaml")
    return str(exc.value)


def test_checks_are_parsed_with_defaults() -> None:
    topo = load_topology_text(
        HEAD
        + "  - {from: ps-azure, to: mt01}\n"
        + "  - {from: mt01, to: ps-azure, duration_s: 5, streams: 8, reverse: true, port: 9443}\n",
        "bw.yaml",
    )
    assert topo.bandwidth == (
        BandwidthCheck("ps-azure", "mt01", 10.0, 4, False, 0),
        BandwidthCheck("mt01", "ps-azure", 5.0, 8, True, 9443),
    )
    assert topo.bandwidth[1].sender == "ps-azure" and topo.bandwidth[1].receiver == "mt01"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - {from: ps-azure, to: mt09}\n", "bw.yaml:11:26: bandwidth[0].to: unknown host 'mt09'"),
        ("  - {from: ps-azure}\n", "a bandwidth test needs 'to'"),
        ("  - {from: ps-azure, to: vcenter}\n", "host 'vcenter' has agent: none"),
        ("  - {from: mt01, to: mt01}\n", "joins two different hosts"),
        ("  - {from: mt01, to: ps-azure, streams: 33}\n", "bandwidth[0].streams"),
        ("  - {from: mt01, to: ps-azure, duration_s: 301}\n", "expected a number from 0.1 to 300"),
        ("  - {from: mt01, to: ps-azure, rate: 5}\n", "rate"),
        (
            "  - {from: mt01, to: ps-azure}\n  - {from: mt01, to: ps-azure}\n",
            "bw.yaml:12:5: bandwidth[1]: the same test as line 11",
        ),
    ],
)
def test_errors_name_the_place(body: str, expected: str) -> None:
    assert expected in error(body)
