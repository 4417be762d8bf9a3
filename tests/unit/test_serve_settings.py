"""What ``flowjobs serve`` hands uvicorn: the fast event loop and HTTP parser,
and no access log unless asked (docs/operations.md, "The HTTP server")."""

from __future__ import annotations

import inspect
from typing import Any, cast

import pytest
from typer.testing import CliRunner
from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from flowjobs import cli, serving
from flowjobs.config import Settings


def test_serve_runs_uvicorn_with_auto_loop_and_parser() -> None:
    config = serving.uvicorn_config(object(), access_log=False)

    assert config.access_log is False and config.log_config is None
    assert (config.loop, config.http) == ("auto", "auto")
    assert serving.uvicorn_config(object(), access_log=True).access_log is True


def test_serve_has_no_access_log_unless_asked() -> None:
    option = inspect.signature(cli.serve).parameters["access_log"]
    assert option.default is None  # None: off for serve, on for demo
    help_text = CliRunner().invoke(cli.app, ["serve", "--help"]).output
    assert "--access-log" in help_text and "--no-access-log" in help_text


def test_serve_hands_uvicorn_a_protocol_with_read_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def serve_app(app: Any, sock: Any, line: Any, *, http: Any) -> None:
        seen["http"] = http

    monkeypatch.setattr(cli.server, "serve_app", serve_app)
    cli._run_http(object(), cast(Any, None), cast(Any, None), Settings(header_timeout_seconds=3))

    # uvicorn's own choice of parser, with read timeouts (api/read_timeouts.py)
    assert issubclass(seen["http"], AutoHTTPProtocol)
    assert seen["http"].header_timeout == 3
    assert (
        serving.uvicorn_config(object(), access_log=False, http=seen["http"]).http is seen["http"]
    )


def test_uvicorn_picks_uvloop_and_httptools() -> None:
    """``auto`` means uvloop and httptools when installed (uvicorn[standard])."""
    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"
    loop = auto_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
