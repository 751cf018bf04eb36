"""The topology's JSON Schema and the loader agree: same keys, same structure, same refusals.

The schema is rendered from the `Section` declarations the loader takes its key sets
from (netcheck.topology.declare). These tests hold the rest of the agreement:

- the shipped schema file is the current rendering, and a valid draft-07 schema;
- every shipped topology and every valid fixture passes `check-jsonschema` (the real
  command) and loads;
- every invalid fixture whose error is structural (unknown key, wrong type, missing
  key, a value out of its declared range) is refused by the schema too;
- generated from a document that uses every key: an unknown key added to each mapping,
  each required key dropped, each bound pushed one step out: both refuse; each bound
  exactly: both accept.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from netcheck.errors import ConfigError
from netcheck.topology import load_topology, load_topology_text
from netcheck.topology.declare import NO_DEFAULT, ListOf, MapOf, OneOf, Ref, Scalar, Section, Shape
from netcheck.topology.schema import ROOT, SCHEMA_FILE, render_schema, sections, walk

REPO = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO / "netcheck" / "topology" / SCHEMA_FILE
FIXTURES = REPO / "tests" / "fixtures" / "topologies"
EVERY_KEY = REPO / "tests" / "fixtures" / "topology-every-key.yaml"
# topologies/ holds netcheck topologies and namespace-lab descriptions (netcheck.lab),
# a format of their own: the schema is not theirs
LAB_DESCRIPTIONS = {"topologies/lab/failback-lab.yaml"}
SHIPPED = sorted(
    p.relative_to(REPO).as_posix()
    for p in (REPO / "topologies").rglob("*.yaml")
    if p.relative_to(REPO).as_posix() not in LAB_DESCRIPTIONS
)
VALID_FIXTURES = ["tests/fixtures/topologies/valid-minimal.yaml", EVERY_KEY.relative_to(REPO)]

# invalid fixtures the schema refuses too: the error is in one value's shape
STRUCTURAL = {
    "empty.yaml",  # not a mapping
    "hosts-not-mapping.yaml",
    "no-nics.yaml",  # minProperties
    "path-one-site.yaml",  # minItems
    "port-not-integer.yaml",
    "port-out-of-range.yaml",
    "remap-out-of-range.yaml",
    "several-errors.yaml",
    "unknown-agent-key.yaml",
    "unknown-host-key.yaml",
    "unknown-nic-key.yaml",
    "unknown-top-key.yaml",
    "unknown-path-kind.yaml",  # enum
    "unknown-role.yaml",  # enum
    "unknown-transport.yaml",  # enum
    "unsupported-version.yaml",  # const
    "bad-address.yaml",  # format ipv4/ipv6
}
# invalid fixtures only the loader refuses: references between keys (a site a host names,
# an address inside a site's networks, duplicates across hosts) and values the schema
# cannot express (a CIDR's host bits, a loopback address)
LOADER_ONLY = {
    "address-outside-site.yaml",
    "bad-cidr.yaml",
    "cidr-host-bits.yaml",
    "duplicate-address-across-hosts.yaml",
    "duplicate-nic-address.yaml",
    "path-same-site-twice.yaml",
    "silent-port-not-loopback.yaml",
    "unknown-site-host.yaml",
    "unknown-site-path.yaml",
}
# not YAML a schema applies to: refused by both YAML readers
NOT_YAML = {"malformed.yaml", "duplicate-host.yaml"}


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


VALIDATOR = jsonschema.Draft7Validator(
    _schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
)


def _jsonable(value: Any) -> Any:
    """YAML data as JSON sees it (mapping keys are strings: `remap: {443: 10443}`)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _data(path: Path) -> Any:
    return _jsonable(yaml.safe_load(path.read_text(encoding="utf-8")))


def _check_jsonschema(*files: str | Path) -> dict[str, Any]:
    """Run the real `check-jsonschema` command; its JSON verdict."""
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "-o", "json", "--schemafile", str(SCHEMA_PATH)]
        + [str(f) for f in files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verdict: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == (0 if verdict["status"] == "ok" else 1), proc.stderr
    return verdict


# --- the schema file -------------------------------------------------------------------


def test_shipped_schema_is_the_declarations_rendered() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "netcheck/topology/topology.schema.json is stale: "
        "python -m netcheck.topology.schema > netcheck/topology/topology.schema.json"
    )


