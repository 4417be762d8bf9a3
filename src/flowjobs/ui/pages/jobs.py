"""Jobs: the space's jobs (filtered, refreshed live), one job, cancel, cancel all."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from flowjobs.domain import JobFilter, JobPage, JobState
from flowjobs.errors import BadRequestError, JobConflictError, RuleNotFoundError
from flowjobs.ui import views
from flowjobs.ui.context import Ui
from flowjobs.ui.deps import FormDep, UiDep, Viewer, ViewerDep
from flowjobs.ui.session import safe_next

router = APIRouter(prefix="/jobs")

PAGE_SIZE = 50
STATE_PARAM = Annotated[list[str], Query(alias="state")]


def _list_query(
    states: list[str], rule: str | None, version: str | None, cursor: str | None
) -> views.ListQuery:
    return views.ListQuery(
        states=views.parse_states(states),
        rule=rule.strip() or None if rule else None,
        version=views.parse_version(version),
        cursor=cursor or None,
    )


async def _list_context(ui: Ui, viewer: Viewer, query: views.ListQuery) -> dict[str, Any]:
    # a version alone names nothing: it filters the jobs of one flow
    version = query.version if query.rule else None
    filters = JobFilter(states=query.states, rule=query.rule, version=version)
    try:
        page = await ui.manager.list_jobs(
            viewer.space.id, filters, limit=PAGE_SIZE, cursor=query.cursor
        )
    except RuleNotFoundError:  # a flow typed into the URL that does not exist
        page = JobPage(jobs=[], next_cursor=None)
    flows = await ui.flows(viewer.space.id)
    return {
        "viewer": viewer,
        "query": query,
        "rows": views.job_rows(page.jobs, flows, datetime.now(UTC)),
        "next_cursor": page.next_cursor,
        "flows": flows,
        "version_ignored": query.version is not None and version is None,
    }


@router.get("", name="jobs")
async def jobs_page(
    request: Request,
    ui: UiDep,
    viewer: ViewerDep,
    states: STATE_PARAM = [],  # noqa: B006 (FastAPI copies defaults)
    rule: str | None = None,
    version: str | None = None,
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    query = _list_query(states, rule, version, cursor)
    context = await _list_context(ui, viewer, query)
    context |= {"page": "jobs", "notice": _notice(done, request.query_params)}
    return ui.render(request, "jobs.html", context, session=viewer.session)


@router.get("/rows", name="job_rows")
async def job_rows(
    request: Request,
    ui: UiDep,
    viewer: ViewerDep,
    states: STATE_PARAM = [],  # noqa: B006
    rule: str | None = None,
    version: str | None = None,
    cursor: str | None = None,
) -> Response:
    """The rows of the Jobs table alone: what the page's script refreshes."""
    context = await _list_context(ui, viewer, _list_query(states, rule, version, cursor))
    return ui.render(request, "_job_rows.html", context, session=viewer.session)


def _notice(done: str | None, params: Any) -> str | None:
    """The message after an action that redirected here (no text comes from the URL)."""
    counts = {k: params.get(k, "0") for k in ("canceled", "canceling")}
    if done != "cancel-all" or not all(v.isdigit() for v in counts.values()):
        return None
    return (
        f"{counts['canceled']} waiting jobs canceled, "
        f"{counts['canceling']} running jobs asked to stop."
    )


@router.get("/cancel-all", name="cancel_all_confirm")
async def cancel_all_confirm(
    request: Request,
    ui: UiDep,
    viewer: ViewerDep,
    rule: str | None = None,
    version: str | None = None,
) -> Response:
    """The confirmation page of a cancel-all (of the space, or of a rule version)."""
    number = views.parse_version(version)
    flows = await ui.flows(viewer.space.id)
    flow = views.find_flow(flows, rule) if rule else None
    if rule and (flow is None or number is None):
        return await _cancel_all_unknown(request, ui, viewer, rule)
    scope = JobFilter(states=frozenset({JobState.WAITING, JobState.RUNNING}))
    if flow is not None:
        scope = JobFilter(states=scope.states, rule=flow.base_id, version=number)
    affected = await ui.manager.list_jobs(viewer.space.id, scope, limit=200)
    context = {
        "page": "jobs",
        "viewer": viewer,
        "flow": flow,
        "version": number,
        "waiting": sum(j.state is JobState.WAITING for j in affected.jobs),
        "running": sum(j.state is JobState.RUNNING for j in affected.jobs),
        "more": affected.next_cursor is not None,
    }
    return ui.render(request, "cancel_all.html", context, session=viewer.session)


