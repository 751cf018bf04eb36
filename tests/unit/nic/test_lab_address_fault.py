"""The lab's `address` fault action (a duplicate IP, an overlapping subnet): parsing and
its errors, pure (no namespace is built)."""

from __future__ import annotations

from ipaddress import IPv4Interface

import pytest

from netcheck.errors import ConfigError
from netcheck.lab import load_lab_text

LAB = """\
version: 1
name: mini
namespaces:
  a: {kind: host}
  b: {kind: host}
links:
  - ends: [{ns: a, dev: eth0, address: 198.18.250.1/24}, {ns: b, dev: eth0, address: 198.18.250.2/24}]
faults:
  dup:
    action: address
    description: b answers for a's address
    addresses:
      b: [{dev: DEV, address: ADDR}]
"""


def lab(dev: str = "eth0", addr: str = "198.18.250.1/24"):  # type: ignore[no-untyped-def]
    return load_lab_text(LAB.replace("DEV", dev).replace("ADDR", addr), "lab.yaml")


def test_an_address_fault_loads() -> None:
    [fault] = lab().faults
    assert (fault.action, fault.addresses) == (
        "address",
        (("b", "eth0", IPv4Interface("198.18.250.1/24")),),
    )


@pytest.mark.parametrize(
    ("dev", "addr", "message"),
    [
        ("eth9", "198.18.250.1/24", "b has no interface 'eth9'"),
        ("eth0", "192.0.2.1/24", "outside the lab range"),
    ],
)
def test_address_fault_errors_name_the_place(dev: str, addr: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        lab(dev, addr)
    assert "lab.yaml:" in str(err.value)


def test_an_add_route_fault_needs_no_route_of_its_own_to_restore() -> None:
    text = LAB.replace(
        "    action: address\n    description: b answers for a's address\n"
        "    addresses:\n      b: [{dev: DEV, address: ADDR}]\n",
        "    action: add_route\n    routes:\n      b: [{to: 198.18.251.0/24, via: 198.18.250.1}]\n",
    )
    [fault] = load_lab_text(text, "lab.yaml").faults
    assert fault.action == "add_route" and fault.routes[0][0] == "b"
