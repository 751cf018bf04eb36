"""The declaration types the loader, the schema and the docs share."""

from __future__ import annotations

import re

import pytest

from netcheck.topology.declare import (
    NO_DEFAULT,
    STRING,
    Key,
    Section,
    anycase,
    default_of,
    in_range,
)
from netcheck.topology.model import SweepSettings


def test_anycase_matches_every_case_and_nothing_else() -> None:
    pattern = re.compile(anycase("windows", "lsi logic", "a.b"))
    for text in ("windows", "Windows", "WINDOWS", "LSI Logic", "a.b"):
        assert pattern.match(text), text
    for text in ("window", "windowsx", " windows", "lsi  logic", "axb"):
        assert not pattern.match(text), text


def test_in_range_is_an_integer_only_between_integers() -> None:
    assert in_range(1, 100).type == "integer"
    assert in_range(0.1, 300.0).type == "number"
    assert (in_range(1, 5).minimum, in_range(1, 5).maximum) == (1, 5)


def test_default_of_reads_the_models_default() -> None:
    assert default_of(SweepSettings, "samples") == SweepSettings().samples
    with pytest.raises(KeyError):
        default_of(SweepSettings, "no_such_field")


def test_a_section_declares_each_key_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Section("s", "doc", (Key("a", STRING, "x"), Key("a", STRING, "y")))


def test_required_keys_keep_their_declared_order_and_defaults_their_text() -> None:
    s = Section(
        "s",
        "doc",
        (
            Key("b", STRING, "x", required=True),
            Key("a", STRING, "y", required=True),
            Key("c", STRING, "z", default=False),
        ),
    )
    assert s.required == ("b", "a")
    assert s.keys == frozenset("abc")
    assert s.key("c").default_text == "false"
    assert s.key("a").default is NO_DEFAULT and s.key("a").default_text == ""
