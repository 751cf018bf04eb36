"""Deciding sites and roles (compose) and writing the topology (emit): pure."""

from __future__ import annotations

import yaml

from netcheck.inventory_import import Part, compose, parse_role_rule, render_topology
from netcheck.inventory_import.emit import flow
from netcheck.inventory_import.model import HostDraft, NicDraft, Sourced
from netcheck.topology import load_topology_text

PART = Part(
    "onprem.yaml",
    {
        "name": "t",
        "sites": {
            "onprem": {"networks": {"lan": "198.18.2.0/24"}},
            "dr": {"networks": {"lan": "198.18.0.0/16"}},  # overlaps onprem on purpose
            "other": {"networks": {"x": "198.19.7.0/24"}},
        },
    },
)


def host(name: str, address: str, groups: tuple[str, ...] = ()) -> HostDraft:
    return HostDraft(name, "test", (NicDraft("nic0", address, "test"),), groups=groups)


def test_flow_keeps_strings_strings() -> None:
    assert flow("yes") == "'yes'"
    assert flow("198.18.2.10") == "198.18.2.10"
    assert yaml.safe_load(flow("C:\\Python311\\python.exe")) == "C:\\Python311\\python.exe"
    assert flow(["process_server"]) == "[process_server]"
    assert flow({"address": "198.19.1.4"}) == "{address: 198.19.1.4}"


def test_an_address_in_several_sites_is_a_todo_and_site_patterns_decide() -> None:
    rules = [parse_role_rule("master_target=*")]
    c = compose(part=PART, hosts=[host("mt01", "198.18.2.20")], role_rules=rules)
    (todo,) = c.hosts[0].todos
    assert "in networks of several sites (dr, onprem)" in todo
    c = compose(
        part=PART,
        hosts=[host("mt01", "198.18.2.20", ("dc1",))],
        role_rules=rules,
        site_rules=[parse_role_rule("onprem=group:dc1", "--site")],
    )
    assert c.hosts[0].todos == ()
    assert c.hosts[0].site == Sourced("onprem", "--site onprem=group:dc1")
    c = compose(
        part=PART,
        hosts=[host("mt01", "198.18.2.20")],
        role_rules=rules,
        site_rules=[parse_role_rule("onprem=mt*", "--site"), parse_role_rule("dr=*", "--site")],
    )
    assert "--site patterns disagree" in c.hosts[0].todos[0]


def test_roles_accumulate_and_each_says_where_it_came_from() -> None:
    c = compose(
        part=PART,
        hosts=[host("cs01", "198.19.7.10", ("asr",))],
        role_rules=[
            parse_role_rule("config_server=cs*"),
            parse_role_rule("master_target=group:asr"),
            parse_role_rule("config_server=group:asr"),  # already has it: not twice
        ],
        group_rules=[parse_role_rule("erp=group:asr", "--replication-group")],
    )
    h = c.hosts[0]
    assert [(r.value, r.origin) for r in h.roles] == [
        ("config_server", "--role config_server=cs*"),
        ("master_target", "--role master_target=group:asr"),
    ]
    text = render_topology(c)
    assert "    roles: [config_server, master_target]  # --role config_server=cs*; --role " in text
    assert "    groups: [erp]  # --replication-group erp=group:asr" in text
    topo = load_topology_text(text)
    assert topo.host("cs01").groups == ("erp",) and topo.host("cs01").site == "other"


def test_a_todo_host_is_written_entirely_as_comments() -> None:
    c = compose(
        part=PART,
        hosts=[host("x1", "198.19.7.1"), host("ok1", "198.19.7.2")],
        role_rules=[parse_role_rule("esxi=ok*")],
    )
    text = render_topology(c)
    block = text[text.index("# TODO: x1") : text.index("  ok1:")]
    assert block and all(ln.lstrip().startswith("#") for ln in block.splitlines())
    assert "# 1 TODO(s) below" in text
    assert [h.name for h in load_topology_text(text).hosts] == ["ok1"]
