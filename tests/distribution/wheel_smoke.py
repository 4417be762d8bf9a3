"""CI's packaging check (``make wheel-smoke``, after the tests): the wheel
built by ``python -m build`` installed into fresh virtualenvs.

1. The wheel alone: the client imports, neither FastAPI nor SQLAlchemy is
   installed, and ``flowjobs`` says which extra to install (exit code 2).
2. The wheel with its ``server`` extra: ``flowjobs --version``, then
   ``flowjobs demo`` in an empty folder, and the demo's smoke test
   (tests/distribution/smoke.py, client only) against it.

Every step is bounded in time; exit code 0 when all passed.

    python tests/distribution/wheel_smoke.py dist
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
STEP_SECONDS = 600  # an install of the server's dependencies, at most
CLIENT_ONLY = """
import importlib.util, sys
import flowjobs.client
heavy = [m for m in ("fastapi", "sqlalchemy", "uvicorn", "typer") if importlib.util.find_spec(m)]
sys.exit(f"installed without being asked: {heavy}" if heavy else 0)
"""


def run(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    print("$", " ".join(map(str, args)), flush=True)
    done = subprocess.run(
        list(map(str, args)), text=True, capture_output=True, timeout=STEP_SECONDS, **kw
    )  # type: ignore[call-overload]
    if done.returncode != 0 and kw.get("check", True) is not False:
        sys.exit(f"failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done  # type: ignore[no-any-return]


def venv(where: Path) -> Path:
    run(sys.executable, "-m", "venv", where)
    return where / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the demo exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the demo did not answer in {timeout:g} s:\n{log.read_text()}")


def demo_key(log: Path) -> str:
    for line in log.read_text().splitlines():
        if line.strip().startswith("export KEY="):
            return line.strip().removeprefix("export KEY=")
    sys.exit(f"the demo printed no key:\n{log.read_text()}")


def client_only(wheel: Path, tmp: Path) -> None:
    bin_dir = venv(tmp / "client")
    run(bin_dir / "pip", "install", "--quiet", wheel)
    run(bin_dir / "python", "-c", CLIENT_ONLY)
    done = run(bin_dir / "flowjobs", "space", "list", check=False)
    if done.returncode != 2 or "pip install 'flowjobs[server]'" not in done.stderr:
        sys.exit(f"flowjobs without the server extra: {done.returncode} {done.stderr}")
    print("ok   the wheel alone: client only, flowjobs says to install flowjobs[server]")


def demo_and_smoke(wheel: Path, tmp: Path) -> None:
    bin_dir = venv(tmp / "server")
    run(bin_dir / "pip", "install", "--quiet", f"{wheel}[server]")
    print(run(bin_dir / "flowjobs", "--version").stdout.strip())
    folder, port = tmp / "demo", free_port()
    folder.mkdir()
    log = tmp / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [bin_dir / "flowjobs", "demo", "--port", str(port)],
            cwd=folder,
            env=env | {"FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, demo, log, timeout=120)
        smoke_env = env | {"FLOWJOBS_URL": url, "FLOWJOBS_KEY": demo_key(log)}
        print(run(bin_dir / "python", HERE / "smoke.py", env=smoke_env, cwd=tmp).stdout)
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()


def main(dist: str) -> None:
    wheels = sorted(Path(dist).glob("flowjobs-*.whl"))
    sdists = sorted(Path(dist).glob("flowjobs-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        sys.exit(f"expected one wheel and one sdist in {dist}: {wheels} {sdists}")
    wheel = wheels[0].resolve()
    with tempfile.TemporaryDirectory(prefix="flowjobs-wheel-") as tmp:
        client_only(wheel, Path(tmp))
        demo_and_smoke(wheel, Path(tmp))
    print(f"wheel smoke test passed: {wheel.name}, {sdists[0].name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dist")
