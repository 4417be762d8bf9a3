"""Flows: the space's rules and versions, one flow's document and recent jobs,
and starting a job with a JSON input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from flowjobs.domain import JobFilter
from flowjobs.errors import FlowjobsError, NotFoundError
from flowjobs.ui import views
from flowjobs.ui.context import Ui
from flowjobs.ui.deps import FormDep, UiDep, Viewer, ViewerDep
from flowjobs.ui.formatting import flow_yaml
from flowjobs.ui.tables import decision_grid

router = APIRouter(prefix="/flows")

RECENT_JOBS = 10


@router.get("", name="flows")
async def flows_page(request: Request, ui: UiDep, viewer: ViewerDep) -> Response:
    context = {"page": "flows", "viewer": viewer, "flows": await ui.flows(viewer.space.id)}
    return ui.render(request, "flows.html", context, session=viewer.session)


async def _flow_context(
    ui: Ui, viewer: Viewer, identifier: str, version: int | None
) -> dict[str, Any]:
    flows = await ui.flows(viewer.space.id)
    flow = views.find_flow(flows, identifier)
    if flow is None:
        raise NotFoundError(f"No flow {identifier[:100]!r} in this space")
    shown = flow.version(version)
    recent = await ui.manager.list_jobs(
        viewer.space.id, JobFilter(rule=flow.base_id), limit=RECENT_JOBS
    )
    return {
        "page": "flows",
        "viewer": viewer,
        "flow": flow,
        "shown": shown,
        # PyYAML is pure Python: a large flow takes seconds, off the event loop
        "document": await asyncio.to_thread(flow_yaml, shown.document),
        "grid": decision_grid(shown.document),
        "rows": views.job_rows(recent.jobs, flows, datetime.now(UTC)),
        "input_text": "{}",
        "start_version": (flow.published or flow.versions)[-1].version,
        "error": None,
        "problems": [],
    }


@router.get("/{identifier}", name="flow")
async def flow_page(
    request: Request, ui: UiDep, viewer: ViewerDep, identifier: str, version: str | None = None
) -> Response:
    context = await _flow_context(ui, viewer, identifier, views.parse_version(version))
    return ui.render(request, "flow.html", context, session=viewer.session)


@router.post("/{identifier}/start", name="flow_start")
async def start(
    request: Request, ui: UiDep, form: FormDep, viewer: ViewerDep, identifier: str
) -> Response:
    """Start a job; a bad input or a refused start shows the form again with
    the reason next to it (and the text as typed), never an error page."""
    text = form.get("input", "")
    try:
        version = views.parse_version(form.get("version"))
        input_data = views.parse_input(text)
        ui.take_start_token(viewer.key)
        job = await ui.manager.start(
            viewer.key, identifier, None if version is None else str(version), input_data
        )
    except (views.InputError, FlowjobsError) as exc:
        if isinstance(exc, FlowjobsError) and not _shown_inline(exc):
            raise
        return await _start_refused(request, ui, viewer, identifier, form, exc)
    return RedirectResponse(ui.url(f"/jobs/{job.id}"), status_code=303)


def _shown_inline(exc: FlowjobsError) -> bool:
    """Refusals about what was typed or chosen (a 4xx other than sign-in)."""
    return 400 <= exc.status < 500 and exc.status not in (401, 403)


def _problems(exc: Exception) -> list[str]:
    """Every problem an error lists (a flow's, or an input schema's mismatches)."""
    problems = getattr(exc, "problems", None)
    return [str(p) for p in problems] if isinstance(problems, list) else []


async def _start_refused(
    request: Request, ui: Ui, viewer: Viewer, identifier: str, form: dict[str, str], exc: Exception
) -> Response:
    context = await _flow_context(ui, viewer, identifier, None)
    status = exc.status if isinstance(exc, FlowjobsError) else 400
    context |= {
        "input_text": form.get("input", ""),
        "start_version": form.get("version") or context["start_version"],
        "error": exc.message if isinstance(exc, FlowjobsError) else str(exc),
        "problems": _problems(exc),
    }
    return ui.render(request, "flow.html", context, status=status, session=viewer.session)
