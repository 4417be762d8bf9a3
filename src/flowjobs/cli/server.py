"""Server commands: init, flow-schema, serve, worker, demo, workers, prune."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import time
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from flowjobs.cli.common import (
    DEFAULT_DB,
    DEMO_FLOWS,
    DEMO_SECRET_KEY,
    JsonOpt,
    _emit,
    _iso,
    _with_services,
    app,
)
from flowjobs.config import Settings
from flowjobs.domain import (
    KeyKind,
    Space,
    WorkerInfo,
)
from flowjobs.engine import load_flow_file
from flowjobs.errors import ConfigurationError
from flowjobs.keys import hash_secret
from flowjobs.logs import redact
from flowjobs.runtime import Services, build_services, check_sql_connections
from flowjobs.serving import ListenError, StartLine, listen, log_stopped
from flowjobs.serving import serve as serve_app
from flowjobs.store import upgrade
from flowjobs.webhooks import new_key


@app.command()
def init(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create or upgrade the database schema."""
    upgrade(ctx.obj.database_url)
    url = redact(ctx.obj.database_url)
    _emit(as_json, {"databaseUrl": url, "upToDate": True}, f"schema is up to date in {url}")


@app.command("flow-schema")
def flow_schema() -> None:
    """Print the JSON Schema of flow documents (docs/flow-schema.json)."""
    from flowjobs.engine.schema import flow_json_schema_text

    typer.echo(flow_json_schema_text(), nl=False)


AccessLogOpt = Annotated[
    bool | None,
    typer.Option(
        "--access-log/--no-access-log",
        envvar="FLOWJOBS_ACCESS_LOG",
        help="a line per HTTP request (default: off for serve, on for demo)",
        show_default=False,
    ),
]


def _listening(host: str, port: int) -> socket.socket:
    """The bound socket, or one line and exit code 2 (a busy port, say)."""
    try:
        return listen(host, port)
    except ListenError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _serve_http(
    settings: Settings, sock: socket.socket, line: StartLine, *, run_worker: bool
) -> None:
    # Imported here: the HTTP stack is half of the start-up time of every
    # other command.
    from flowjobs.api.app import create_app

    _run_http(create_app(settings, run_worker=run_worker), sock, line, settings)


def _run_http(app: Any, sock: socket.socket, line: StartLine, settings: Settings) -> None:
    from flowjobs.api.read_timeouts import protocol_with_read_timeouts

    # uvicorn times no request's headers or body (api/read_timeouts.py)
    http = protocol_with_read_timeouts(
        settings.header_timeout_seconds, settings.body_timeout_seconds
    )
    serve_app(app, sock, line, http=http)


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


@app.command()
def serve(
    ctx: typer.Context,
    host: str = "127.0.0.1",
    port: int = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="serve the API only")] = False,
    access_log: AccessLogOpt = None,
) -> None:
    """Serve the Jobs API (with an embedded worker unless --no-worker)."""
    settings: Settings = ctx.obj
    sock = _listening(host, port)
    upgrade(settings.database_url)
    run_worker = not (no_worker or settings.jobs_server_disabled)
    line = StartLine(
        "API and embedded worker" if run_worker else "API only (no worker)",
        redact(settings.database_url),
        settings.concurrency if run_worker else None,
        _url(sock),
        bool(access_log),
    )
    if run_worker:
        _check_sql_connections(settings)
    _serve_http(settings, sock, line, run_worker=run_worker)


def _check_sql_connections(settings: Settings) -> None:
    """Before serving with a worker: one line and status 1 for a named SQL
    connection the worker would refuse (the app's start-up refuses it too,
    but uvicorn adds a traceback)."""
    try:
        asyncio.run(check_sql_connections(settings))
    except ConfigurationError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def worker(
    ctx: typer.Context,
    concurrency: Annotated[int | None, typer.Option(min=1, max=1000)] = None,
    burst: Annotated[bool, typer.Option("--burst", help="exit when the queue is empty")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="serve /metrics, /healthz and /readyz on this port (not the API)"),
    ] = None,
    host: Annotated[str, typer.Option(help="address for --metrics-port")] = "127.0.0.1",
    access_log: AccessLogOpt = None,
) -> None:
    """Run jobs only (no API)."""
    settings: Settings = ctx.obj
    if burst and metrics_port is not None:
        raise typer.BadParameter("--burst exits when the queue is empty: no --metrics-port")
    sock = None if metrics_port is None else _listening(host, metrics_port)
    upgrade(settings.database_url)
    mode = "worker, exits when the queue is empty" if burst else "worker"
    line = StartLine(
        mode if sock is None else f"{mode} with /metrics, /healthz and /readyz",
        redact(settings.database_url),
        concurrency or settings.concurrency,
        None if sock is None else _url(sock),
        None if sock is None else bool(access_log),
    )
    if sock is None:
        started = time.monotonic()
        line.log()
        try:
            asyncio.run(_run_worker(settings, concurrency, burst))
        except ConfigurationError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from exc
        log_stopped(line.mode, started)
        return
    _check_sql_connections(settings)
    from flowjobs.api.app import create_worker_app

    _run_http(create_worker_app(settings, concurrency=concurrency), sock, line, settings)


