"""Map every error to an RFC 9457 problem details response."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowjobs.errors import FlowjobsError
from flowjobs.schemas import Problem

log = logging.getLogger("flowjobs.api")

PROBLEM_JSON = "application/problem+json"
# Headers that go with a status: how to authenticate, when to come back.
_STATUS_HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 429: {"Retry-After": "1"}}


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    problems: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://flowjobs.dev/problems/{code.lower().replace('_', '-')}",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        problems=problems,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


async def _flowjobs_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FlowjobsError)
    return flowjobs_problem(exc)


def flowjobs_problem(exc: FlowjobsError) -> JSONResponse:
    """The problem response of a flowjobs error (a 5xx is logged with a reference)."""
    if exc.status >= 500:
        reference = uuid.uuid4().hex[:12]
        log.error("request failed", exc_info=exc, extra={"reference": reference})
        return problem_response(exc.status, exc.code, f"{exc.message} (reference {reference})")
    problems = getattr(exc, "problems", None)  # FlowValidationError, InvalidInputError
    headers = _STATUS_HEADERS.get(exc.status)
    retry_after = getattr(exc, "retry_after", None)  # RateLimitedError, TooManyWaitingJobsError
    if retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
    return problem_response(exc.status, exc.code, exc.message, problems=problems, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    ]
    return problem_response(400, "INVALID_REQUEST", "; ".join(problems), problems=problems)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return problem_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


def unexpected_problem(exc: Exception) -> JSONResponse:
    """The 500 problem of an error no handler knows (logged with a reference)."""
    reference = uuid.uuid4().hex[:12]
    log.error("unexpected error", exc_info=exc, extra={"reference": reference})
    return problem_response(500, "INTERNAL_ERROR", f"Internal error (reference {reference})")


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    return unexpected_problem(exc)


def install(app: FastAPI) -> None:
    app.add_exception_handler(FlowjobsError, _flowjobs_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
