"""Ansible-style host patterns (netcheck.hostpattern): one test per kind of term."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from netcheck.errors import UsageError
from netcheck.hostpattern import TermOp, parse_pattern


@dataclass(frozen=True)
class H:
    name: str
    roles: tuple[str, ...] = ()
    site: str = "onprem"
    groups: tuple[str, ...] = ()

    def values(self, key: str) -> Iterable[str]:
        return {"role": self.roles, "site": (self.site,), "group": self.groups}.get(key, ())


HOSTS = [
    H("cs01", ("config_server",)),
    H("mt01", ("master_target",), groups=("erp",)),
    H("ps-azure", ("process_server",), "azure"),
    H("vm-app01", ("protected_vm",), "azure", ("erp",)),
    H("vm-app02", ("protected_vm",), "azure", ("erp", "batch")),
    H("vm-db01", ("protected_vm",), "azure"),
]


def sel(text: str) -> list[str]:
    return parse_pattern(text).select(HOSTS)


def test_a_name_selects_that_host_only() -> None:
    assert sel("cs01") == ["cs01"]
    assert sel("cs0") == []


def test_globs_on_names() -> None:
    assert sel("vm-app*") == ["vm-app01", "vm-app02"]
    assert sel("vm-???01") == ["vm-app01"]
    assert sel("vm-app0[2-9]") == ["vm-app02"]


def test_all_and_star_select_every_host() -> None:
    assert sel("all") == [h.name for h in HOSTS]
    assert sel("*") == [h.name for h in HOSTS]


def test_regex_on_names() -> None:
    assert sel("~^vm-(app|db)01$") == ["vm-app01", "vm-db01"]


def test_role_site_and_group_keys() -> None:
    assert sel("role:process_server") == ["ps-azure"]
    assert sel("role:*_server") == ["cs01", "ps-azure"]
    assert sel("site:azure") == ["ps-azure", "vm-app01", "vm-app02", "vm-db01"]
    assert sel("group:erp") == ["mt01", "vm-app01", "vm-app02"]
    assert sel("name:cs*") == ["cs01"]


def test_comma_list_is_a_union() -> None:
    assert sel("cs01,role:process_server") == ["cs01", "ps-azure"]


def test_colon_list_is_a_union_and_keys_keep_their_colon() -> None:
    assert sel("cs01:mt01") == ["cs01", "mt01"]
    assert sel("role:config_server:site:azure:!vm-db01") == [
        "cs01",
        "ps-azure",
        "vm-app01",
        "vm-app02",
    ]


def test_exclusion() -> None:
    assert sel("site:azure,!vm-app02") == ["ps-azure", "vm-app01", "vm-db01"]
    assert sel("!site:azure") == ["cs01", "mt01"]  # only exclusions: from every host


def test_intersection() -> None:
    assert sel("group:erp,&site:azure") == ["vm-app01", "vm-app02"]
    assert sel("&group:batch") == ["vm-app02"]


def test_order_does_not_matter_as_in_ansible() -> None:
    # unions first, then &, then !: wherever they are written
    assert sel("!vm-app02,&site:azure,group:erp") == sel("group:erp,&site:azure,!vm-app02")
    assert sel("!vm-app02,&site:azure,group:erp") == ["vm-app01"]


def test_terms_are_parsed_once_into_values() -> None:
    p = parse_pattern(" role:master_target , !mt02 ")
    assert p.text == "role:master_target , !mt02"
    assert [(t.op, t.key, t.glob) for t in p.terms] == [
        (TermOp.UNION, "role", "master_target"),
        (TermOp.EXCLUDE, None, "mt02"),
    ]
    assert [str(t) for t in p.terms] == ["role:master_target", "!mt02"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty host pattern"),
        ("cs01,,mt01", "empty term"),
        ("rol:x,cs01", r"unknown key 'rol' \(did you mean 'role'\?\)"),  # no comma: hosts rol, x
        ("~(unclosed", "bad regular expression"),
        ("role:~x", "matches host names only"),
    ],
)
def test_bad_patterns_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_pattern(text)