async def _cancel_all_unknown(request: Request, ui: Ui, viewer: Viewer, rule: str) -> Response:
    context = {
        "viewer": viewer,
        "status": 404,
        "title": "Not Found",
        "detail": f"No version of a flow {rule[:100]!r} to cancel the jobs of.",
    }
    return ui.render(request, "error.html", context, status=404, session=viewer.session)


@router.post("/cancel-all")
async def cancel_all(ui: UiDep, form: FormDep, viewer: ViewerDep) -> Response:
    running = form.get("running") == "on"
    if form.get("rule"):
        version = views.parse_version(form.get("version"))
        if version is None:
            raise BadRequestError("Cancel all of a flow needs its version")
        result = await ui.manager.cancel_all_of_rule(
            viewer.key, form["rule"], str(version), include_running=running
        )
        counts = result.counts
    else:
        counts = await ui.manager.cancel_all_in_space(
            viewer.key, viewer.space.id, include_running=running
        )
    done = urlencode(
        {"done": "cancel-all", "canceled": counts.canceled, "canceling": counts.canceling}
    )
    return RedirectResponse(ui.url(f"/jobs?{done}"), status_code=303)


@router.get("/{job_id}", name="job")
async def job_page(request: Request, ui: UiDep, viewer: ViewerDep, job_id: str) -> Response:
    context = await _job_context(ui, viewer, job_id)
    context["page"] = "jobs"
    return ui.render(request, "job.html", context, session=viewer.session)


@router.get("/{job_id}/live", name="job_live")
async def job_live(request: Request, ui: UiDep, viewer: ViewerDep, job_id: str) -> Response:
    """The changing part of the job page alone: what the page's script refreshes."""
    context = await _job_context(ui, viewer, job_id)
    return ui.render(request, "_job_live.html", context, session=viewer.session)


async def _job_context(ui: Ui, viewer: Viewer, job_id: str) -> dict[str, Any]:
    job = await ui.manager.info(viewer.key, job_id)
    details = await ui.manager.details(viewer.key, job_id)
    now = datetime.now(UTC)
    trace = details.trace or {}
    return {
        "viewer": viewer,
        "row": views.job_row(job, await _alias(ui, viewer, job.base_id), now),
        "deliveries": await _deliveries(ui, viewer, job.id),
        "job": job,
        "timeline": views.timeline(trace.get("entries", []), now),
        "summarised": trace.get("summarised", {}),
        "trace_total": trace.get("totalEntries", 0),
        "logs": details.logs,
        "logs_dropped": details.logs_dropped,
    }


async def _alias(ui: Ui, viewer: Viewer, base_id: str) -> str:
    """The alias of a job's rule (its baseId if the rule was deleted since)."""
    try:
        return (await ui.rules.get(viewer.space.id, base_id, None)).alias
    except RuleNotFoundError:
        return base_id


async def _deliveries(ui: Ui, viewer: Viewer, job_id: str) -> views.Deliveries | None:
    """The job's webhook deliveries; None when the space has no webhook (and
    the job had none): the page then shows no webhook section at all."""
    hooks = await ui.webhooks.list_webhooks(viewer.space.id)
    found = await ui.webhooks.job_deliveries(viewer.space.id, job_id)
    if not hooks and not found:
        return None
    return views.Deliveries(found, {hook.id: hook.alias for hook in hooks})


@router.post("/{job_id}/rerun", name="job_rerun")
async def rerun(ui: UiDep, form: FormDep, viewer: ViewerDep, job_id: str) -> Response:
    """A new job with the same flow version and input; its page opens (429
    page when the key's start rate is spent)."""
    ui.take_start_token(viewer.key)
    job = await ui.manager.rerun(viewer.key, job_id)
    return RedirectResponse(ui.url(f"/jobs/{job.id}"), status_code=303)


@router.post("/{job_id}/cancel", name="job_cancel")
async def cancel(ui: UiDep, form: FormDep, viewer: ViewerDep, job_id: str) -> Response:
    with contextlib.suppress(JobConflictError):  # it ended meanwhile: the page shows how
        await ui.manager.cancel(viewer.key, job_id)
    back = safe_next(form.get("back"), ui.prefix)
    return RedirectResponse(back, status_code=303)
