"""What the real processes say: a start-up line (version, address, worker
mode, redacted database URL, concurrency) for ``serve``, ``serve
--no-worker`` and ``worker``; an access log that is off unless asked; a
shutdown line with what was drained. And ``demo``: it binds its port before
it prints anything, and a second run reuses its space, keys and flows."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.processes import Proc, flowjobs, free_port, running, wait_for, wait_until_healthy

GRACE = {"FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "0"}


@pytest.fixture
def url(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'lines.db'}"
    flowjobs(database, "init")
    return database


def by_action(proc: Proc, action: str) -> list[dict[str, Any]]:
    return [line for line in proc.log_lines() if line.get("action") == action]


def test_serve_says_where_it_listens_and_what_it_runs(url: str, tmp_path: Path) -> None:
    port = free_port()
    with running(url, "serve", "--port", str(port), log_dir=tmp_path, name="s", port=port) as proc:
        (line,) = by_action(proc, "listen")
        httpx.get(f"{proc.base_url}/healthz")
        assert proc.stop() == 0 or proc.process.returncode == -signal.SIGTERM
    assert line["version"] and line["url"] == f"http://127.0.0.1:{port}"
    assert line["mode"] == "API and embedded worker" and line["concurrency"] == 16
    assert line["database"] == url and line["accessLog"] is False
    assert f"listening on http://127.0.0.1:{port}" in line["message"]
    assert not [entry for entry in proc.log_lines() if entry["logger"] == "uvicorn.access"]
    (stopped,) = [e for e in by_action(proc, "stopped") if e["logger"] == "flowjobs.worker"]
    assert (stopped["finished"], stopped["canceled"]) == (0, 0)
    assert by_action(proc, "stopped")[-1]["logger"] == "flowjobs.serve"  # the last line


def test_serve_without_worker_says_so_and_logs_requests_when_asked(
    tmp_path: Path,
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'api.db'}"
    flowjobs(sqlite, "init")
    port = free_port()
    args = ("serve", "--no-worker", "--port", str(port), "--access-log")
    with running(sqlite, *args, log_dir=tmp_path, name="api", port=port) as proc:
        httpx.get(f"{proc.base_url}/healthz")
        wait_for(lambda: [e for e in proc.log_lines() if e["logger"] == "uvicorn.access"])
        (line,) = by_action(proc, "listen")
        proc.stop()
    assert line["mode"] == "API only (no worker)" and line["concurrency"] is None
    assert line["accessLog"] is True
    access = [e for e in proc.log_lines() if e["logger"] == "uvicorn.access"]
    assert any('"GET /healthz HTTP/1.1" 200' in e["message"] for e in access)
    assert by_action(proc, "stopped")[-1]["mode"] == "API only (no worker)"


def test_a_worker_says_it_runs_and_what_it_drained(url: str, tmp_path: Path) -> None:
    with running(url, "worker", "--concurrency", "3", log_dir=tmp_path, name="w") as proc:
        wait_for(lambda: by_action(proc, "listen"))
        wait_for(lambda: by_action(proc, "start"))
        proc.stop()
    (line,) = by_action(proc, "listen")
    assert (line["mode"], line["concurrency"], line["url"]) == ("worker", 3, None)
    assert line["database"] == url
    worker_stop = [e for e in by_action(proc, "stopped") if e["logger"] == "flowjobs.worker"]
    assert worker_stop[0]["canceled"] == 0
    assert by_action(proc, "stopped")[-1]["mode"] == "worker"


# ---- demo ------------------------------------------------------------------------------


def demo_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")} | GRACE


@contextmanager
def demo(folder: Path, port: int) -> Iterator[Proc]:
    log_path = folder / f"demo-{port}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowjobs", "demo", "--port", str(port)],
            cwd=folder,
            env=demo_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    proc = Proc(process, log_path, f"http://127.0.0.1:{port}")
    try:
        wait_until_healthy(proc, timeout=60)
        yield proc
    finally:
        proc.stop()


def printed_key(proc: Proc) -> str:
    for line in proc.log_path.read_text().splitlines():
        if line.strip().startswith("export KEY="):
            return line.strip().removeprefix("export KEY=")
    raise AssertionError(proc.log_path.read_text())


def test_demo_on_a_busy_port_prints_one_line_and_creates_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "flowjobs", "demo", "--port", str(port)],
            cwd=tmp_path,
            env=demo_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: the address is already in use: "
        "stop the process that uses it, or pick another --port"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database, no key file


def test_demo_run_again_reuses_its_space_keys_and_flows(tmp_path: Path) -> None:
    with demo(tmp_path, free_port()) as first:
        key = printed_key(first)
        started = httpx.post(
            f"{first.base_url}/job/start/sleepy-echo",
            headers={"Authorization": f"Bearer {key}"},
            json={"name": "Ada"},
            timeout=10,
        )
        assert started.status_code == 200, started.text
    with demo(tmp_path, free_port()) as second:
        assert printed_key(second) == key
        answer = httpx.get(
            f"{second.base_url}/job/{started.json()['jobId']}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert answer.status_code == 200
    database = f"sqlite:///{tmp_path / 'flowjobs-demo.db'}"
    assert len(flowjobs(database, "key", "list", "--space", "demo", "--json")["keys"]) == 2
    rules = flowjobs(database, "rule", "list", "--space", "demo", "--json")["rules"]
    assert {r["version"] for r in rules} == {1}
    assert len(flowjobs(database, "space", "list", "--json")["spaces"]) == 1
    saved = json.loads((tmp_path / "flowjobs-demo.key").read_text())
    assert saved["solverKey"] == key
    assert (tmp_path / "flowjobs-demo.key").stat().st_mode & 0o077 == 0  # owner only