async def _run_worker(settings: Settings, concurrency: int | None, burst: bool) -> None:
    services = build_services(settings)
    try:
        the_worker = await services.start_worker(concurrency=concurrency, burst=burst)
    except ConfigurationError:
        await services.close()
        raise
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(
            sig, lambda: stopping.append(asyncio.create_task(the_worker.shutdown()))
        )
    try:
        await the_worker.wait_stopped()
    finally:
        await services.close()


DEMO_SPACE = "demo"


@app.command()
def demo(
    ctx: typer.Context, port: int = 8000, host: str = "127.0.0.1", access_log: AccessLogOpt = None
) -> None:
    """Set up a demo space, key and flows, then serve them with a worker.
    Run again, it reuses them (the keys' secrets are kept in flowjobs-demo.key)."""
    settings: Settings = ctx.obj
    sock = _listening(host, port)  # before anything is printed or created
    if "FLOWJOBS_DATABASE_URL" not in os.environ and settings.database_url == DEFAULT_DB:
        settings = settings.model_copy(update={"database_url": "sqlite:///./flowjobs-demo.db"})
    saved = DemoFile.read(DEMO_SECRET_KEY)
    if settings.secret_key is None:
        settings = settings.model_copy(update={"secret_key": saved.secret_key()})
    upgrade(settings.database_url)
    keys, aliases = asyncio.run(_prepare_demo(settings, saved))
    saved.save(keys)
    base = _url(sock)
    _print_demo(keys.solver, aliases, base)
    typer.echo(f"Dashboard: {base}/ui   sign in with the Management key\n  {keys.management}\n")
    line = StartLine(
        "demo: API and embedded worker",
        redact(settings.database_url),
        settings.concurrency,
        base,
        True if access_log is None else access_log,
    )
    _serve_http(settings, sock, line, run_worker=True)


@dataclass(frozen=True)
class DemoKeys:
    solver: str
    management: str


@dataclass
class DemoFile:
    """``flowjobs-demo.key`` beside the demo database, owner-only: the key
    that encrypts webhook secrets and the demo keys' secrets, so that a second
    run reuses them (the database holds only their hashes). An older file
    holds the encryption key alone, on one line."""

    path: Path
    data: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> DemoFile:
        if not path.exists():
            return cls(path, {})
        text = path.read_text().strip()
        try:
            data = json.loads(text)
        except ValueError:
            data = {"secretKey": text}
        return cls(path, {k: v for k, v in data.items() if isinstance(v, str)})

    def secret_key(self) -> SecretStr:
        if "secretKey" not in self.data:
            self.data["secretKey"] = new_key()
            self._write()
        return SecretStr(self.data["secretKey"])

    def keys(self) -> DemoKeys | None:
        solver, management = self.data.get("solverKey"), self.data.get("managementKey")
        return None if not (solver and management) else DemoKeys(solver, management)

    def save(self, keys: DemoKeys) -> None:
        if self.keys() != keys:
            self.data |= {"solverKey": keys.solver, "managementKey": keys.management}
            self._write()

    def _write(self) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(json.dumps(self.data, indent=2) + "\n")


def demo_secret_key(path: Path) -> SecretStr:
    """The demo's key for webhook secrets: made once, kept in ``path`` (owner
    only) so that webhooks created in one demo run still work in the next."""
    return DemoFile.read(path).secret_key()


async def _demo_keys(services: Services, space: Space, saved: DemoFile) -> DemoKeys:
    """The saved keys when both still work in the demo space, else new ones."""
    keys = saved.keys()
    if keys is not None:
        found = [await services.store.find_key(hash_secret(s)) for s in astuple(keys)]
        wanted = [(space.id, KeyKind.SOLVER), (space.id, KeyKind.MANAGEMENT)]
        if [None if k is None else (k.space_id, k.kind) for k in found] == wanted:
            return keys
    solver = await services.catalog.create_key(space.id, KeyKind.SOLVER, "demo key")
    management = await services.catalog.create_key(space.id, KeyKind.MANAGEMENT, "demo dashboard")
    return DemoKeys(solver.secret, management.secret)


