"""Dependencies of the dashboard's pages: who is signed in, and the posted form
(read within the body limit, its CSRF token checked)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from flowjobs.domain import ApiKey, KeyKind, Space
from flowjobs.errors import (
    BadRequestError,
    CsrfTokenError,
    PayloadTooLargeError,
    SignInRequiredError,
    UnsupportedCharacterError,
)
from flowjobs.ui.context import Ui
from flowjobs.ui.session import COOKIE, Session, csrf_matches

FORM = "application/x-www-form-urlencoded"


def get_ui(request: Request) -> Ui:
    ui: Ui = request.app.state.ui
    return ui


UiDep = Annotated[Ui, Depends(get_ui)]


def cookie_session(request: Request, ui: UiDep) -> Session | None:
    return ui.codec.loads(request.cookies.get(COOKIE))


SessionDep = Annotated[Session | None, Depends(cookie_session)]


@dataclass(frozen=True)
class Viewer:
    """The signed-in Management key, its space, and the session's CSRF token."""

    key: ApiKey
    space: Space
    session: Session


async def signed_in(ui: UiDep, session: SessionDep) -> Viewer:
    """The session's key, checked again on every request: a key that was
    revoked or deleted since sign-in ends the session."""
    if session is None or session.key_id is None:
        raise SignInRequiredError()
    key = await ui.catalog.active_key(session.key_id)
    if key is None or key.kind is not KeyKind.MANAGEMENT:
        raise SignInRequiredError()
    space = await ui.catalog.space(key.space_id)
    return Viewer(key, space, session)


ViewerDep = Annotated[Viewer, Depends(signed_in)]


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The form is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLargeError(f"The form is larger than {limit} bytes")
    return bytes(body)


async def posted_form(request: Request, ui: UiDep, session: SessionDep) -> dict[str, str]:
    """The form's fields, after its CSRF token was found to be this session's.
    A POST without the token (no form at all, or a body of another type) or
    with another session's answers 403."""
    fields: dict[str, str] = {}
    if request.headers.get("content-type", "").split(";")[0].strip() == FORM:
        body = await _read_limited(request, ui.settings.max_body_bytes)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequestError("The form could not be read") from exc
        fields = dict(pairs)
        if any("\x00" in text for pair in pairs for text in pair):
            # names of flows and versions reach the database as text (see api/url_check.py)
            raise UnsupportedCharacterError("The form holds a NUL character (U+0000)")
    if not csrf_matches(session, fields.get("csrf")):
        raise CsrfTokenError()
    return fields


FormDep = Annotated[dict[str, str], Depends(posted_form)]
