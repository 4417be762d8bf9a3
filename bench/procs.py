"""Background processes of a measurement (servers, workers): started in their
own process group with their output in a log file, and always stopped at the
end of the block (SIGTERM to the group, SIGKILL after a bounded wait)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
STOP_SECONDS = 15
_running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of a process the bench starts: bench/ importable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{BENCH}{os.pathsep}{path}" if path else str(BENCH)
    return env | dict(extra)


@contextmanager
def spawn(
    name: str, args: list[str], env: Mapping[str, str], log_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """``args`` in the background until the block ends; its output goes to
    ``log_dir/name.log``, whose tail is shown if it dies early."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, env=child_env(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    _running[name] = (process, log_path)
    try:
        yield process
    finally:
        _running.pop(name, None)
        stop(process)


def assert_alive() -> None:
    """Raises if a process started with :func:`spawn` has exited inside its block."""
    for name, (process, log_path) in list(_running.items()):
        if process.poll() is not None:
            text = log_path.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{text}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_SECONDS)
    _signal_group(process, signal.SIGKILL)  # children that outlived their parent too
    if process.poll() is None:
        process.wait(timeout=STOP_SECONDS)


def kill_group(pid: int) -> None:
    """SIGKILL a spawned process and its children at once (when nothing of
    its shutdown matters and waiting for its grace period would only cost time)."""
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def tail(log_dir: Path, name: str, chars: int = 1500) -> str:
    path = log_dir / f"{name}.log"
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def wait_until(
    check: Callable[[], bool], what: str, timeout: float, interval: float = 0.05
) -> None:
    """Calls ``check`` until it is true; raises after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        if check():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s")


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log_dir: Path, name: str, timeout: float = 60
) -> None:
    """Waits for ``url`` to answer 200, or fails with the log's tail."""

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail(log_dir, name)}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, f"{name} healthy at {url}", timeout, interval=0.1)
    except TimeoutError as exc:
        raise RuntimeError(f"{exc}\n{tail(log_dir, name)}") from exc
