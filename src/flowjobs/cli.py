"""The ``flowjobs`` command line. Builds the settings once and passes them down."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr, ValidationError

from flowjobs.catalog import Catalog, Keep
from flowjobs.config import Settings
from flowjobs.domain import (
    KeyKind,
    KeyListing,
    RuleVersion,
    Space,
    Webhook,
    WebhookEvent,
    WorkerInfo,
)
from flowjobs.engine import load_flow_file
from flowjobs.errors import FlowjobsError, FlowValidationError
from flowjobs.logs import redact, setup_logging
from flowjobs.runtime import Services, build_services
from flowjobs.schemas import SpaceUsage, WebhookCreate, WebhookPublic
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
app.add_typer(space_app, name="space")
app.add_typer(key_app, name="key")
app.add_typer(rule_app, name="rule")
app.add_typer(webhook_app, name="webhook")

DEMO_FLOWS = Path(__file__).parent / "demo_flows"
DEMO_SECRET_KEY = Path("flowjobs-demo.key")  # beside the demo database
DEFAULT_DB = Settings.model_fields["database_url"].default
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]
SpaceOpt = Annotated[str, typer.Option("--space", help="the space's id or name")]


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="overrides FLOWJOBS_DATABASE_URL")
    ] = None,
) -> None:
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    setup_logging(settings.log_level, as_json=settings.json_logs)
    ctx.obj = settings


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
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the database schema."""
    upgrade(ctx.obj.database_url)
    typer.echo(f"schema is up to date in {redact(ctx.obj.database_url)}")


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
    for k in listings:
        revoked = "active" if k.revoked_at is None else f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S}"
        created = f"{k.created_at:%Y-%m-%d %H:%M:%S}"
        typer.echo(f"{k.key.id}  {k.key.kind.value:<10}  {created}  {revoked}  {k.key.name}")


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


def _serve_http(settings: Settings, host: str, port: int, *, run_worker: bool) -> None:
    # Imported here: the HTTP stack is half of the start-up time of every
    # other command.
    from flowjobs.api.app import create_app

    _run_uvicorn(create_app(settings, run_worker=run_worker), host, port)


def _run_uvicorn(app: Any, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        app, host=host, port=port, access_log=False, log_config=None, timeout_graceful_shutdown=5
    )


@app.command()
def serve(
    ctx: typer.Context,
    host: str = "127.0.0.1",
    port: int = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="serve the API only")] = False,
) -> None:
    """Serve the Jobs API (with an embedded worker unless --no-worker)."""
    settings: Settings = ctx.obj
    upgrade(settings.database_url)
    run_worker = not (no_worker or settings.jobs_server_disabled)
    _serve_http(settings, host, port, run_worker=run_worker)


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
) -> None:
    """Run jobs only (no API)."""
    settings: Settings = ctx.obj
    if burst and metrics_port is not None:
        raise typer.BadParameter("--burst exits when the queue is empty: no --metrics-port")
    upgrade(settings.database_url)
    if metrics_port is None:
        asyncio.run(_run_worker(settings, concurrency, burst))
        return
    from flowjobs.api.app import create_worker_app

    _run_uvicorn(create_worker_app(settings, concurrency=concurrency), host, metrics_port)


async def _run_worker(settings: Settings, concurrency: int | None, burst: bool) -> None:
    services = build_services(settings)
    the_worker = services.worker(concurrency=concurrency, burst=burst)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(
            sig, lambda: stopping.append(asyncio.create_task(the_worker.shutdown()))
        )
    the_worker.start()
    try:
        await the_worker.wait_stopped()
    finally:
        await services.close()


@app.command()
def demo(ctx: typer.Context, port: int = 8000, host: str = "127.0.0.1") -> None:
    """Set up a demo space, key and flows, then serve them with a worker."""
    settings: Settings = ctx.obj
    if "FLOWJOBS_DATABASE_URL" not in os.environ and settings.database_url == DEFAULT_DB:
        settings = settings.model_copy(update={"database_url": "sqlite:///./flowjobs-demo.db"})
    if settings.secret_key is None:
        settings = settings.model_copy(update={"secret_key": demo_secret_key(DEMO_SECRET_KEY)})
    upgrade(settings.database_url)
    secret, management, aliases = asyncio.run(_prepare_demo(settings))
    _print_demo(secret, aliases, f"http://{host}:{port}")
    typer.echo(
        f"Dashboard: http://{host}:{port}/ui   sign in with the Management key\n  {management}\n"
    )
    _serve_http(settings, host, port, run_worker=True)


def demo_secret_key(path: Path) -> SecretStr:
    """The demo's key for webhook secrets: made once, kept in ``path`` (owner
    only) so that webhooks created in one demo run still work in the next."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(new_key() + "\n")
    return SecretStr(path.read_text().strip())


async def _prepare_demo(settings: Settings) -> tuple[str, str, list[str]]:
    services = build_services(settings, pool_size=2)
    catalog = services.catalog
    try:
        space = await services.store.find_space("demo") or await catalog.create_space(
            "demo", parallel_limit=4
        )
        created = await catalog.create_key(space.id, KeyKind.SOLVER, "demo key")
        management = await catalog.create_key(space.id, KeyKind.MANAGEMENT, "demo dashboard")
        aliases = []
        for path in sorted(DEMO_FLOWS.glob("*.yaml")):
            rule = await catalog.push_rule(space.id, load_flow_file(path), publish=True)
            aliases.append(rule.alias)
        return created.secret, management.secret, aliases
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
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


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
    found = _with_services(ctx, lambda s: s.manager.list_workers(include_dead=include_all))
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


def main() -> None:
    app()
