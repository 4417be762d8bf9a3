"""Job commands, through the Jobs API of a running server (an API client)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import typer

from flowjobs.cli.common import (
    JsonOpt,
    T,
    _emit,
    job_app,
    table,
)
from flowjobs.client import (
    DEFAULT_URL,
    JobFilter,
    JobsApiError,
    JobsClient,
    JobsClientError,
    WaitTimeout,
)
from flowjobs.domain import (
    JobState,
)
from flowjobs.logs import redact
from flowjobs.schemas import Job

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
