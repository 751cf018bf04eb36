"""Scale of input: every way a file can be too large is refused early, with a
message that says what is too large (not a MemoryError, not a wrong guess)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from netcheck import plan as plan_mod
from netcheck import yamlsource
from netcheck.errors import ConfigError, Location
from netcheck.plan import build_plan
from netcheck.topology import load_topology_text
from netcheck.topology.loader import MAX_GROUP_MEMBERS
from netcheck.yamlsource import load_yaml_file, load_yaml_text


def test_dev_zero_is_refused_by_size() -> None:
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as ei:
        load_yaml_file("/dev/zero")
    assert ei.value.message.startswith("larger than 16 MiB")
    assert ei.value.location == Location("/dev/zero")
    assert time.monotonic() - t0 < 30


def test_a_file_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(yamlsource.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        load_yaml_file(big)
    ok = tmp_path / "ok.yaml"
    ok.write_text("a: 1\n")
    assert load_yaml_file(ok).value["a"].value == 1


def test_a_huge_list_is_refused_while_parsing_not_after_composing() -> None:
    text = "version: 1\ndisable_rules:\n" + "  - r\n" * (yamlsource.MAX_NODES + 10)
    with pytest.raises(ConfigError) as ei:
        load_yaml_text(text, "huge.yaml")
    assert "more than 500,000 values" in ei.value.message
    assert "alias" not in ei.value.message  # there is none
    assert (
        ei.value.location is not None and ei.value.location.line == 499_998
    )  # the 500,001st value


def test_the_value_count_stops_before_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "MAX_NODES", 100)
    monkeypatch.setattr(yamlsource, "_COUNT_FIRST_BYTES", 10)

    def no_compose(*a: object, **kw: object) -> None:
        raise AssertionError("composed a document over the budget")

    monkeypatch.setattr(yaml, "compose", no_compose)
    with pytest.raises(ConfigError, match="more than 100 values"):
        load_yaml_text("a: [" + ",".join(["x"] * 200) + "]\n", "l.yaml")


def test_alias_expansion_says_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "MAX_NODES", 1000)
    laughs = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        laughs.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(ConfigError) as ei:
        load_yaml_text("\n".join(laughs) + "\n", "lol.yaml")
    assert "through YAML aliases" in ei.value.message


def _group_topology(n: int, rule: str = "") -> str:
    vms = "".join(
        f"  vm{i}: {{site: azure, roles: [protected_vm], address: 127.1.{i // 250}.{i % 250 + 1},"
        f" groups: [g1]}}\n"
        for i in range(n)
    )
    return (
        "version: 1\nname: g\n"
        "sites:\n  azure: {networks: {vnet: 127.1.0.0/16}}\n"
        f"{rule}"
        "defaults: {agent: {transport: local}}\n"
        "hosts:\n" + vms
    )


def test_a_replication_group_past_the_bound_is_refused_at_its_first_extra_member() -> None:
    topo = load_topology_text(_group_topology(MAX_GROUP_MEMBERS), "g.yaml")
    cells = [s for s in build_plan(topo).specs if s.port == 20004]
    assert len(cells) == MAX_GROUP_MEMBERS * (MAX_GROUP_MEMBERS - 1)  # the full mesh
    with pytest.raises(ConfigError) as ei:
        load_topology_text(_group_topology(1000), "g.yaml")
    err = ei.value
    assert err.field == f"hosts.vm{MAX_GROUP_MEMBERS}.groups"
    assert err.location is not None and err.location.line == 7 + MAX_GROUP_MEMBERS
    assert "replication group 'g1' has 1000 members, more than 64" in err.message
    assert "999,000 cells" in err.message


def test_a_rule_that_pairs_everyone_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    rule = "rules:\n  - {id: mesh, from: protected_vm, to: protected_vm, port: 5000}\n"
    text = _group_topology(40, rule).replace(", groups: [g1]", "")
    topo = load_topology_text(text, "m.yaml")
    assert len(build_plan(topo).specs) > 1000
    monkeypatch.setattr(plan_mod, "MAX_PLAN_CELLS", 1000)
    with pytest.raises(ConfigError) as ei:
        build_plan(topo)
    assert "more than 1,000 cells (at rule 'mesh')" in ei.value.message
    assert ei.value.location == Location("m.yaml")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_validate_dev_zero_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from netcheck.cli import main

    assert main(["validate", "/dev/zero"]) == 2
    assert "larger than 16 MiB" in capsys.readouterr().err
