"""netcheck.yamlsource: positions, field paths, shape checks and the errors it turns YAML into."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netcheck import yamlsource
from netcheck.errors import ConfigError, Location
from netcheck.yamlsource import Node, load_yaml_file, load_yaml_text

# yamlsource uses libyaml's composer when PyYAML has it, else the pure-Python one: the
# error paths below must hold for both.
_COMPOSERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])


@pytest.fixture(params=_COMPOSERS, ids=lambda c: c.__name__)
def composer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "_LOADER", request.param)


@pytest.mark.usefixtures("composer")
def test_nodes_carry_file_line_column_and_dotted_field() -> None:
    root = load_yaml_text("a:\n  b: [x, {c: 5}]\n", "t.yaml")
    assert root.location == Location("t.yaml", 1, 1)
    b = root.value["a"].value["b"]
    assert b.field == "a.b"
    assert b.location == Location("t.yaml", 2, 6)
    c = b.value[1].value["c"]
    assert (c.value, c.field, c.location) == (5, "a.b[1].c", Location("t.yaml", 2, 14))


def test_scalars_keep_their_yaml_types() -> None:
    root = load_yaml_text("i: 7\nf: 1.5\nt: true\nn: null\ns: '7'\nd: 2024-01-02\n")
    v = {k: n.value for k, n in root.value.items()}
    assert v == {"i": 7, "f": 1.5, "t": True, "n": None, "s": "7", "d": "2024-01-02"}
    assert type(v["i"]) is int and type(v["s"]) is str
    # a timestamp is kept as the text the user wrote, not a datetime
    assert type(v["d"]) is str


@pytest.mark.usefixtures("composer")
def test_malformed_yaml_names_the_position() -> None:
    with pytest.raises(ConfigError) as ei:
        load_yaml_text("a: [1, 2\nb: 3\n", "bad.yaml")
    err = ei.value
    assert err.location is not None
    assert err.location.file == "bad.yaml"
    assert err.location.line == 2
    assert err.message.startswith("malformed YAML: ")
    assert str(err).startswith("bad.yaml:2:")


@pytest.mark.usefixtures("composer")
def test_empty_and_comment_only_text_is_an_error() -> None:
    for text in ("", "   \n", "# only a comment\n"):
        with pytest.raises(ConfigError, match="the file is empty") as ei:
            load_yaml_text(text, "e.yaml")
        assert ei.value.location == Location("e.yaml")


@pytest.mark.usefixtures("composer")
def test_two_documents_are_rejected() -> None:
    with pytest.raises(ConfigError, match="malformed YAML") as ei:
        load_yaml_text("a: 1\n---\nb: 2\n", "two.yaml")
    assert ei.value.location == Location("two.yaml", 2, 1)


@pytest.mark.usefixtures("composer")
def test_duplicate_key_points_at_the_second_key() -> None:
    with pytest.raises(ConfigError) as ei:
        load_yaml_text("hosts:\n  cs01: 1\n  mt01: 2\n  cs01: 3\n", "d.yaml")
    err = ei.value
    assert err.location == Location("d.yaml", 4, 3)
    assert err.field == "hosts.cs01"
    assert err.message == "duplicate key 'cs01' (first given at line 2)"


@pytest.mark.usefixtures("composer")
def test_non_scalar_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match="mapping keys must be plain strings") as ei:
        load_yaml_text("? [a, b]\n: 1\n", "k.yaml")
    assert ei.value.location == Location("k.yaml", 1, 3)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!binary aGVsbG8=\n", "binary"),
        ("a: !!python/name:os.system x\n", "python/name:os.system"),
        ("a: !custom x\n", "!custom"),
    ],
)
@pytest.mark.usefixtures("composer")
def test_non_plain_tags_are_rejected(text: str, tag: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed") as ei:
        load_yaml_text(text, "tag.yaml")
    assert tag in ei.value.message
    assert ei.value.location == Location("tag.yaml", 1, 4)
    assert ei.value.field == "a"


@pytest.mark.usefixtures("composer")
def test_impossible_timestamp_is_a_config_error() -> None:
    # matches YAML's timestamp pattern, but month 13 does not exist (was a ValueError)
    with pytest.raises(ConfigError, match="invalid timestamp '2001-13-45'") as ei:
        load_yaml_text("when: 2001-13-45\n", "ts.yaml")
    assert ei.value.location == Location("ts.yaml", 1, 7)
    assert ei.value.field == "when"


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x {b: *x}\n"])
@pytest.mark.usefixtures("composer")
def test_recursive_alias_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="recursive YAML alias"):
        load_yaml_text(text, "r.yaml")


def test_non_recursive_aliases_are_expanded() -> None:
    root = load_yaml_text("base: &b {user: x}\nuse: *b\n")
    assert root.value["use"].value["user"].value == "x"
    assert root.value["use"].field == "use"


@pytest.mark.usefixtures("composer")
def test_deep_nesting_is_a_config_error_not_a_recursion_error() -> None:
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_yaml_text("[" * 600 + "]" * 600, "deep.yaml")


def test_repeated_loads_do_not_keep_nodes_alive() -> None:
    for _ in range(5):
        load_yaml_text("a: [1, 2, 3]\nb: x\n")
    assert yamlsource._CONSTRUCTOR.constructed_objects == {}


# --- files -----------------------------------------------------------------


def test_load_yaml_file_reads_and_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("a: 1\n", encoding="utf-8")
    root = load_yaml_file(p)
    assert root.value["a"].location == Location(str(p), 1, 4)


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="file not found") as ei:
        load_yaml_file(p)
    assert ei.value.location == Location(str(p))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory") as ei:
        load_yaml_file(tmp_path)
    assert ei.value.location == Location(str(tmp_path))


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_yaml_file(p)


# --- shape checks ------------------------------------------------------------


def _node(text: str) -> Node:
    return load_yaml_text(f"x: {text}\n", "s.yaml").value["x"]


@pytest.mark.parametrize(
    ("text", "method", "message"),
    [
        ("5", "as_mapping", "expected a mapping, found integer 5"),
        ("{a: 1}", "as_list", "expected a list, found a mapping"),
        ("true", "as_str", "expected a string, found boolean True"),
        ("abc", "as_int", "expected an integer, found string 'abc'"),
        ("true", "as_int", "expected an integer, found boolean True"),
        ("1.5", "as_int", "expected an integer, found number 1.5"),
        ("'1'", "as_number", "expected a number, found string '1'"),
        ("yes please", "as_bool", "expected true or false, found string 'yes please'"),
        ("null", "as_str", "expected a string, found a null"),
    ],
)
def test_shape_errors_name_what_was_found(text: str, method: str, message: str) -> None:
    node = _node(text)
    with pytest.raises(ConfigError) as ei:
        getattr(node, method)()
    assert ei.value.message == message
    assert ei.value.field == "x"
    assert ei.value.location == Location("s.yaml", 1, 4)


def test_as_int_range() -> None:
    assert _node("65535").as_int(lo=1, hi=65535) == 65535
    with pytest.raises(ConfigError, match=r"70000 is out of range; expected 1\.\.65535"):
        _node("70000").as_int(lo=1, hi=65535)
    with pytest.raises(ConfigError, match=r"0 is out of range"):
        _node("0").as_int(lo=1, hi=65535)


def test_as_number_accepts_ints_and_rejects_non_finite() -> None:
    assert _node("3").as_number() == 3.0
    assert _node("0.5").as_number(lo=0) == 0.5
    with pytest.raises(ConfigError, match="too small"):
        _node("-1").as_number(lo=0)
    # NaN compares false with everything: as a threshold it would disable the check
    for text in (".nan", ".inf", "-.inf"):
        with pytest.raises(ConfigError, match="expected a finite number"):
            _node(text).as_number(lo=0)
    # '1e3' has no dot, so YAML 1.1 reads it as a string, not a float
    with pytest.raises(ConfigError, match="expected a number"):
        _node("1e3").as_number()


def test_as_mapping_rejects_unknown_keys_at_the_child() -> None:
    node = load_yaml_text("m:\n  good: 1\n  bda: 2\n", "u.yaml").value["m"]
    with pytest.raises(ConfigError) as ei:
        node.as_mapping({"good", "bad"})
    assert ei.value.message == "unknown key 'bda'; expected one of: bad, good"
    assert ei.value.field == "m.bda"
    assert ei.value.location == Location("u.yaml", 3, 3)  # the key, not its value


def test_as_str_or_list() -> None:
    assert [n.value for n in _node("a").as_str_or_list()] == ["a"]
    assert [n.value for n in _node("[a, b]").as_str_or_list()] == ["a", "b"]


def test_error_and_fail_carry_position() -> None:
    node = _node("v")
    err = node.error("nope")
    assert str(err) == "s.yaml:1:4: x: nope"
    with pytest.raises(ConfigError) as ei:
        node.fail("nope")
    assert str(ei.value) == str(err)
