"""Shared parts of the command line.

The typer apps, common options, the root callback, error reporting, tables,
and the runners that hand a command the catalog or the services.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from flowjobs import __version__
from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.diagnose import Diagnosis, diagnose
from flowjobs.errors import FlowjobsError, FlowValidationError
from flowjobs.logs import setup_logging
from flowjobs.runtime import Services, build_services

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

DEMO_FLOWS = Path(__file__).parent.parent / "demo_flows"
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
