"""Operations: liveness, readiness and Prometheus metrics (no API key)."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from flowjobs.api.deps import AppState, get_state
from flowjobs.api.problems import problem_response, problem_responses
from flowjobs.errors import StoreError, UnauthorizedError
from flowjobs.metrics import CONTENT_TYPE, QueueRow

router = APIRouter(tags=["ops"])
log = logging.getLogger("flowjobs.api")
StateDep = Annotated[AppState, Depends(get_state)]


@router.get("/health", summary="Liveness (kept for older health checks; same as /healthz)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/healthz", summary="Liveness: 200 while the process runs")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is current",
    responses=problem_responses(503),
)
async def readyz(state: StateDep) -> JSONResponse:
    problems = await state.readiness()
    if problems:
        return problem_response(503, "NOT_READY", "; ".join(problems), problems=problems)
    return JSONResponse({"status": "ready"})


def check_metrics_token(state: AppState, request: Request) -> None:
    token = state.settings.metrics_token
    if token is None:
        return
    sent = request.headers.get("authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise UnauthorizedError("GET /metrics needs the metrics token (FLOWJOBS_METRICS_TOKEN)")


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process; queue gauges from the database",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, **problem_responses(401)},
)
async def metrics(state: StateDep, request: Request) -> Response:
    check_metrics_token(state, request)
    queue: list[QueueRow] | None
    try:
        queue = await state.manager.queue_depths()
    except StoreError:
        log.warning("queue depth not read", extra={"action": "metrics"}, exc_info=True)
        queue = None
    waiters = state.manager.watcher.subscribers
    return Response(state.metrics.render(queue, waiters), media_type=CONTENT_TYPE)
