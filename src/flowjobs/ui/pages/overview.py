"""Overview: jobs per state, what finished in the last 24 h and how long it took."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from flowjobs.domain import JobState
from flowjobs.ui import charts
from flowjobs.ui.deps import UiDep, ViewerDep

router = APIRouter()

HOURS = 24


@router.get("/", name="overview")
async def overview(request: Request, ui: UiDep, viewer: ViewerDep) -> Response:
    counts = await ui.manager.job_counts(viewer.space.id)
    buckets = await ui.manager.finished_per_minute(viewer.space.id, hours=HOURS)
    now = datetime.now(UTC)
    usage = await ui.usage.report(viewer.space.id)
    context = {
        "page": "overview",
        "viewer": viewer,
        "counts": [(state, counts.get(state, 0)) for state in JobState],
        "finished": charts.finished_chart(buckets, now, HOURS),
        "durations": charts.duration_chart(buckets, now, HOURS),
        "hours": charts.hourly(buckets, charts.window_start(now, HOURS), HOURS),
        "usage": usage,
    }
    return ui.render(request, "overview.html", context, session=viewer.session)
