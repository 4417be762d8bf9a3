"""The ``flowjobs`` command line. Builds the settings once and passes them down."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from pydantic import SecretStr, ValidationError

from flowjobs import __version__
from flowjobs.catalog import Catalog, Keep, document_problems
from flowjobs.client import (
    DEFAULT_URL,
    JobFilter,
    JobsApiError,
    JobsClient,
    JobsClientError,
    WaitTimeout,
)
from flowjobs.config import Settings
from flowjobs.diagnose import Diagnosis, diagnose
from flowjobs.domain import (
    JobState,
    KeyKind,
    KeyListing,
    RuleVersion,
    Space,
    Webhook,
    WebhookEvent,
    WorkerInfo,
)
from flowjobs.engine import load_flow_file
from flowjobs.errors import ConfigurationError, FlowjobsError, FlowValidationError
from flowjobs.keys import hash_secret
from flowjobs.logs import redact, setup_logging
from flowjobs.runtime import Services, build_services, check_sql_connections
from flowjobs.schemas import Job, SpaceUsage, WebhookCreate, WebhookPublic
from flowjobs.serving import ListenError, StartLine, listen, log_stopped
from flowjobs.serving import serve as serve_app
from flowjobs.store import upgrade
from flowjobs.webhooks import CreatedWebhook, new_key

T = TypeVar("T")

app = typer.Typer(
    help="flowjobs: a Jobs API server for long-running integration flows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
space_app = typer.Typer(help="Manage spaces.", no_args_is_help=True)
key_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
rule_app = typer.Typer(
    help="Manage rules (integration flows, decision tables, rule flows).", no_args_is_help=True
)
webhook_app = typer.Typer(help="Manage webhooks (docs/webhooks.md).", no_args_is_help=True)
job_app = typer.Typer(
    help="Jobs, through the Jobs API of a running server (FLOWJOBS_URL, FLOWJOBS_KEY).",
    no_args_is_help=True,
)
app.add_typer(space_app, name="space")
app.add_typer(key_app, name="key")
app.add_typer(rule_app, name="rule")
app.add_typer(webhook_app, name="webhook")
app.add_typer(job_app, name="job")

DEMO_FLOWS = Path(__file__).parent / "demo_flows"
DEMO_SECRET_KEY = Path("flowjobs-demo.key")  # beside the demo database
DEFAULT_DB = Settings.model_fields["database_url"].default
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]
SpaceOpt = Annotated[str, typer.Option("--space", help="the space's id or name")]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"flowjobs {__version__}")
        raise typer.Exit()


def _debugging() -> bool:
    """``--debug`` or ``FLOWJOBS_LOG_LEVEL=DEBUG``: errors keep their traceback."""
    level = os.environ.get("FLOWJOBS_LOG_LEVEL", "").strip().upper()
    return "--debug" in sys.argv[1:] or level == "DEBUG"


def _settings_problems(exc: ValidationError) -> str:
    return "; ".join(
        f"FLOWJOBS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
    )


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="overrides FLOWJOBS_DATABASE_URL")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="log at DEBUG; errors show their traceback")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"error: invalid setting: {_settings_problems(exc)}", err=True)
        raise typer.Exit(2) from None
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    if debug:
        settings = settings.model_copy(update={"log_level": "DEBUG"})
    setup_logging(settings.log_level, as_json=settings.json_logs)
    ctx.obj = settings


def _explain(diagnosis: Diagnosis, exc: BaseException) -> typer.Exit:
    """Print the one line (and, when debugging, the traceback); exit code 2."""
    if _debugging():
        traceback.print_exception(exc, file=sys.stderr)
    typer.echo(diagnosis.line(), err=True)
    return typer.Exit(2)


def _with_catalog(ctx: typer.Context, action: Callable[[Catalog], Awaitable[T]]) -> T:
    settings: Settings = ctx.obj

    async def run() -> T:
        services = build_services(settings, pool_size=2)
        try:
            return await action(services.catalog)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except FlowValidationError as exc:
        typer.echo("error: the flow is not valid:", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1) from exc
    except FlowjobsError as exc:
        raise _failed(exc, settings) from exc


def _failed(exc: FlowjobsError, settings: Settings) -> typer.Exit:
    """A known database or configuration mistake: one line, exit 2; any
    other error of flowjobs: its message, exit 1."""
    diagnosis = diagnose(exc, settings.database_url)
    if diagnosis is not None:
        return _explain(diagnosis, exc)
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(1)


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)


def table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, a header row first (also when
    there are no rows, so an empty table still says what it lists)."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


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


QuotaOpt = Annotated[
    str | None,
    typer.Option(
        "--quota-seconds",
        help="free execution seconds a month (UTC), or 'unlimited' (the default)",
        metavar="N|unlimited",
    ),
]


def parse_quota(text: str) -> float | None:
    """``--quota-seconds``: a number of seconds, zero or more, or ``unlimited`` (None)."""
    if text.strip().lower() == "unlimited":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise typer.BadParameter(
            f"{text!r}: expected seconds (0 or more) or 'unlimited'", param_hint="--quota-seconds"
        )
    return seconds


def _space_json(space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "name": space.name,
        "parallelLimit": space.parallel_limit,
        "priority": space.priority,
        "quotaSeconds": space.quota_seconds,
        "payAsYouGo": space.pay_as_you_go,
    }


def _billing_text(space: Space) -> str:
    quota = "unlimited" if space.quota_seconds is None else f"{space.quota_seconds:g} s a month"
    return f"quota {quota}, pay-as-you-go {'on' if space.pay_as_you_go else 'off'}"


@space_app.command("create")
def space_create(
    ctx: typer.Context,
    name: str,
    parallel_limit: Annotated[int, typer.Option(min=1, max=10000)] = 1,
    priority: Annotated[int, typer.Option(min=0, max=10)] = 0,
    quota_seconds: QuotaOpt = None,
    pay_as_you_go: Annotated[
        bool, typer.Option("--pay-as-you-go", help="jobs still start past the quota")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a space."""
    quota = None if quota_seconds is None else parse_quota(quota_seconds)
    space = _with_catalog(
        ctx,
        lambda c: c.create_space(
            name,
            parallel_limit=parallel_limit,
            priority=priority,
            quota_seconds=quota,
            pay_as_you_go=pay_as_you_go,
        ),
    )
    _emit(as_json, _space_json(space), f"space {space.name} created: {space.id}")


