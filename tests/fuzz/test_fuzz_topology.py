"""Fuzz suite, topologies: ≥ 10,000 generated documents through the loader and the
planner. Whatever comes in, the only way out is a Topology (and a Plan) or a
NetcheckError with exit code 2 that names the file; `netcheck validate` on a
sample of them exits 0 or 2, never with a traceback. Counts: docs/robustness.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck.errors import NetcheckError
from netcheck.plan import build_plan
from netcheck.topology import Topology, parse_topology
from netcheck.yamlsource import load_yaml_text

# the suite bounds its own work; the global 120 s per-test timeout is for hangs on a
# quiet machine, and a fuzz test on a busy one may need longer
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
BASE = (REPO / "tests/fixtures/topologies/valid-minimal.yaml").read_text(encoding="utf-8")
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


# Documents are drawn in lists: hypothesis' cost per example, not per document,
# dominates on a busy 2-core machine, so one example carries PER_EXAMPLE documents.
PER_EXAMPLE = 10


def _many(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(strategy, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE)


def _fuzz(n: int) -> settings:
    """Settings for `n` documents (n // PER_EXAMPLE examples)."""
    return settings(
        max_examples=n // PER_EXAMPLE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


class Tally:
    """How many documents ran, and how they ended."""

    def __init__(self) -> None:
        self.docs = 0
        self.valid = 0
        self.errors = 0

    def load(self, text: str) -> None:
        self.docs += 1
        try:
            topo = parse_topology(load_yaml_text(text, "fuzz.yaml"))
            assert isinstance(topo, Topology)
            build_plan(topo)
        except NetcheckError as exc:
            assert exc.exit_code == 2
            assert str(exc)
            location = getattr(exc, "location", None)
            assert location is None or location.file == "fuzz.yaml"
            self.errors += 1
            return
        self.valid += 1


def _run(test: Callable[[Tally], Callable[[], None]], minimum: int) -> Tally:
    tally = Tally()
    test(tally)()
    assert tally.docs >= minimum, f"only {tally.docs} documents ran"
    # shown with -s; the figures in docs/robustness.md come from here
    print(f"\n{tally.docs} documents: {tally.valid} valid, {tally.errors} NetcheckError (exit 2)")
    return tally


# fmt: off
_KEY_WORDS = [
    "version", "name", "ports", "sites", "paths", "hosts", "rules", "disable_rules",
    "defaults", "sweep", "demo", "networks", "kind", "gateways", "expect", "site",
    "roles", "nics", "address", "agent", "groups", "os", "faces", "transport", "user",
    "port", "python", "responders", "replication_data", "vcenter", "remap", "mtu",
    "max_rtt_ms", "max_loss_pct", "min_mbps", "silent_ports", "id", "from", "to",
    "proto", "hint", "samples", "timeout_ms", "interval_ms", "concurrency", "onprem",
    "azure", "cs01", "443", "0443", "x", "failback", "bandwidth", "inventory", "tls", "dns",
]
_VALUE_WORDS = [
    "1", "vpn", "expressroute", "onprem", "azure", "config_server", "process_server",
    "protected_vm", "master_target", "vcenter", "none", "local", "ssh", "windows", "linux",
    "127.0.2.10", "127.0.2.0/24", "127.0.2.1/24", "0.0.0.0", "::", "224.0.0.1",
    "255.255.255.255", "127.0.2.255", "::1", "2001:db8::/64", "cs01", "cs01:9443",
    "host:cs01", "blocked", "reachable", "", "a b", "tcp", "udp", "python3 $(id)",
    "C:\\Py\"\\python.exe", "\x1b[2J", "g1", "-1", "1e309",
]
# fmt: on
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
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(_KEY_WORDS), inner, max_size=5)
    ),
    max_leaves=14,
)
# eight sections of full-size documents cost ~25 ms a document to draw: smaller ones
_SECTION = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEY_WORDS), inner, max_size=4)
    ),
    max_leaves=6,
)
_TOP = st.fixed_dictionaries(
    {"version": st.just(1), "name": st.just("f")},
    optional={
        k: _SECTION
        for k in ("ports", "sites", "paths", "hosts", "rules", "sweep", "demo", "defaults")
    },
)


def _dump(doc: Any) -> str:
    return str(yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True))


def test_arbitrary_text() -> None:
    def make(t: Tally) -> Callable[[], None]:
        @_fuzz(2500)
        @given(_many(st.text(max_size=300)))
        def inner(texts: list[str]) -> None:
            for text in texts:
                t.load(text)

        return inner

    _run(make, 2500)


def test_yaml_structures_from_the_topology_vocabulary() -> None:
    def make(t: Tally) -> Callable[[], None]:
        @_fuzz(3000)
        @given(_many(_DOCS))
        def inner(docs: list[Any]) -> None:
            for doc in docs:
                t.load(_dump(doc))

        return inner

    _run(make, 3000)


def test_topology_shaped_documents() -> None:
    def make(t: Tally) -> Callable[[], None]:
        @_fuzz(1500)
        @given(_many(_TOP))
        def inner(docs: list[dict[str, Any]]) -> None:
            for doc in docs:
                t.load(_dump(doc))

        return inner

    _run(make, 1500)


def test_one_value_of_a_valid_topology_replaced() -> None:
    lines = BASE.splitlines()
    candidates = [i for i, ln in enumerate(lines) if ":" in ln and not ln.lstrip().startswith("#")]

    def make(t: Tally) -> Callable[[], None]:
        @_fuzz(3000)
        @given(_many(st.tuples(st.sampled_from(candidates), _DOCS)))
        def inner(changes: list[tuple[int, Any]]) -> None:
            for i, value in changes:
                new = list(lines)
                key = new[i].split(":", 1)[0]
                flow = yaml.dump(value, Dumper=_DUMPER, default_flow_style=True, width=10**6)
                flow = flow.removesuffix("\n...\n").strip()  # a bare scalar ends its document
                new[i] = f"{key}: {flow}"
                t.load("\n".join(new) + "\n")

        return inner

    tally = _run(make, 3000)
    assert tally.errors > 0
    # the other way out, valid, is rare among one-value changes (a few in 3,000), so
    # it is checked for sure on the unchanged document
    before = tally.valid
    tally.load(BASE)
    assert tally.valid == before + 1


def test_validate_exits_0_or_2_on_fuzzed_files(tmp_path: Path, capsys: Any) -> None:
    from netcheck.cli import main

    path = tmp_path / "fuzz.yaml"
    codes: dict[int, int] = {}

    @_fuzz(300)
    @given(_many(st.one_of(_TOP.map(_dump), st.text(max_size=200))))
    def inner(texts: list[str]) -> None:
        for text in texts:
            path.write_text(text, encoding="utf-8")
            code = main(["validate", str(path)])
            capsys.readouterr()
            assert code in (0, 2)
            codes[code] = codes.get(code, 0) + 1

    inner()
    assert sum(codes.values()) >= 290 and codes.get(2, 0) > 0
