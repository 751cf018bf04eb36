"""A near miss of a key name gets a suggestion; anything else gets the full list only."""

from __future__ import annotations

from netcheck.errors import did_you_mean, unknown_key

KEYS = ("address", "agent", "dns", "groups", "nics", "os", "roles", "site")


def test_a_typo_is_answered_with_the_key_meant() -> None:
    assert did_you_mean("adress", KEYS) == " (did you mean 'address'?)"
    assert did_you_mean("role", KEYS) == " (did you mean 'roles'?)"


def test_a_word_far_from_every_key_gets_no_guess() -> None:
    assert did_you_mean("colour", KEYS) == ""
    assert did_you_mean("x", KEYS) == ""


def test_the_message_keeps_every_allowed_key_sorted() -> None:
    assert unknown_key("adress", reversed(KEYS)) == (
        "unknown key 'adress' (did you mean 'address'?); expected one of: "
        "address, agent, dns, groups, nics, os, roles, site"
    )
    assert unknown_key("colour", KEYS).startswith("unknown key 'colour'; expected one of: address")
