"""A real `netcheck watch` and a real Prometheus (Debian's `prometheus`), on loopback only.

A plain module (not a conftest) with a name no other test directory uses: the
watch tests, the dashboard test and the alert test start both the same way.
Every process is stopped when its context ends; every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import require

__all__ = ["free_port", "get", "prometheus", "query", "stop", "wait_for", "watch"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[Any], timeout: float = 15) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return int(proc.returncode)


@contextmanager
def watch(
    topology: Path, log: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`netcheck watch TOPOLOGY --listen 127.0.0.1:0 ARGS`; yields (process, its port)."""
    command = [sys.executable, "-m", "netcheck", "watch", str(topology)]
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*command, "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        port = None
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", log.read_text())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        assert port is not None, log.read_text()
        yield proc, port
    finally:
        stop(proc)


@contextmanager
def prometheus(tmp: Path, targets: Sequence[int], rule_files: Sequence[Path] = ()) -> Iterator[int]:
    """A Prometheus scraping the watchers on `targets` (job "netcheck", every second,
    evaluating `rule_files` every second); yields its port once its API answers."""
    binary = shutil.which("prometheus")
    require(binary is not None, "Debian's prometheus is not installed (apt-get install prometheus)")
    assert binary is not None
    port = free_port()
    config = tmp / "prometheus.yml"
    listed = ", ".join(f"'127.0.0.1:{p}'" for p in targets)
    rules = "".join(f"  - {json.dumps(str(r))}\n" for r in rule_files)
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        + (f"rule_files:\n{rules}" if rules else "")
        + "scrape_configs:\n"
        "  - job_name: netcheck\n"
        f"    static_configs: [{{targets: [{listed}]}}]\n"
    )
    log = tmp / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env={**os.environ, "HOME": str(tmp)},
        )
    try:
        wait_for(lambda: _ready(port), 30, lambda: log.read_text(), proc)
        yield port
    finally:
        code = stop(proc)
        assert code in (0, -signal.SIGTERM), log.read_text()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def wait_for(
    ok: Any, seconds: float, why: Any, *procs: subprocess.Popen[Any], step: float = 0.25
) -> None:
    """Poll `ok()` until true, at most `seconds`; fail with `why()` (and if a process died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"exited {p.returncode}: {why()}"
        if ok():
            return
        time.sleep(step)
    raise AssertionError(f"not within {seconds} s: {why()}")


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:  # loopback only
        return json.loads(resp.read())


def query(prom: int, expr: str) -> list[dict[str, Any]]:
    q = urllib.parse.urlencode({"query": expr})
    data = get(f"http://127.0.0.1:{prom}/api/v1/query?{q}")
    assert data["status"] == "success", data
    return list(data["data"]["result"])
