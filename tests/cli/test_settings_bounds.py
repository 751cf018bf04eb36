"""Settings bounds are declared once (`netcheck_agent.bounds`): the topology's `sweep:`
section, the command-line flags and the protocol reject the same values with the same
words, before any connection is opened."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from netcheck_agent import bounds
from netcheck_agent import protocol as p

from netcheck.cli import main
from netcheck.errors import ConfigError
from netcheck.topology import load_topology_text

ROOT = Path(__file__).resolve().parents[2]
DEMO = (ROOT / "topologies" / "local-demo.yaml").read_text()
NETCHECK = (sys.executable, "-m", "netcheck")


def _out_of_range(b: bounds.Bound[Any]) -> list[Any]:
    step = 1 if b.integer else 0.05
    return [b.lo - step, b.hi + step, "many"]


def _bad(b: bounds.Bound[Any]) -> list[Any]:
    return [*_out_of_range(b), True]  # YAML and the wire also see booleans


# (bound, a value it refuses)
SWEEP_CASES = [(b, v) for b in bounds.SWEEP for v in _bad(b)]
CLI_CASES = [
    (b, v)
    for b in (*bounds.SWEEP, bounds.HOST_CONCURRENCY, bounds.SSH_TIMEOUT_S)
    for v in _out_of_range(b)
]


BW_YAML_CASES = [(b, v) for b in (bounds.BW_DURATION_S, bounds.BW_STREAMS) for v in _bad(b)]
BW_CLI_CASES = [
    (b, v)
    for b in (bounds.BW_DURATION_S, bounds.BW_STREAMS, bounds.BW_INTERVAL_MS)
    for v in _out_of_range(b)
]
BW_FLAGS = {"duration_s": "--duration"}  # a flag named after its unit-less word


def _with_sweep(name: str, value: Any) -> str:
    """The demo topology with `sweep:` holding only `name: value`."""
    word = "true" if value is True else str(value)
    topo = re.sub(r"^sweep:\n(?:  .*\n)*", f"sweep:\n  {name}: {word}\n", DEMO, flags=re.M)
    assert f"  {name}: {word}\n" in topo
    return topo


def _flag(b: bounds.Bound[Any]) -> str:
    return "--" + b.name.replace("_", "-")


@pytest.fixture
def ssh_listener() -> Iterator[tuple[socket.socket, str]]:
    """A loopback listener every host of the topology would SSH to: it counts connections."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.setblocking(False)
    port = srv.getsockname()[1]
    topo = DEMO.replace(
        "agent: {transport: local}", f"agent: {{transport: ssh, address: 127.0.0.1, port: {port}}}"
    )
    assert topo != DEMO
    yield srv, topo
    srv.close()


def _connections(srv: socket.socket) -> int:
    n = 0
    while True:
        try:
            conn, _ = srv.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


