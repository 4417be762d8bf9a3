"""``create_ui``: the dashboard as an application that the API mounts at /ui.

Server-rendered pages (Jinja2), one small script and one style sheet served
from this package: nothing to build. Errors are pages for a browser and
RFC 9457 problem bodies for anything else (scripts, curl).
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from flowjobs.config import Settings
from flowjobs.errors import FlowjobsError, FlowValidationError, SignInRequiredError
from flowjobs.schemas import Problem
from flowjobs.ui.context import STATIC, Services, Ui
from flowjobs.ui.pages import auth, flows, jobs, overview
from flowjobs.ui.session import SessionCodec

log = logging.getLogger("flowjobs.ui")

PROBLEM_JSON = "application/problem+json"
LIVE_HEADER = "x-flowjobs-live"  # set by app.js on its refresh requests
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_ui(
    settings: Settings, services: Callable[[], Services], *, prefix: str = "/ui"
) -> FastAPI:
    """The dashboard; ``services`` gives the running app's manager and catalog
    (they exist only once the API's lifespan has started)."""
    secret = settings.ui_secret.get_secret_value() if settings.ui_secret else None
    codec = SessionCodec(secret or secrets.token_urlsafe(32), settings.ui_session_hours * 3600)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ui = Ui(settings=settings, services=services, codec=codec, prefix=prefix)
    app.middleware("http")(_security_headers)
    app.add_exception_handler(FlowjobsError, _flowjobs_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for page in (auth, overview, jobs, flows):
        app.include_router(page.router)
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.update(SECURITY_HEADERS)
    if request.url.path.startswith(request.scope.get("root_path", "") + "/static/"):
        # asset URLs carry a hash of their content
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-store"  # pages show live, private data
    return response


def _wants_page(request: Request) -> bool:
    return LIVE_HEADER not in request.headers and "text/html" in request.headers.get("accept", "")


def _error(request: Request, status: int, code: str, detail: str, **extra: object) -> Response:
    """An error page for a browser, a problem body for anything else."""
    if _wants_page(request):
        ui: Ui = request.app.state.ui
        context = {"status": status, "title": HTTPStatus(status).phrase, "detail": detail}
        return ui.render(request, "error.html", context | extra, status=status)
    problems = extra.get("problems")
    body = Problem(
        type=f"https://flowjobs.dev/problems/{code.lower().replace('_', '-')}",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        problems=problems if isinstance(problems, list) else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON
    )


async def _flowjobs_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlowjobsError)
    if isinstance(exc, SignInRequiredError) and _wants_page(request):
        ui: Ui = request.app.state.ui
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        back = f"?next={quote(target)}" if request.method == "GET" else ""
        return RedirectResponse(ui.url(f"/login{back}"), status_code=303)
    if exc.status >= 500:
        reference = uuid.uuid4().hex[:12]
        log.error("dashboard request failed", exc_info=exc, extra={"reference": reference})
        return _error(request, exc.status, exc.code, f"{exc.message} (reference {reference})")
    problems = exc.problems if isinstance(exc, FlowValidationError) else None
    return _error(request, exc.status, exc.code, exc.message, problems=problems)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()
    ]
    return _error(request, 400, "INVALID_REQUEST", "; ".join(problems), problems=problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    return _error(request, exc.status_code, code, str(exc.detail))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    reference = uuid.uuid4().hex[:12]
    log.error("unexpected dashboard error", exc_info=exc, extra={"reference": reference})
    return _error(request, 500, "INTERNAL_ERROR", f"Internal error (reference {reference})")
