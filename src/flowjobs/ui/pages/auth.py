"""Sign-in with a Management key, and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from flowjobs.domain import KeyKind
from flowjobs.errors import UnauthorizedError
from flowjobs.ui.deps import FormDep, SessionDep, UiDep
from flowjobs.ui.session import safe_next

router = APIRouter()

WRONG_KEY = "That key is not valid. Paste a Management API key (it starts with fjm_)."
SOLVER_KEY = (
    "That is a Solver key, which only starts and reads jobs. "
    "The dashboard needs a Management API key of the space (it starts with fjm_)."
)


@router.get("/login", name="login")
async def login_page(
    request: Request, ui: UiDep, session: SessionDep, next: str | None = None
) -> Response:
    """The sign-in form, with a CSRF token of a not-yet-signed-in session."""
    fresh = session or ui.codec.new()
    context = {"next": safe_next(next, ui.prefix), "error": None, "page": "login"}
    response = ui.render(request, "login.html", context, session=fresh)
    if session is None:
        ui.set_session(request, response, fresh)
    return response


@router.post("/login")
async def login(request: Request, ui: UiDep, form: FormDep) -> Response:
    secret = form.get("key", "").strip()
    target = safe_next(form.get("next"), ui.prefix)
    try:
        key = await ui.catalog.authenticate(secret) if secret else None
    except UnauthorizedError:
        key = None
    if key is None or key.kind is not KeyKind.MANAGEMENT:
        error, status = (WRONG_KEY, 401) if key is None else (SOLVER_KEY, 403)
        session = ui.codec.new()
        context = {"next": target, "error": error, "page": "login"}
        response = ui.render(request, "login.html", context, status=status, session=session)
        ui.set_session(request, response, session)
        return response
    response = RedirectResponse(target, status_code=303)
    ui.set_session(request, response, ui.codec.new(key.id))
    return response


@router.post("/logout", name="logout")
async def logout(request: Request, ui: UiDep, form: FormDep) -> Response:
    response = RedirectResponse(ui.url("/login"), status_code=303)
    ui.set_session(request, response, ui.codec.new())  # signed out: a key-less session
    return response
