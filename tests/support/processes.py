"""Run the real ``flowjobs`` command line as subprocesses, as a user would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FLOWS = Path(__file__).parent / "flows"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    env.update(
        {
            "FLOWJOBS_DATABASE_URL": database_url,
            "FLOWJOBS_LOG_FORMAT": "json",
            "FLOWJOBS_HANDLER_PREFIXES": json.dumps(["support"]),
            "PYTHONPATH": str(Path(__file__).parent.parent),
        }
    )
    env.update(extra or {})
    return env


def flowjobs(database_url: str, *args: str, extra_env: Mapping[str, str] | None = None) -> Any:
    """Run one CLI command to completion; parse its stdout as JSON when it is."""
    result = subprocess.run(
        [sys.executable, "-m", "flowjobs", *args],
        env=cli_env(database_url, extra_env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"flowjobs {' '.join(args)} failed: {result.stderr}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        return result.stdout


@dataclass
class Tenant:
    """A space with a Solver key and the test flows pushed and published."""

    space_id: str
    key: str
    management_key: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(database_url: str, name: str, *, parallel_limit: int = 4) -> Tenant:
    space = flowjobs(
        database_url, "space", "create", name, "--parallel-limit", str(parallel_limit), "--json"
    )
    key = flowjobs(database_url, "key", "create", "--space", name, "--json")
    mkey = flowjobs(
        database_url, "key", "create", "--space", name, "--kind", "management", "--json"
    )
    tenant = Tenant(space["id"], key["key"], mkey["key"])
    for path in sorted(FLOWS.glob("*.yaml")):
        rule = flowjobs(
            database_url, "rule", "push", str(path), "--space", name, "--publish", "--json"
        )
        tenant.rules[rule["ruleAlias"]] = rule
    return tenant


@dataclass
class Proc:
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str | None = None

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@contextmanager
def running(
    database_url: str,
    *args: str,
    log_dir: Path,
    name: str,
    extra_env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[Proc]:
    """Start ``flowjobs <args>`` in the background; stop it (SIGTERM, then KILL) after."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowjobs", *args],
            env=cli_env(database_url, extra_env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    proc = Proc(process, log_path)
    if port is not None:
        proc.base_url = f"http://127.0.0.1:{port}"
        wait_until_healthy(proc)
    try:
        yield proc
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def serving(
    database_url: str,
    log_dir: Path,
    *,
    worker: bool = True,
    name: str = "server",
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Proc]:
    port = free_port()
    args = ["serve", "--port", str(port)] + ([] if worker else ["--no-worker"])
    with running(
        database_url, *args, log_dir=log_dir, name=name, extra_env=extra_env, port=port
    ) as proc:
        yield proc


def wait_until_healthy(proc: Proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise AssertionError(f"server exited: {proc.log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{proc.base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become healthy")


def wait_for(predicate: Any, timeout: float = 20, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded in time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