def test_schema_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(_schema())


def test_every_section_is_reachable_and_every_loader_key_set_is_a_section() -> None:
    from netcheck.topology import bandwidth, inventory, loader, services

    by_id = sections()
    assert {s.id for _, s in walk(by_id)} == set(by_id)
    # the key sets the parsers pass to as_mapping are the declarations' own
    assert by_id[ROOT].keys == loader._TOP_KEYS
    assert by_id["agent"].keys == loader._AGENT_KEYS
    assert by_id["host"].keys == loader._HOST_KEYS
    assert by_id["retention"].keys == inventory._RETENTION_KEYS
    assert by_id["bandwidth"].keys == bandwidth._KEYS
    assert set().union(*inventory._KEYS_BY_ROLE.values()) == by_id["inventory"].keys
    assert services._AZURE.keys == by_id["azure"].keys


def test_as_mapping_is_only_ever_given_a_declared_key_set() -> None:
    # a literal key set in a parser would be a key the schema and the docs do not know
    for module in ("loader", "inventory", "services", "bandwidth"):
        text = (REPO / "netcheck" / "topology" / f"{module}.py").read_text(encoding="utf-8")
        for call in re.findall(r"as_mapping\(([^)]*)\)", text):
            assert call == "" or call.endswith((".keys", "_KEYS", "allowed")), (module, call)


# --- shipped topologies and fixtures ---------------------------------------------------


def test_shipped_topologies_are_accounted_for() -> None:
    assert "topologies/local-demo.yaml" in SHIPPED
    assert "topologies/lab/failback-topology.yaml" in SHIPPED
    for rel in LAB_DESCRIPTIONS:  # a lab description is not a topology: both say so
        assert (REPO / rel).is_file()
        assert not VALIDATOR.is_valid(_data(REPO / rel))
        with pytest.raises(ConfigError):
            load_topology(REPO / rel)


def test_check_jsonschema_validates_every_shipped_topology_and_valid_fixture() -> None:
    verdict = _check_jsonschema(*SHIPPED, *VALID_FIXTURES)
    assert verdict["status"] == "ok", json.dumps(verdict, indent=2)
    assert not verdict["errors"] and not verdict.get("parse_errors")


@pytest.mark.parametrize("rel", [*SHIPPED, *map(str, VALID_FIXTURES)])
def test_valid_documents_validate_in_process_and_load(rel: str) -> None:
    errors = [e.message for e in VALIDATOR.iter_errors(_data(REPO / rel))]
    assert errors == []
    assert load_topology(REPO / rel).hosts