@pytest.mark.parametrize(("bound", "value"), CLI_CASES, ids=str)
def test_the_cli_rejects_out_of_range_flags_before_connecting(
    bound: bounds.Bound[Any],
    value: Any,
    ssh_listener: tuple[socket.socket, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    srv, topo = ssh_listener
    path = tmp_path / "t.yaml"
    path.write_text(topo)
    assert main(["sweep", str(path), "--no-store", _flag(bound), str(value)]) == 2
    err = capsys.readouterr().err
    expected = bound.problem(value, None if isinstance(value, str) else str(value))
    assert err.rstrip().endswith(f"argument {_flag(bound)}: {expected}"), err
    assert "Traceback" not in err
    assert _connections(srv) == 0


@pytest.mark.parametrize(("bound", "value"), SWEEP_CASES, ids=str)
def test_yaml_rejects_the_same_values_with_the_same_words(
    bound: bounds.Bound[Any], value: Any
) -> None:
    topo = _with_sweep(bound.name, value)
    with pytest.raises(ConfigError) as info:
        load_topology_text(topo)
    assert info.value.field == f"sweep.{bound.name}"
    assert info.value.message == bound.problem(value)


@pytest.mark.parametrize(("bound", "value"), SWEEP_CASES, ids=str)
def test_the_protocol_rejects_the_same_values_with_the_same_words(
    bound: bounds.Bound[Any], value: Any
) -> None:
    with pytest.raises(p.ProtocolError) as info:
        if bound is bounds.CONCURRENCY:
            p.ProbeBatch("b", (), value)
        else:
            p.ProbeRequest("c", "tcp_connect", "127.0.0.1", 1, **{bound.name: value})
    assert info.value.field == bound.name
    assert info.value.reason == bound.problem(value)


@pytest.mark.parametrize("bound", bounds.SWEEP, ids=lambda b: b.name)
def test_the_edges_are_accepted_everywhere(bound: bounds.Bound[Any]) -> None:
    for value in (bound.lo, bound.hi):
        assert (
            getattr(load_topology_text(_with_sweep(bound.name, value)).sweep, bound.name) == value
        )
        assert bound.parse(str(value)) == value
        if bound is bounds.CONCURRENCY:
            assert p.ProbeBatch("b", (), value).concurrency == value
        else:
            req = p.ProbeRequest("c", "tcp_connect", "127.0.0.1", 1, **{bound.name: value})
            assert getattr(req, bound.name) == value


def test_a_sweep_that_passes_the_checks_does_connect(
    ssh_listener: tuple[socket.socket, str], tmp_path: Path
) -> None:
    """The control: with valid settings the same command reaches the SSH listener, so
    the zero counted above means the bad setting stopped it before any connection."""
    srv, topo = ssh_listener
    path = tmp_path / "t.yaml"
    path.write_text(topo)
    proc = subprocess.run(
        [*NETCHECK, "sweep", str(path), "--no-store", "--no-progress", "--ssh-timeout", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert _connections(srv) >= 1


def test_the_old_sweep_time_traceback_is_a_usage_error() -> None:
    """`--timeout-ms 600001` used to pass `plan` and fail at sweep time with a traceback."""
    for cmd in ("plan", "sweep"):
        proc = subprocess.run(
            [*NETCHECK, cmd, "topologies/local-demo.yaml", "--timeout-ms", "600001"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert proc.stderr.rstrip().endswith(
            "argument --timeout-ms: expected an integer from 10 to 60000, got 600001"
        )


def _word(value: Any) -> str:
    return "true" if value is True else str(value)


@pytest.mark.parametrize(("bound", "value"), BW_CLI_CASES, ids=str)
def test_bandwidth_flags_use_the_same_bounds_before_connecting(
    bound: bounds.Bound[Any],
    value: Any,
    ssh_listener: tuple[socket.socket, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    srv, topo = ssh_listener
    path = tmp_path / "t.yaml"
    path.write_text(topo)
    flag = BW_FLAGS.get(bound.name, _flag(bound))
    argv = ["bandwidth", str(path), "--from", "cs01", "--to", "mt01", flag, str(value)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    expected = bound.problem(value, None if isinstance(value, str) else str(value))
    assert err.rstrip().endswith(f"argument {flag}: {expected}"), err
    assert "Traceback" not in err
    assert _connections(srv) == 0


@pytest.mark.parametrize(("bound", "value"), BW_YAML_CASES, ids=str)
def test_bandwidth_yaml_and_wire_use_the_same_bounds(bound: bounds.Bound[Any], value: Any) -> None:
    topo = DEMO + f"bandwidth:\n  - {{from: cs01, to: mt01, {bound.name}: {_word(value)}}}\n"
    with pytest.raises(ConfigError) as info:
        load_topology_text(topo)
    assert info.value.field == f"bandwidth[0].{bound.name}"
    assert info.value.message == bound.problem(value)
    with pytest.raises(p.ProtocolError) as wire:
        p.BandwidthRun("r", "::1", 1, "ab" * 16, **{bound.name: value})
    assert (wire.value.field, wire.value.reason) == (bound.name, bound.problem(value))