async def _prepare_demo(settings: Settings, saved: DemoFile) -> tuple[DemoKeys, list[str]]:
    services = build_services(settings, pool_size=2)
    catalog = services.catalog
    try:
        space = await services.store.find_space(DEMO_SPACE) or await catalog.create_space(
            DEMO_SPACE, parallel_limit=4
        )
        keys = await _demo_keys(services, space, saved)
        aliases = []
        for path in sorted(DEMO_FLOWS.glob("*.yaml")):
            # unchanged flows stay the version they are (push_rule)
            rule = await catalog.push_rule(space.id, load_flow_file(path), publish=True)
            aliases.append(rule.alias)
        return keys, aliases
    finally:
        await services.close()


def _print_demo(secret: str, aliases: list[str], base: str) -> None:
    auth = f'-H "Authorization: Bearer {secret}"'
    typer.echo(f"""
flowjobs demo: serving {base} with flows {", ".join(aliases)}

  export KEY={secret}

Start a job (answers at once with its jobId):
  curl -s -X POST {base}/job/start/sleepy-echo {auth} \\
       -H "Content-Type: application/json" -d '{{"name": "Ada"}}'

Read it (WAITING, then RUNNING, then COMPLETED after about 3 s):
  curl -s {base}/job/JOB_ID {auth}

Start a long one and cancel it while it runs:
  curl -s -X POST {base}/job/start/slow-report {auth} -d '{{}}'
  curl -s -X POST {base}/job/cancel/JOB_ID {auth}

A job that fails with a clear error:
  curl -s -X POST {base}/job/start/order-check {auth} -d '{{"orderId": "A1", "items": []}}'

API document: {base}/docs   (Ctrl-C stops the server)
""")


# ---- workers and prune ------------------------------------------------------------


def _worker_json(w: WorkerInfo) -> dict[str, Any]:
    return {
        "id": w.id,
        "host": w.host,
        "pid": w.pid,
        "concurrency": w.concurrency,
        "running": w.running,
        "startedAt": _iso(w.started_at),
        "lastHeartbeatAt": _iso(w.last_heartbeat_at),
        "stoppedAt": _iso(w.stopped_at),
        "alive": w.alive,
    }


def _worker_line(w: WorkerInfo) -> str:
    state = "alive" if w.alive else ("stopped" if w.stopped_at else "dead")
    return (
        f"{w.host:<20} {w.pid:>7}  {w.started_at:%Y-%m-%d %H:%M:%S}  "
        f"{w.last_heartbeat_at:%Y-%m-%d %H:%M:%S}  "
        f"{w.running:>4}/{w.concurrency:<4} {state:<7} {w.id}"
    )


@app.command("workers")
def workers_command(
    ctx: typer.Context,
    include_all: Annotated[
        bool, typer.Option("--all", help="include stopped and dead workers")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the worker processes (live ones unless --all); times are UTC."""
    found = _with_services(ctx, lambda s: s.manager.workers.list_workers(include_dead=include_all))
    header = (
        f"{'HOST':<20} {'PID':>7}  {'STARTED':<19}  {'LAST HEARTBEAT':<19}  "
        f"{'RUN/CONC':<9} {'STATE':<7} ID"
    )
    text = "\n".join([header, *(_worker_line(w) for w in found)])
    _emit(as_json, {"workers": [_worker_json(w) for w in found]}, text)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h`` or ``90m`` as a timedelta."""
    match = _DURATION.match(text)
    if match is None:
        raise typer.BadParameter(f"{text!r}: expected a number and d, h or m, like 30d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@app.command()
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="age of finished jobs to delete: 30d, 12h, 90m")
    ],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 5000,
    as_json: JsonOpt = False,
) -> None:
    """Delete finished jobs (COMPLETED, CANCELED, ERROR) that ended before the cutoff."""
    age = parse_age(older_than)
    before = datetime.now(UTC) - age
    deleted = _with_services(ctx, lambda s: s.manager.prune(age, batch_size=batch_size))
    _emit(
        as_json,
        {"deleted": deleted, "endedBefore": before.isoformat()},
        f"deleted {deleted} finished jobs that ended before {before:%Y-%m-%d %H:%M:%S} UTC",
    )