@space_app.command("update")
def space_update(
    ctx: typer.Context,
    space: Annotated[str, typer.Argument(help="the space's id or name")],
    quota_seconds: QuotaOpt = None,
    pay_as_you_go: Annotated[
        bool | None,
        typer.Option("--pay-as-you-go/--no-pay-as-you-go", help="jobs still start past the quota"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a space's monthly quota and pay-as-you-go."""
    if quota_seconds is None and pay_as_you_go is None:
        typer.echo(
            "error: nothing to change: give --quota-seconds and/or "
            "--pay-as-you-go / --no-pay-as-you-go",
            err=True,
        )
        raise typer.Exit(2)
    quota = Keep.KEEP if quota_seconds is None else parse_quota(quota_seconds)
    updated = _with_catalog(
        ctx,
        lambda c: c.update_space_billing(space, quota_seconds=quota, pay_as_you_go=pay_as_you_go),
    )
    _emit(as_json, _space_json(updated), f"space {updated.name}: {_billing_text(updated)}")


@space_app.command("list")
def space_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the spaces: name, id, parallel limit, priority, quota."""
    found = _with_catalog(ctx, lambda c: c.list_spaces())
    rows = [
        [
            space.name,
            space.id,
            str(space.parallel_limit),
            str(space.priority),
            _billing_text(space),
        ]
        for space in found
    ]
    text = table(["NAME", "ID", "PARALLEL", "PRIORITY", "BILLING"], rows)
    _emit(as_json, {"spaces": [_space_json(space) for space in found]}, text)


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    space: SpaceOpt,
    kind: Annotated[KeyKind, typer.Option(case_sensitive=False)] = KeyKind.SOLVER,
    name: Annotated[str | None, typer.Option(help="a label for the key")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; its secret is printed once and never stored."""
    created = _with_catalog(ctx, lambda c: c.create_key(space, kind, name))
    data = {
        "id": created.key.id,
        "key": created.secret,
        "kind": created.key.kind.value,
        "spaceId": created.key.space_id,
    }
    _emit(
        as_json,
        data,
        f"{kind.value} key {created.key.id}: {created.secret}\n(shown once: store it now)",
    )


def _key_json(listing: KeyListing) -> dict[str, Any]:
    revoked = listing.revoked_at
    return {
        "id": listing.key.id,
        "name": listing.key.name,
        "kind": listing.key.kind.value,
        "spaceId": listing.key.space_id,
        "createdAt": listing.created_at.isoformat(),
        "revokedAt": None if revoked is None else revoked.isoformat(),
    }


@key_app.command("list")
def key_list(ctx: typer.Context, space: SpaceOpt, as_json: JsonOpt = False) -> None:
    """List a space's keys: id, name, kind, created, revoked (never a secret)."""
    listings = _with_catalog(ctx, lambda c: c.list_keys(space))
    if as_json:
        typer.echo(json.dumps({"keys": [_key_json(k) for k in listings]}))
        return
    rows = [
        [
            k.key.id,
            k.key.kind.value,
            f"{k.created_at:%Y-%m-%d %H:%M:%S}",
            "active" if k.revoked_at is None else f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S}",
            k.key.name or "",
        ]
        for k in listings
    ]
    typer.echo(table(["ID", "KIND", "CREATED (UTC)", "STATE", "NAME"], rows))


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="the key's id (flowjobs key list)")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: every server refuses it within a second (401)."""
    _with_catalog(ctx, lambda c: c.revoke_key(key_id))
    _emit(as_json, {"id": key_id, "revoked": True}, f"key {key_id} revoked")


def _rule_json(rule: RuleVersion) -> dict[str, Any]:
    return {
        "baseId": rule.base_id,
        "ruleAlias": rule.alias,
        "version": rule.version,
        "status": rule.status.value,
    }


@rule_app.command("push")
def rule_push(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a flow document (.yaml, .yml or .json)")],
    space: SpaceOpt,
    publish: Annotated[bool, typer.Option("--publish", help="publish this version")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Push a flow or a DecisionRules rule (an exported decision table): a new
    rule, or a new version when it changed."""

    async def push(catalog: Catalog) -> RuleVersion:
        return await catalog.push_rule(space, load_flow_file(file), publish=publish)

    rule = _with_catalog(ctx, push)
    _emit(
        as_json,
        _rule_json(rule),
        f"{rule.alias} version {rule.version} ({rule.status.value}): {rule.base_id}",
    )


@rule_app.command("list")
def rule_list(ctx: typer.Context, space: SpaceOpt, as_json: JsonOpt = False) -> None:
    """List every version of the space's rules: alias, version, status, baseId."""

    async def versions(services: Services) -> list[RuleVersion]:
        return await services.rules.list_rules((await services.catalog.space(space)).id)

    found = _with_services(ctx, versions)
    rows = [[r.alias, str(r.version), r.status.value, r.type, r.base_id, r.name] for r in found]
    text = table(["ALIAS", "VERSION", "STATUS", "TYPE", "BASE ID", "NAME"], rows)
    _emit(as_json, {"rules": [_rule_json(r) | {"name": r.name} for r in found]}, text)


@rule_app.command("validate")
def rule_validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a flow document (.yaml, .yml or .json)")],
    as_json: JsonOpt = False,
) -> None:
    """Check a flow document without a server or database: its shape, rule
    fields and the engine's checks (calls to other flows are checked at push).
    Exit code 1 when it has problems."""
    try:
        document = load_flow_file(file)
    except FlowValidationError as exc:
        problems = exc.problems
    except FlowjobsError as exc:
        problems = [exc.message]
    else:
        problems, _ = document_problems(ctx.obj, document)
    text = (
        f"{file}: valid"
        if not problems
        else "\n".join([f"{file}: {len(problems)} problem(s)", *(f"  - {p}" for p in problems)])
    )
    _emit(as_json, {"file": str(file), "valid": not problems, "problems": problems}, text)
    if problems:
        raise typer.Exit(1)


