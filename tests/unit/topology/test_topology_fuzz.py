"""Fuzz the two-step config: whatever the input, only ConfigError (or a Topology) comes out."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from netcheck.errors import ConfigError
from netcheck.topology import Topology, parse_topology
from netcheck.yamlsource import load_yaml_text

BASE = (
    Path(__file__).resolve().parents[3] / "tests/fixtures/topologies/valid-minimal.yaml"
).read_text(encoding="utf-8")

# PyYAML is pure Python here: few, small examples keep the unit suite fast. For a
# longer hunt, raise max_examples locally (thousands ran clean when this was written).
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _load(text: str) -> None:
    try:
        topo = parse_topology(load_yaml_text(text, "fuzz.yaml"))
    except ConfigError as exc:
        # every error is for a person: it renders, and says where when it can
        assert str(exc)
        assert exc.location is None or exc.location.file == "fuzz.yaml"
        return
    assert isinstance(topo, Topology)


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=300))
@example("a: 2001-13-45")
@example("a: &x [*x]")
@example(
    "version: 1\nname: t\nsites: {a: {networks: {n: 127.0.0.0/8}}}\nhosts: {h: {site: a, roles: [], nics: {}}}"
)
def test_arbitrary_text(text: str) -> None:
    _load(text)


# YAML-ish documents built from the topology's own vocabulary, so the validators
# (not only the YAML parser) see the odd shapes.
# fmt: off
_KEY_WORDS = [
    "version", "name", "ports", "sites", "paths", "hosts", "rules", "disable_rules",
    "defaults", "sweep", "demo", "networks", "kind", "gateways", "expect", "site",
    "roles", "nics", "address", "agent", "groups", "os", "faces", "transport", "user",
    "port", "python", "responders", "replication_data", "vcenter", "remap", "mtu",
    "max_rtt_ms", "max_loss_pct", "min_mbps", "silent_ports", "id", "from", "to",
    "proto", "hint", "samples", "timeout_ms", "interval_ms", "concurrency", "onprem",
    "azure", "cs01", "443", "x",
]
_VALUE_WORDS = [
    "1", "vpn", "expressroute", "mpls", "onprem", "azure", "config_server",
    "process_server", "protected_vm", "vcenter", "none", "local", "ssh", "windows",
    "127.0.2.10", "127.0.2.0/24", "127.0.2.1/24", "::1", "2001:db8::/64", "cs01",
    "cs01:9443", "host:cs01", "blocked", "reachable", "", "a b", "tcp", "udp",
]
# fmt: on
_KEYS = st.sampled_from(_KEY_WORDS)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(_VALUE_WORDS),
    st.text(max_size=12),
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=12,
)


@FUZZ
@given(_DOCS)
def test_yaml_structures(doc: object) -> None:
    _load(yaml.safe_dump(doc))


@settings(FUZZ, max_examples=40)
@given(
    st.fixed_dictionaries(
        {"version": st.just(1), "name": st.just("f")},
        optional={
            k: _DOCS
            for k in (
                "ports",
                "sites",
                "paths",
                "hosts",
                "rules",
                "sweep",
                "demo",
                "defaults",
                "disable_rules",
            )
        },
    )
)
def test_topology_shaped_documents(doc: dict[str, object]) -> None:
    _load(yaml.safe_dump(doc))


@FUZZ
@given(st.data())
def test_one_value_of_a_valid_topology_replaced(data: st.DataObject) -> None:
    lines = BASE.splitlines()
    candidates = [i for i, ln in enumerate(lines) if ":" in ln and not ln.startswith("#")]
    i = data.draw(st.sampled_from(candidates))
    key = lines[i].split(":", 1)[0]
    value = data.draw(_DOCS)
    flow = yaml.safe_dump(value, default_flow_style=True, width=10**6)
    flow = flow.removesuffix("\n...\n").strip()  # a bare scalar ends its document
    lines[i] = f"{key}: {flow}"
    _load("\n".join(lines) + "\n")
