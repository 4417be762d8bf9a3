"""What every dashboard page needs: the services, the session codec, the
templates. Built once by ``create_ui`` and kept on the sub-application."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from flowjobs import __version__
from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import ApiKey, JobState
from flowjobs.manager import JobManager
from flowjobs.rules import RuleService
from flowjobs.ui import formatting
from flowjobs.ui.session import COOKIE, Session, SessionCodec
from flowjobs.ui.views import FlowSummary, flow_summaries
from flowjobs.usage import UsageService
from flowjobs.webhooks import WebhookService

PACKAGE = Path(__file__).parent
STATIC = PACKAGE / "static"
TEMPLATES = PACKAGE / "templates"


class Services(Protocol):
    """The part of the API's application state the dashboard uses."""

    @property
    def settings(self) -> Settings: ...

    @property
    def manager(self) -> JobManager: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def usage(self) -> UsageService: ...

    @property
    def rules(self) -> RuleService: ...

    @property
    def webhooks(self) -> WebhookService: ...

    def take_start_token(self, key: ApiKey) -> None:
        """Take one start of this key's rate (FLOWJOBS_START_RATE_PER_KEY);
        raises RateLimitedError (429) when it is spent."""


def _asset_versions() -> dict[str, str]:
    """A content hash per static file, put in its URL so browsers may cache
    assets for long and still never run an old script after an upgrade."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in STATIC.iterdir()
        if path.is_file()
    }


def _templates(prefix: str) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters.update(
        duration=formatting.duration,
        timestamp=formatting.timestamp,
        iso=formatting.iso,
        pretty_json=formatting.pretty_json,
    )
    versions = _asset_versions()
    env.globals.update(
        base=prefix,
        version=__version__,
        states=[s.value for s in JobState],
        asset=lambda name: f"{prefix}/static/{name}?v={versions.get(name, '0')}",
    )
    return templates


@dataclass
class Ui:
    settings: Settings
    services: Callable[[], Services]
    codec: SessionCodec
    prefix: str
    templates: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        self.templates = _templates(self.prefix)

    @property
    def manager(self) -> JobManager:
        return self.services().manager

    @property
    def catalog(self) -> Catalog:
        return self.services().catalog

    @property
    def usage(self) -> UsageService:
        return self.services().usage

    @property
    def rules(self) -> RuleService:
        return self.services().rules

    @property
    def webhooks(self) -> WebhookService:
        return self.services().webhooks

    def take_start_token(self, key: ApiKey) -> None:
        """A dashboard start or rerun counts against the key's start rate, as
        the API's do (else the dashboard was a way around it)."""
        self.services().take_start_token(key)

    async def flows(self, space_id: str) -> list[FlowSummary]:
        """The space's rules, each with all its versions."""
        return flow_summaries(await self.rules.list_rules(space_id))

    def url(self, path: str) -> str:
        return self.prefix + path

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        status: int = 200,
        session: Session | None = None,
    ) -> Response:
        """A page; with ``session``, its CSRF token for the page's forms."""
        values = {
            "csrf": session.csrf if session else "",
            "refresh_ms": int(self.settings.ui_refresh_seconds * 1000),
            **context,
        }
        return self.templates.TemplateResponse(request, template, values, status_code=status)

    def set_session(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.codec.dumps(session),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=self.prefix,
        )