@pytest.mark.parametrize("rel", [*SHIPPED, str(VALID_FIXTURES[1])])
def test_shipped_topology_names_the_schema_for_editors(rel: str) -> None:
    path = REPO / rel
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    found = [
        m for line in head if (m := re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", line))
    ]
    assert found, f"{rel}: the first lines carry no '# yaml-language-server: $schema=...'"
    assert (path.parent / found[0].group(1)).resolve() == SCHEMA_PATH


def test_every_invalid_fixture_is_classified() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.yaml")} - {"valid-minimal.yaml"}
    assert on_disk == STRUCTURAL | LOADER_ONLY | NOT_YAML
    assert not STRUCTURAL & LOADER_ONLY


def test_check_jsonschema_refuses_the_structural_fixtures_and_no_other() -> None:
    files = sorted(STRUCTURAL | LOADER_ONLY | NOT_YAML)
    verdict = _check_jsonschema(*(FIXTURES / f for f in files))
    refused = {Path(e["filename"]).name for e in verdict["errors"]}
    unparsed = {Path(e["filename"]).name for e in verdict["parse_errors"]}
    assert unparsed == NOT_YAML
    assert refused == STRUCTURAL, (
        "a fixture moved between the classes: the schema now refuses "
        f"{sorted(refused - STRUCTURAL)} and accepts {sorted(STRUCTURAL - refused)}"
    )
    for f in files:  # and the loader refuses every one of them
        with pytest.raises(ConfigError):
            load_topology(FIXTURES / f)


# --- generated: a document with every key, varied one place at a time ---------------------


def _fits(value: Any, shape: Shape) -> bool:
    if isinstance(shape, (Ref, MapOf)):
        return isinstance(value, dict)
    if isinstance(shape, ListOf):
        return isinstance(value, list)
    if isinstance(shape, OneOf):
        return any(_fits(value, c) for c in shape.choices)
    if isinstance(value, (dict, list)):
        return False
    kinds = {"string": str, "boolean": bool, "integer": int, "number": (int, float)}
    return isinstance(value, kinds[shape.type]) and (
        shape.type == "boolean" or not isinstance(value, bool)
    )


Where = tuple[str | int, ...]


def _visit(value: Any, shape: Shape, where: Where) -> Iterator[tuple[Where, Section | Scalar]]:
    """Every mapping of a declared section, and every scalar, in a document."""
    if isinstance(shape, Ref):
        section = sections()[shape.section]
        yield where, section
        for k, v in value.items():
            yield from _visit(v, section.key(k).shape, (*where, k))
    elif isinstance(shape, MapOf):
        for k, v in value.items():
            yield from _visit(v, shape.value, (*where, k))
    elif isinstance(shape, ListOf):
        for i, v in enumerate(value):
            yield from _visit(v, shape.item, (*where, i))
    elif isinstance(shape, OneOf):
        yield from _visit(value, next(c for c in shape.choices if _fits(value, c)), where)
    else:
        yield where, shape


DOC = _data(EVERY_KEY)
PLACES = list(_visit(DOC, Ref(ROOT), ()))
MAPPINGS = [(w, s) for w, s in PLACES if isinstance(s, Section)]
SCALARS = [(w, s) for w, s in PLACES if isinstance(s, Scalar)]


def _label(where: Where) -> str:
    return ".".join(str(p) for p in where) or "<root>"


def _at(doc: Any, where: Where) -> Any:
    for p in where:
        doc = doc[p]
    return doc


def _both(doc: Any) -> tuple[bool, str, bool]:
    """(loader accepts, loader's message, schema accepts)."""
    try:
        load_topology_text(yaml.safe_dump(doc, sort_keys=False), "every-key.yaml")
        loaded, message = True, ""
    except ConfigError as exc:
        loaded, message = False, str(exc)
    return loaded, message, VALIDATOR.is_valid(doc)


def test_the_document_uses_every_key_of_every_section() -> None:
    used = {(s.id, k) for w, s in MAPPINGS for k in _at(DOC, w)}
    declared = {(s.id, k.name) for s in sections().values() for k in s.fields}
    assert declared - used == set(), f"add these keys to {EVERY_KEY.name}"


def test_the_document_is_valid_for_both() -> None:
    assert _both(DOC) == (True, "", True)


@pytest.mark.parametrize(("where", "section"), MAPPINGS, ids=[_label(w) for w, _ in MAPPINGS])
def test_an_unknown_key_is_refused_by_both(where: Where, section: Section) -> None:
    doc = copy.deepcopy(DOC)
    _at(doc, where)["x_not_a_key"] = 1
    loaded, message, valid = _both(doc)
    assert not loaded and "unknown key 'x_not_a_key'" in message
    assert not valid


REQUIRED = [
    (w, group)
    for w, s in MAPPINGS
    for group in [(k,) for k in s.required] + [g for g in s.one_of_required]
]


@pytest.mark.parametrize(
    ("where", "keys"), REQUIRED, ids=[f"{_label(w)}-{'+'.join(g)}" for w, g in REQUIRED]
)
def test_a_missing_required_key_is_refused_by_both(where: Where, keys: tuple[str, ...]) -> None:
    doc = copy.deepcopy(DOC)
    for k in keys:
        _at(doc, where).pop(k, None)
    loaded, _, valid = _both(doc)
    assert (loaded, valid) == (False, False)


BOUNDS = [
    (w, bound, step)
    for w, s in SCALARS
    if s.type in ("integer", "number")
    for bound, step in ((s.minimum, -1), (s.maximum, +1))
    if bound is not None
]


@pytest.mark.parametrize(
    ("where", "bound", "step"),
    BOUNDS,
    ids=[f"{_label(w)}-{'min' if s < 0 else 'max'}" for w, _, s in BOUNDS],
)
def test_a_bound_is_the_same_for_both(where: Where, bound: float, step: int) -> None:
    scalar = dict(SCALARS)[where]
    exact: float = int(bound) if scalar.type == "integer" else bound
    doc = copy.deepcopy(DOC)
    _at(doc, where[:-1])[where[-1]] = exact
    assert _both(doc) == (True, "", True), f"{_label(where)} = {exact}"
    _at(doc, where[:-1])[where[-1]] = exact + step
    loaded, _, valid = _both(doc)
    assert (loaded, valid) == (False, False), f"{_label(where)} = {exact + step}"


def test_both_refuse_address_and_nics_together() -> None:
    doc = copy.deepcopy(DOC)
    doc["hosts"]["cs01"]["address"] = "127.0.2.10"
    loaded, message, valid = _both(doc)
    assert (loaded, valid) == (False, False)
    assert "either 'address'" in message


def test_both_refuse_an_inventory_key_of_another_role() -> None:
    doc = copy.deepcopy(DOC)
    doc["hosts"]["esxi01"]["inventory"]["vcpus"] = 4  # a configuration server's key
    loaded, message, valid = _both(doc)
    assert (loaded, valid) == (False, False)
    assert "inventory key of role config_server" in message


UNBOUNDED = [
    (w, value)
    for w, s in SCALARS
    if s.type in ("integer", "number") and not s.enum
    for limit, value in ((s.minimum, -1), (s.maximum, 10**6))
    if limit is None
]


@pytest.mark.parametrize(
    ("where", "value"), UNBOUNDED, ids=[f"{_label(w)}={v}" for w, v in UNBOUNDED]
)
def test_no_bound_is_the_loaders_alone(where: Where, value: int) -> None:
    # a bound the loader checks and the declaration lacks: the schema would accept it
    doc = copy.deepcopy(DOC)
    _at(doc, where[:-1])[where[-1]] = value
    assert _both(doc) == (True, "", True), f"{_label(where)} = {value}: declare the bound"


# --- defaults: what the loader fills in for an absent key is the declared default ---------

_MINIMAL = _data(FIXTURES / "valid-minimal.yaml")
# section -> (where an empty instance goes in valid-minimal, the value the loader made of it)
_EMPTY: dict[str, tuple[Where, Any]] = {
    "ports": (("ports",), lambda t: t.ports),
    "sweep": (("sweep",), lambda t: t.sweep),
    "expect": (("paths", "s2s-vpn", "expect"), lambda t: t.paths[0].expect),
    "agent": (("hosts", "cs01", "agent"), lambda t: t.host("cs01").agent),
    "azure": (("azure",), lambda t: t.azure),
}
_ATTR = {("agent", "address"): "ssh_address", ("rule", "expect"): "expect_reachable"}


def _model_value(section: str, key: str, obj: Any) -> Any:
    value = getattr(obj, _ATTR.get((section, key), key))
    if (section, key) == ("rule", "expect"):
        return "reachable" if value else "blocked"
    return value.value if hasattr(value, "value") else value


def _defaults_cases() -> Iterator[tuple[str, Any, Any]]:
    """(section, the loaded object, its section) with every optional key left out."""
    for sid, (where, get) in _EMPTY.items():
        doc = copy.deepcopy(_MINIMAL)
        _at(doc, where[:-1])[where[-1]] = {}
        yield sid, get(load_topology_text(yaml.safe_dump(doc))), sections()[sid]
    doc = copy.deepcopy(_MINIMAL)
    doc["rules"] = [{"id": "r", "from": "config_server", "to": "process_server", "port": 1}]
    doc["bandwidth"] = [{"from": "cs01", "to": "ps-azure"}]
    topo = load_topology_text(yaml.safe_dump(doc))
    yield "rule", topo.rules[0], sections()["rule"]
    yield "bandwidth", topo.bandwidth[0], sections()["bandwidth"]


DEFAULTS_CASES = list(_defaults_cases())


@pytest.mark.parametrize(
    ("sid", "obj", "section"), DEFAULTS_CASES, ids=[c[0] for c in DEFAULTS_CASES]
)
def test_declared_defaults_are_the_loaders(sid: str, obj: Any, section: Section) -> None:
    for key in section.fields:
        if key.required:
            continue
        got = _model_value(sid, key.name, obj)
        if key.default is NO_DEFAULT:  # "not checked", "the host's first NIC": nothing filled in
            assert got in (None, ()), f"{sid}.{key.name}: the loader fills in {got!r}: declare it"
        else:
            assert got == key.default, f"{sid}.{key.name}: loader {got!r}, declared {key.default!r}"
