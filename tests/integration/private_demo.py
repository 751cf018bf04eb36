"""The shipped loopback demos, moved to a loopback range of a test's own."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import TOPOLOGIES

__all__ = ["private_copy"]


def private_copy(name: str, dest: Path, second_octet: int) -> Path:
    """The shipped demo topology moved from 127.0.x.y to 127.<second_octet>.x.y.

    Other tests and benchmarks sweep the same demo at the same time on this machine;
    its own loopback range keeps this run's responders and silent ports apart from
    theirs. Nothing else in the topology changes.
    """
    text = (TOPOLOGIES / name).read_text(encoding="utf-8")
    moved = text.replace("127.0.", f"127.{second_octet}.")
    assert moved != text
    dest.write_text(moved, encoding="utf-8")
    return dest