def _load_export(file: Path) -> Any:
    """An export file: JSON (or YAML, by its suffix), whatever its top level."""
    try:
        text = file.read_text(encoding="utf-8")
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(1) from exc


@rule_app.command("import")
def rule_import(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="an export: a rule, a rule flow with its rules, a folder")
    ],
    space: SpaceOpt,
    as_json: JsonOpt = False,
) -> None:
    """Import rules exported from DecisionRules (or by `flowjobs rule export`).
    A rule whose alias exists gets a new version; others are created."""
    exported = _load_export(file)

    async def run(services: Services) -> list[RuleVersion]:
        found = await services.catalog.space(space)
        return await services.rules.import_rules(found.id, exported)

    imported = _with_services(ctx, run)
    if as_json:
        typer.echo(json.dumps({"rules": [_rule_json(rule) for rule in imported]}))
        return
    for rule in imported:
        typer.echo(f"{rule.alias} version {rule.version} ({rule.status.value}): {rule.base_id}")


@rule_app.command("export")
def rule_export(
    ctx: typer.Context,
    space: SpaceOpt,
    identifier: Annotated[
        str | None, typer.Argument(help="a rule's id or alias; default: every rule (a folder)")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="default: the highest")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Export a rule (a rule flow with its rules), or every rule of the space as
    a folder export, in DecisionRules' format (`flowjobs rule import` reads it)."""

    async def run(services: Services) -> Any:
        found = await services.catalog.space(space)
        if identifier is None:
            return await services.rules.export_space(found.id, found.name)
        return await services.rules.export(found.id, identifier, version)

    text = json.dumps(_with_services(ctx, run), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


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


def _with_services(ctx: typer.Context, action: Callable[[Services], Awaitable[T]]) -> T:
    settings: Settings = ctx.obj

    async def run() -> T:
        services = build_services(settings, pool_size=2)
        try:
            return await action(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except FlowjobsError as exc:
        raise _failed(exc, settings) from exc


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


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


def _usage_text(usage: SpaceUsage) -> str:
    def seconds(value: float | None) -> str:
        return "unlimited" if value is None else f"{value:g} s"

    counts = ", ".join(f"{state} {n}" for state, n in usage.jobCounts.model_dump().items())
    return "\n".join(
        [
            f"space {usage.spaceName} ({usage.spaceId}), {usage.month} (UTC)",
            f"used       {seconds(usage.usedSeconds)}",
            f"billed     {seconds(usage.billedSeconds)}",
            f"quota      {seconds(usage.quotaSeconds)}, "
            f"pay-as-you-go {'on' if usage.payAsYouGo else 'off'}",
            f"remaining  {seconds(usage.remainingSeconds)}",
            f"jobs       {counts}",
        ]
    )


@app.command("usage")
def usage_command(
    ctx: typer.Context,
    space: Annotated[str, typer.Argument(help="the space's id or name")],
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM (UTC); default: the current month")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a space's execution seconds (used, billed, remaining) and jobs by state."""
    report = _with_services(ctx, lambda s: s.usage.report(space, month))
    usage = SpaceUsage.from_report(report)
    _emit(as_json, usage.model_dump(mode="json"), _usage_text(usage))


# ---- webhooks ------------------------------------------------------------------------


def _webhook_line(hook: Webhook) -> str:
    state = "enabled" if hook.enabled else "disabled"
    rules = "all flows" if hook.base_ids is None else f"{len(hook.base_ids)} flow(s)"
    events = ",".join(e.value for e in hook.events)
    return f"{hook.alias:<24} {state:<8} {events:<40} {rules:<10} {hook.url}  {hook.id}"


@webhook_app.command("create")
def webhook_create(
    ctx: typer.Context,
    space: SpaceOpt,
    url: Annotated[str, typer.Option("--url", help="where events are POSTed (http or https)")],
    alias: Annotated[str, typer.Option("--alias", help="unique in the space")],
    event: Annotated[
        list[WebhookEvent] | None,
        typer.Option("--event", help="an event to send (repeat it); default: all three"),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="a flow's id or alias (repeat it); default: every flow"),
    ] = None,
    description: Annotated[str | None, typer.Option(help="a note for people")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="create it switched off")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a webhook; its signing secret is printed once."""
    try:
        spec = WebhookCreate(
            url=url,
            alias=alias,
            enabled=not disabled,
            description=description,
            events=event or list(WebhookEvent),
            rules=rule or "all",
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(1) from None

    async def create(services: Services) -> CreatedWebhook:
        found = await services.catalog.space(space)
        return await services.webhooks.create(found.id, spec)

    created = _with_services(ctx, create)
    data = WebhookPublic.from_webhook(created.webhook).model_dump(mode="json")
    _emit(
        as_json,
        data | {"secret": created.secret},
        f"webhook {created.webhook.alias} created: {created.webhook.id}\n"
        f"signing secret: {created.secret}\n(shown once: store it now)",
    )


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, space: SpaceOpt, as_json: JsonOpt = False) -> None:
    """List the webhooks of a space."""

    async def find(services: Services) -> list[Webhook]:
        return await services.webhooks.list_webhooks((await services.catalog.space(space)).id)

    found = _with_services(ctx, find)
    data = {"webhooks": [WebhookPublic.from_webhook(w).model_dump(mode="json") for w in found]}
    header = f"{'ALIAS':<24} {'STATE':<8} {'EVENTS':<40} {'FLOWS':<10} URL  ID"
    _emit(as_json, data, "\n".join([header, *(_webhook_line(w) for w in found)]))


@webhook_app.command("delete")
def webhook_delete(
    ctx: typer.Context,
    space: SpaceOpt,
    webhook: Annotated[str, typer.Argument(help="the webhook's id or alias")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a webhook with its deliveries (pending ones are not sent)."""

    async def delete(services: Services) -> Webhook:
        space_id = (await services.catalog.space(space)).id
        hook = await services.webhooks.get(space_id, webhook)
        await services.webhooks.delete(space_id, hook.id)
        return hook

    hook = _with_services(ctx, delete)
    _emit(as_json, {"deleted": hook.id, "alias": hook.alias}, f"webhook {hook.alias} deleted")


@webhook_app.command("new-key")
def webhook_new_key() -> None:
    """Print a new key for FLOWJOBS_SECRET_KEY (it encrypts webhook secrets)."""
    typer.echo(new_key())


@webhook_app.command("reencrypt")
def webhook_reencrypt(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Encrypt every webhook secret with the first key of FLOWJOBS_SECRET_KEY
    (key rotation: put the new key first, run this, then drop the old key)."""
    count = _with_services(ctx, lambda s: s.webhooks.reencrypt())
    _emit(as_json, {"reencrypted": count}, f"{count} webhook secrets encrypted with the first key")


# ---- jobs, through the API -------------------------------------------------------------

UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="the server (default: FLOWJOBS_URL, else http://127.0.0.1:8000)"),
]
KeyOpt = Annotated[str | None, typer.Option("--key", help="a Solver key (default: FLOWJOBS_KEY)")]
JobIdArg = Annotated[str, typer.Argument(help="the job's id")]
WAIT_TIMED_OUT = 124  # as timeout(1)


def _with_client(url: str | None, key: str | None, action: Callable[[JobsClient], T]) -> T:
    """Run ``action`` with a client; API and connection errors as one line."""
    try:
        with JobsClient(url, key) as client:
            return action(client)
    except JobsApiError as exc:
        typer.echo(f"error: {exc.status} {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    except JobsClientError as exc:  # made before any request: no key
        typer.echo(f"error: {exc}".replace("api_key", "--key"), err=True)
        raise typer.Exit(2) from exc
    except httpx.TransportError as exc:
        where = url or os.environ.get("FLOWJOBS_URL") or DEFAULT_URL
        typer.echo(
            f"error: cannot reach the Jobs API at {redact(where)} ({type(exc).__name__}): "
            "is flowjobs serve running there? (--url or FLOWJOBS_URL)",
            err=True,
        )
        raise typer.Exit(2) from exc


def _job_row(job: Job) -> list[str]:
    ref = job.ruleReference
    return [
        job.jobId,
        job.status.state.value,
        job.status.code.value,
        f"{ref.baseId[:8]} v{ref.version}",
        f"{job.createdAt:%Y-%m-%d %H:%M:%S}",
        job.correlationId,
    ]


_JOB_HEADER = ["JOB ID", "STATE", "CODE", "RULE", "CREATED (UTC)", "CORRELATION ID"]


def _job_text(job: Job) -> str:
    lines = [table(_JOB_HEADER, [_job_row(job)])]
    if job.error is not None:
        lines.append(f"error: {job.error.model_dump_json(exclude_none=True)}")
    if job.output is not None:
        lines.append(f"output: {json.dumps(job.output)}")
    return "\n".join(lines)


def _job_json(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = job.model_dump(mode="json", exclude_unset=True)
    return data


@job_app.command("list")
def job_list(
    state: Annotated[
        list[JobState] | None, typer.Option("--state", help="repeat for several")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="the rule's alias or baseId")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="a version of --rule")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="jobs in this page")] = 50,
    cursor: Annotated[str | None, typer.Option(help="nextCursor of the previous page")] = None,
    url: UrlOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the space's jobs, newest first (a page; --cursor for the next)."""
    filters = JobFilter(state=list(state or []) or None, rule=rule, version=version)
    page = _with_client(url, key, lambda c: c.list(filters, limit=limit, cursor=cursor))
    text = table(_JOB_HEADER, [_job_row(job) for job in page.jobs])
    if page.nextCursor:
        text += f"\nmore: --cursor {page.nextCursor}"
    _emit(as_json, page.model_dump(mode="json", exclude_unset=True), text)


@job_app.command("get")
def job_get(
    job_id: JobIdArg, url: UrlOpt = None, key: KeyOpt = None, as_json: JsonOpt = False
) -> None:
    """Show a job: state, code, rule, output or error."""
    job = _with_client(url, key, lambda c: c.info(job_id))
    _emit(as_json, _job_json(job), _job_text(job))


@job_app.command("cancel")
def job_cancel(
    job_id: JobIdArg, url: UrlOpt = None, key: KeyOpt = None, as_json: JsonOpt = False
) -> None:
    """Cancel a job: a waiting one ends at once, a running one is asked to stop."""
    job = _with_client(url, key, lambda c: c.cancel(job_id))
    _emit(as_json, _job_json(job), _job_text(job))


@job_app.command("wait")
def job_wait(
    job_id: JobIdArg,
    timeout: Annotated[float, typer.Option(min=0, help="seconds to wait at most")] = 60.0,
    url: UrlOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Wait until a job ends. Exit code 0: COMPLETED; 1: ERROR or CANCELED;
    124: still running after --timeout."""

    def wait(client: JobsClient) -> Job:
        try:
            return client.wait(job_id, timeout)
        except WaitTimeout as exc:
            _emit(as_json, _job_json(exc.job), _job_text(exc.job))
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(WAIT_TIMED_OUT) from exc

    job = _with_client(url, key, wait)
    _emit(as_json, _job_json(job), _job_text(job))
    if job.status.state is not JobState.COMPLETED:
        raise typer.Exit(1)


def main() -> None:
    # Errors raised outside the commands' own handlers (the schema upgrade of
    # serve and worker, a URL SQLAlchemy cannot load) get their one line here.
    try:
        app()
    except Exception as exc:
        diagnosis = diagnose(exc, _database_url_in_use())
        if diagnosis is None:
            raise
        sys.exit(_explain(diagnosis, exc).exit_code)


def _database_url_in_use() -> str:
    """The URL the failed command used: --database-url, else the settings'."""
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg == "--database-url" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--database-url="):
            return arg.split("=", 1)[1]
    return os.environ.get("FLOWJOBS_DATABASE_URL") or str(DEFAULT_DB)
