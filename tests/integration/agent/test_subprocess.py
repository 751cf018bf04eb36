"""``python -m netcheck_agent`` as a real process over stdin/stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import netcheck_agent
import pytest

AGENTS_DIR = str(Path(netcheck_agent.__file__).resolve().parent.parent)
NONCE = "feedface" * 4


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=AGENTS_DIR)
    return subprocess.Popen(
        [sys.executable, "-m", "netcheck_agent", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def read_msg(proc: subprocess.Popen[bytes]) -> Dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, "agent closed stdout"
    return json.loads(line)  # type: ignore[no-any-return]


def send(proc: subprocess.Popen[bytes], obj: Dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(obj).encode() + b"\n")
    proc.stdin.flush()


def processes_mentioning(marker: str) -> List[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netcheck_agent", "--version"],
        env=dict(os.environ, PYTHONPATH=AGENTS_DIR),
        capture_output=True,
        timeout=20,
        check=True,
    )
    assert out.stdout.decode().strip() == "netcheck-agent 0.1.0 (protocol 1)"


def test_hello_batch_bye(listen: Any, tmp_path: Path) -> None:
    _sock, port = listen("127.0.0.11")
    log_file = tmp_path / "agent.log"
    proc = spawn("--log-file", str(log_file))
    try:
        hello = read_msg(proc)
        assert hello["type"] == "hello" and hello["protocol"] == 1 and hello["pid"] == proc.pid
        send(
            proc,
            {
                "type": "responders_start",
                "id": "r1",
                "nonce": NONCE,
                "ttl_s": 10,
                "max_conns": 5,
                "listen": [{"address": "127.0.0.12", "port": 0}],
            },
        )
        ready = read_msg(proc)
        assert ready["type"] == "responders_ready"
        rport = ready["listening"][0]["port"]
        send(
            proc,
            {
                "type": "probe_batch",
                "batch": "b1",
                "concurrency": 4,
                "probes": [
                    {
                        "cell": "a",
                        "kind": "tcp_connect",
                        "dst": "127.0.0.11",
                        "port": port,
                        "samples": 2,
                    },
                    {
                        "cell": "b",
                        "kind": "tcp_connect",
                        "dst": "127.0.0.12",
                        "port": rport,
                        "nonce": NONCE,
                    },
                ],
            },
        )
        msgs = [read_msg(proc) for _ in range(3)]
        results = {m["cell"]: m for m in msgs if m["type"] == "result"}
        assert msgs[-1] == {
            "type": "batch_done",
            "batch": "b1",
            "cells": 2,
            "queued": 0,
            "limit": 4,
        }
        assert [s["outcome"] for s in results["a"]["samples"]] == ["open", "open"]
        assert results["b"]["samples"][0]["proven"] is True
        send(proc, {"type": "bye"})
        assert read_msg(proc)["type"] == "responders_stopped"  # stopped on the way out
        assert read_msg(proc) == {"type": "bye"}
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait()
    log = log_file.read_text()
    assert "batch b1" in log and "responders r1" in log
    assert NONCE not in log  # secrets never reach the log
    assert proc.stderr is not None and NONCE.encode() not in proc.stderr.read()


def test_eof_on_stdin_exits_promptly_and_leaves_nothing(tmp_path: Path) -> None:
    marker = str(tmp_path / f"marker-{uuid.uuid4().hex}.log")
    proc = spawn("--log-file", marker)
    try:
        assert read_msg(proc)["type"] == "hello"
        send(
            proc,
            {
                "type": "responders_start",
                "id": "r1",
                "nonce": NONCE,
                "ttl_s": 60,
                "max_conns": 5,
                "listen": [{"address": "127.0.0.12", "port": 0}],
            },
        )
        assert read_msg(proc)["type"] == "responders_ready"
        started = time.monotonic()
        assert proc.stdin is not None
        proc.stdin.close()  # the coordinator (or the SSH channel) is gone
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 3
    finally:
        proc.kill()
        proc.wait()
    if sys.platform.startswith("linux"):
        assert processes_mentioning(marker) == []


def test_max_seconds_makes_the_agent_exit_by_itself() -> None:
    proc = spawn("--max-seconds", "0.5")
    try:
        assert read_msg(proc)["type"] == "hello"
        err = read_msg(proc)
        assert (err["type"], err["code"]) == ("error", "lifetime")
        assert read_msg(proc) == {"type": "bye"}
        assert proc.wait(timeout=5) == 3
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("bad", ["0", "-1", "nan"])
def test_bad_max_seconds_is_refused(bad: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "netcheck_agent", "--max-seconds", bad],
        env=dict(os.environ, PYTHONPATH=AGENTS_DIR),
        capture_output=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2 and out.stdout == b""
